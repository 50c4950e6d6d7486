"""What the two deletions share: permanent (Luật Cư trú Điều 24, ``permanent_residence_deletion``) and temporary
(Điều 29, ``temporary_residence_deletion``) residence registration.

Each case is a row of data (the procedure module's ``CASES``): its legal point, whether the population database
must already record a death, and which rule-set threshold (months) must have run since the event.

Filing window: the person or household files within the rule set's ``deletion_filing_days`` (7) of the event.
Filing later is **not** a refusal: the law obliges the police to delete anyway (ex officio if need be), and
refusing would leave a dead or departed person registered. The late filing becomes a note for the officer
(``deletion_notes``) and is recorded with the deletion (``filed_late``).

Ex officio: when the police detect a case they notify, and a dossier carrying ``police_notice`` is opened; the
workflow waits ``ex_officio_deletion_after_notice_days`` (7) and, if nothing was filed, deletes ex officio.
``notice_window_open`` refuses such a dossier judged before the window closed, so the rule holds whoever starts it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.admin_units import format_address
from domain.calendar import VN_TZ, format_date, local_date
from domain.facts import HouseholdFacts, PersonRecords, RecordFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import DossierCode, PersonalId, Refusal, SubmissionBase
from domain.procedures.common import Details, OfficerId, late_filing_note, received_on, refusal, wrong_authority
from domain.procedures.plan import DeleteRecord, LeaveHousehold, RecordKind, RecordPlan, Step
from domain.procedures.spec import Need, ProcedureSpec
from domain.rulesets import DeadlineCase, Period, PeriodUnit, RuleSet, rules_for

KINDS_VI = {"permanent": "thường trú", "temporary": "tạm trú"}  # the registration deleted, as CT06 names it

Threshold = Literal["absence_months_for_deletion", "housing_ended_months_for_deletion"]


class DeletionCase(BaseModel):
    model_config = ConfigDict(frozen=True)

    point: str  # where the law lists it
    vietnamese: str  # as printed on the result notice (CT08)
    death_recorded: bool = False  # the population database must already record the death
    # The case exists only once this many months (a ``permanent_residence`` rule value) have run since the event.
    waiting_months: Threshold | None = None
    # An absence covered by a temporary residence elsewhere or a temporary-absence declaration is no case.
    absence: bool = False
    # The person must meanwhile hold a permanent residence at the same place (temporary deletion).
    permanent_here: bool = False
    # The residence changed owner: the new owner's consent to the person staying removes the case (Điều 24 khoản 1 g).
    new_owner_may_consent: bool = False
    # An improper registration annulled: recorded within the rule set's annulment deadline (DeadlineCase.ANNULMENT).
    annulment: bool = False
    confirmed: bool = True  # False: the specification marks the case UNCONFIRMED


@dataclass(frozen=True)
class DeletionKind:
    """What differs between the two deletions: the record, the article, the cases and the rule-set windows."""

    record: RecordKind
    basis: str
    cases: Mapping[Any, DeletionCase]  # keyed by the procedure's own case enum
    filing_days: Callable[[RuleSet], int]  # the person or household files within this many days of the event
    notice_days: Callable[[RuleSet], int]  # after a police notice, nothing filed: deleted ex officio


# Luật Cư trú 2020 Điều 24 khoản 1 điểm d: an absence for these reasons is no ground for deletion.
AbsenceReason = Literal["abroad_not_to_settle", "serving_sentence", "compulsory_measure"]


def absence_excepted(case: DeletionCase, reason: AbsenceReason | None) -> bool:
    """Vắng mặt (điểm d) except going abroad not to settle, or serving a sentence or a compulsory measure
    (biện pháp đưa vào cơ sở giáo dục bắt buộc, cai nghiện bắt buộc, trường giáo dưỡng)."""
    return case.absence and reason is not None


def new_owner_consents(case: DeletionCase, submission: SubmissionBase, owner_id: str | None) -> bool:
    """Chỗ ở đã chuyển quyền sở hữu (điểm g): no case when the new owner (the owner the records now show)
    consents to the person keeping their registration there."""
    return case.new_owner_may_consent and owner_id is not None and any(
        c.personal_id == owner_id for c in submission.consents)


def annulment_case(submission: Any, facts: HouseholdFacts) -> DeadlineCase:
    """An improper registration's annulment is recorded within the rule set's annulment deadline (1 working day)."""
    return DeadlineCase.ANNULMENT if case_of(submission).annulment else DeadlineCase.STANDARD


class PoliceNotice(Details):
    """The police detected a deletion case and notified the person or household (thông báo của Công an cấp xã).

    A dossier carrying a notice is opened by the police: if nothing is filed within the days the rule set allows
    after ``notified_on``, the registration is deleted ex officio (xóa đăng ký đương nhiên, with minutes).
    """

    notice_number: str = Field(min_length=1, max_length=40)
    notified_on: date
    officer_id: OfficerId


class CitizenFiling(Details):
    """Signal ``citizen_filed`` to a notice's deletion dossier: the person filed their own dossier in time."""

    dossier_code: DossierCode


class DeletionDetails(Details):
    subject_id: PersonalId | None = Field(
        default=None, description="the person whose registration is deleted, when not the applicant"
    )
    event_date: date = Field(description="when the case arose (death, emigration, decision, end of tenancy …)")
    police_notice: PoliceNotice | None = None
    case: str  # each deletion narrows it to its own cases (a StrEnum)
    absence_reason: AbsenceReason | None = Field(
        default=None, description="an absence case: why the person is away, when the law excepts it (abroad not to "
                                  "settle, serving a sentence, a compulsory measure)")

    @model_validator(mode="after")
    def _notice_after_event(self) -> DeletionDetails:
        if self.police_notice is not None and self.police_notice.notified_on < self.event_date:
            raise ValueError("police_notice.notified_on is before event_date: the police notify a case that arose")
        return self


class DeletionSubmission(SubmissionBase):
    """A deletion's submission; each of the two procedures says which kind of record it deletes."""

    deletion: ClassVar[DeletionKind]
    details: DeletionDetails

    @model_validator(mode="after")
    def _not_after_receipt(self) -> DeletionSubmission:
        received = local_date(self.received_at)
        if self.details.event_date > received:
            raise ValueError("details.event_date is after the dossier was received")
        notice = self.details.police_notice
        if notice is not None and notice.notified_on > received:
            raise ValueError("details.police_notice.notified_on is after the dossier was received")
        return self

    @property
    def subject_id(self) -> str:
        return self.details.subject_id or self.applicant.personal_id

    @property
    def case(self) -> DeletionCase:
        return self.deletion.cases[self.details.case]


def case_of(submission: DeletionSubmission) -> DeletionCase:
    return submission.case


def case_arises_on(submission: DeletionSubmission) -> date:
    """The day the deletion case exists: the event, or the end of the months that must run after it."""
    case = case_of(submission)
    event = submission.details.event_date
    if case.waiting_months is None:
        return event
    months = getattr(rules_for(submission.received_at).permanent_residence, case.waiting_months)
    return Period(amount=months, unit=PeriodUnit.MONTHS).end_from(event)


def notice_window_closes(notice: PoliceNotice, kind: DeletionKind) -> datetime:
    """The instant (start of the next Vietnamese day) after which the police may delete ex officio.

    Judged by the rule set in force on the day of the notice: the window was set when the person was notified.
    """
    last_day = notice.notified_on + timedelta(days=kind.notice_days(rules_for(notice.notified_on)))
    return datetime.combine(last_day + timedelta(days=1), time(0, 0), VN_TZ)


def filed_late(submission: DeletionSubmission) -> bool:
    return _late_note(submission) is not None


def _late_note(submission: DeletionSubmission) -> str | None:
    if submission.details.police_notice is not None:
        return None  # the police's own case: there is no citizen's filing to be late
    kind = submission.deletion
    filing_days = kind.filing_days(rules_for(submission.received_at))
    return late_filing_note(case_arises_on(submission), received_on(submission), filing_days, f"{kind.basis} khoản 2")


def deletion_notes(submission: DeletionSubmission, facts: HouseholdFacts) -> list[str]:
    notes = [note] if (note := _late_note(submission)) else []
    notice = submission.details.police_notice
    if notice is not None:
        notes.append(ex_officio_note(notice.notice_number, notice.notified_on))
    if not case_of(submission).confirmed:
        notes.append(UNCONFIRMED_CASE_NOTE)
    return notes


def ex_officio_note(notice_number: str, notified_on: date) -> str:
    return (f"Ex officio deletion: police notice {notice_number} of {format_date(notified_on)}; "
            "nothing was filed within the days allowed, deletion follows with minutes (biên bản).")


UNCONFIRMED_CASE_NOTE = "This deletion case is not confirmed by the published procedure set: check its legal basis."


def _record(submission: DeletionSubmission, records: PersonRecords | None) -> RecordFacts | None:
    if records is None:
        return None
    return records.permanent if submission.deletion.record == "permanent" else records.temporary


def deletion_refusals(submission: DeletionSubmission, facts: HouseholdFacts) -> list[Refusal]:
    """Xóa đăng ký thường trú (Điều 24) or tạm trú (Điều 29)."""
    basis, kind = submission.deletion.basis, submission.deletion.record
    subject_id = submission.subject_id
    subject = facts.applicant if subject_id == submission.applicant.personal_id else facts.subject
    if subject is None:
        return [refusal("subject_unknown", "The person whose registration is to be deleted is not in the national "
                        "population database; check the personal ID number.", basis,
                        "Người được đề nghị xóa đăng ký cư trú không có thông tin trong Cơ sở dữ liệu quốc gia về dân "
                        "cư; đề nghị kiểm tra lại số định danh cá nhân.")]
    record = _record(submission, facts.records)
    if record is None:
        return [refusal(f"no_{kind}_residence",
                        f"The person holds no active {kind} residence registration: there is nothing to delete.",
                        basis,
                        f"Người này không có đăng ký {KINDS_VI[kind]} còn hiệu lực nên không có nội dung để xóa.")]
    refusals = wrong_authority(submission, record.commune_code, f"the {kind} residence")
    refusals += _filer_refusals(submission, facts, record, basis)
    refusals += _case_refusals(submission, facts, subject.status, record, basis)
    return refusals


def _filer_refusals(submission: DeletionSubmission, facts: HouseholdFacts, record: RecordFacts,
                    basis: str) -> list[Refusal]:
    """The person, a member of their household, or the owner of the residence files (or is notified)."""
    applicant_id = submission.applicant.personal_id
    household = facts.records.household if facts.records else None
    if applicant_id == submission.subject_id or applicant_id == record.owner_id:
        return []
    if household is not None and household.member(applicant_id) is not None:
        return []
    return [refusal("not_entitled_to_file",
                    "Only the person, a member of their household (its representative) or the owner of the "
                    "residence files a deletion; ask one of them to file.", f"{basis} khoản 2",
                    "Chỉ người thuộc trường hợp bị xóa đăng ký, thành viên hộ gia đình (người đại diện hộ gia đình) "
                    "hoặc chủ sở hữu chỗ ở mới được nộp hồ sơ xóa đăng ký; đề nghị một trong những người này nộp hồ "
                    "sơ.")]


def _case_refusals(submission: DeletionSubmission, facts: HouseholdFacts, subject_status: str, record: RecordFacts,
                   basis: str) -> list[Refusal]:
    case = case_of(submission)
    point = f"{basis} {case.point}"
    on = received_on(submission)
    refusals = []
    if case.death_recorded and subject_status != "dead":
        refusals.append(refusal("death_not_recorded",
                                "The national population database does not record this death: register the death "
                                "(đăng ký khai tử) first, then file again.", point,
                                "Cơ sở dữ liệu quốc gia về dân cư chưa ghi nhận người này đã chết; đề nghị làm thủ "
                                "tục đăng ký khai tử trước, sau đó nộp lại hồ sơ."))
    if case.waiting_months is not None and on <= (arises := case_arises_on(submission)):
        refusals.append(refusal("waiting_period_not_over",
                                f"The case exists only after the months the law sets have run: from "
                                f"{format_date(arises + timedelta(days=1))}.", point,
                                "Chưa đủ thời gian (số tháng) theo quy định của pháp luật để phát sinh trường hợp xóa "
                                "đăng ký này; được đề nghị xóa đăng ký từ ngày "
                                f"{format_date(arises + timedelta(days=1))}."))
    records = facts.records
    declared_until = records.absence_declared_until if records else None
    declared = declared_until is not None and declared_until >= submission.details.event_date
    if case.absence and records is not None and (records.temporary is not None or declared):
        refusals.append(refusal("absence_covered",
                                "The absence is covered by a temporary residence elsewhere or a temporary-absence "
                                "declaration: it is no ground for deletion.", point,
                                "Thời gian vắng mặt đã có đăng ký tạm trú ở nơi khác hoặc đã khai báo tạm vắng nên "
                                "không thuộc trường hợp bị xóa đăng ký."))
    if absence_excepted(case, submission.details.absence_reason):
        refusals.append(refusal("absence_excepted",
                                "An absence abroad not to settle, or to serve a sentence or a compulsory measure, is "
                                "no ground for deletion.", point,
                                "Trường hợp vắng mặt do đi nước ngoài không phải để định cư, đang chấp hành án phạt tù "
                                "hoặc biện pháp xử lý hành chính đưa vào cơ sở giáo dục bắt buộc, cơ sở cai nghiện bắt "
                                "buộc, trường giáo dưỡng thì không bị xóa đăng ký."))
    if new_owner_consents(case, submission, record.owner_id):
        refusals.append(refusal("new_owner_consents",
                                "The new owner consents to the person keeping the registration: it is no ground for "
                                "deletion.", point,
                                "Chủ sở hữu mới của chỗ ở đồng ý cho tiếp tục đăng ký tại chỗ ở đó nên không thuộc "
                                "trường hợp bị xóa đăng ký."))
    if case.permanent_here and (records is None or records.permanent is None
                                or records.permanent.residence_id != record.residence_id):
        refusals.append(refusal("case_not_established",
                                "The records show no permanent residence at the place of temporary residence.", point,
                                "Cơ sở dữ liệu về cư trú không ghi nhận việc đăng ký thường trú tại chính nơi tạm "
                                "trú."))
    notice = submission.details.police_notice
    if notice is not None:
        closes = notice_window_closes(notice, submission.deletion)
        if submission.received_at < closes:
            refusals.append(refusal("notice_window_open",
                                    f"The person may still file until {format_date(closes - timedelta(days=1))}: "
                                    "ex officio deletion only follows an unanswered notice.", f"{basis} khoản 3",
                                    "Người được thông báo vẫn còn thời hạn nộp hồ sơ đến hết ngày "
                                    f"{format_date(closes - timedelta(days=1))}; cơ quan đăng ký cư trú chỉ xóa đăng "
                                    "ký khi hết thời hạn này mà người đó không thực hiện thủ tục."))
    return refusals


def deletion_plan(submission: DeletionSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """The record is closed as deleted and why is kept; after a permanent deletion the person leaves the household.

    A head who leaves other members behind stays recorded as head until the household changes its head
    (Điều 26, điều chỉnh thông tin về cư trú): a household cannot be left without one.
    """
    kind, details = submission.deletion.record, submission.details
    record = _record(submission, facts.records)
    assert record is not None, "eligibility found the record"
    subject = facts.subject or facts.applicant
    ex_officio = details.police_notice is not None
    late = filed_late(submission)
    notice = details.police_notice
    steps: list[Step] = [DeleteRecord(kind=kind, record_id=record.record_id, personal_id=submission.subject_id,
                                      case=str(details.case), event_date=details.event_date, ex_officio=ex_officio,
                                      filed_late=late, on=today, output="deleted")]
    summary = {"record_id": str(record.record_id), "subject_name": subject.full_name, "case": str(details.case),
               "case_vi": submission.case.vietnamese, "ex_officio": str(ex_officio).lower(),
               "filed_late": str(late).lower(), "deleted_on": today.isoformat(),
               "notice": f"{notice.notice_number} ngày {format_date(notice.notified_on)}" if notice else "",
               "address": format_address(record.province_code, record.commune_code, record.address_line)}
    if kind == "permanent":
        assert facts.records is not None
        household = facts.records.household
        head_with_others = (household is not None and household.head_id == submission.subject_id
                            and len(household.members) > 1)
        if not head_with_others:
            steps.append(LeaveHousehold(personal_id=submission.subject_id))
        summary["household_head_change_needed"] = str(head_with_others).lower()
    return RecordPlan(steps=tuple(steps), summary=summary)


def deletion_text(recorded: dict[str, str], what: str) -> str:
    """CT08 of a deletion; ``what`` is the registration deleted, in Vietnamese."""
    sentence = (f"Đã xóa đăng ký {what} của {recorded['subject_name']} (trường hợp: {recorded['case_vi']}), "
                f"ngày {format_date(date.fromisoformat(recorded['deleted_on']))}.")
    if recorded.get("ex_officio") == "true":
        sentence += f" Xóa theo thông báo số {recorded['notice']} của Công an, có biên bản."
    return sentence


D = TypeVar("D", bound=DeletionSubmission)


def deletion_spec(procedure: Procedure, *, vietnamese_name: str, tthc_code: str, submission: type[D],
                  what: str) -> ProcedureSpec[D]:
    """A deletion's definition: what both deletions share (an officer decides, no fee, a CT08, the person's
    records, the rules above); ``what`` is the registration deleted, in Vietnamese."""
    return ProcedureSpec(
        procedure=procedure,
        vietnamese_name=vietnamese_name,
        tthc_code=tthc_code,
        legal_basis=submission.deletion.basis,
        submission=submission,
        officer_review=True,
        has_fee=False,
        results=(DocumentKind.CT08,),
        needs=frozenset({Need.RECORDS}),
        refusals=deletion_refusals,
        plan=deletion_plan,
        notes=deletion_notes,
        deadline_case=annulment_case,
        result_text=lambda recorded: deletion_text(recorded, what),
        subject_id=lambda submission: submission.subject_id,
    )

