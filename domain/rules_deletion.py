"""Deletion of a permanent (Luật Cư trú Điều 24) or temporary (Điều 29) residence registration.

Each case is a row of data (``PERMANENT_CASES``, ``TEMPORARY_CASES``): its legal point, whether the population
database must already record a death, and which rule-set threshold (months) must have run since the event.

Filing window: the person or household files within the rule set's ``deletion_filing_days`` (7) of the event.
Filing later is **not** a refusal: the law obliges the police to delete anyway (ex officio if need be), and
refusing would leave a dead or departed person registered. The late filing becomes a note for the officer
(``deletion_notes``) and is recorded with the deletion (``filed_late``).

Ex officio: when the police detect a case they notify, and a dossier carrying ``police_notice`` is opened; the
workflow waits ``ex_officio_deletion_after_notice_days`` (7) and, if nothing was filed, deletes ex officio.
``notice_window_open`` refuses such a dossier judged before the window closed, so the rule holds whoever starts it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from domain.calendar import VN_TZ
from domain.documents import format_date
from domain.models import Refusal
from domain.rules_common import late_filing_note, received_on, refusal, wrong_authority
from domain.rulesets import Period, PeriodUnit, RuleSet, rules_for
from domain.submissions import (
    PermanentDeletionCase,
    PermanentResidenceDeletionSubmission,
    PoliceNotice,
    TemporaryDeletionCase,
    TemporaryResidenceDeletionSubmission,
)

if TYPE_CHECKING:
    from domain.eligibility import HouseholdFacts, PersonRecords, RecordFacts

PERMANENT_BASIS = "Luật Cư trú 2020, Điều 24"
TEMPORARY_BASIS = "Luật Cư trú 2020, Điều 29"
KINDS_VI = {"permanent": "thường trú", "temporary": "tạm trú"}  # the registration deleted, as CT06 names it

Threshold = Literal["absence_months_for_deletion", "housing_ended_months_for_deletion"]
DeletionSubmission = PermanentResidenceDeletionSubmission | TemporaryResidenceDeletionSubmission


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
    confirmed: bool = True  # False: the specification marks the case UNCONFIRMED


PERMANENT_CASES: dict[PermanentDeletionCase, DeletionCase] = {
    PermanentDeletionCase.DEATH: DeletionCase(point="khoản 1 điểm a", vietnamese="người đã chết",
                                              death_recorded=True),
    PermanentDeletionCase.DECLARED_MISSING_OR_DEAD: DeletionCase(
        point="khoản 1 điểm a", vietnamese="có quyết định của Tòa án tuyên bố mất tích hoặc đã chết"),
    PermanentDeletionCase.SETTLED_ABROAD: DeletionCase(point="khoản 1 điểm b", vietnamese="ra nước ngoài để định cư"),
    PermanentDeletionCase.CANCELLATION_DECISION: DeletionCase(
        point="khoản 1 điểm c", vietnamese="đã có quyết định hủy bỏ đăng ký thường trú"),
    PermanentDeletionCase.ABSENT_12_MONTHS: DeletionCase(
        point="khoản 1 điểm d", vietnamese="vắng mặt liên tục tại nơi thường trú từ 12 tháng trở lên",
        waiting_months="absence_months_for_deletion", absence=True),
    PermanentDeletionCase.LOST_NATIONALITY: DeletionCase(
        point="khoản 1 điểm đ", vietnamese="thôi quốc tịch, bị tước quốc tịch Việt Nam"),
    PermanentDeletionCase.HOUSING_ENDED: DeletionCase(
        point="khoản 1 điểm e", vietnamese="đã chấm dứt thuê, mượn, ở nhờ mà chưa đăng ký thường trú nơi mới",
        waiting_months="housing_ended_months_for_deletion"),
    PermanentDeletionCase.RESIDENCE_TRANSFERRED: DeletionCase(
        point="khoản 1 điểm g", vietnamese="chỗ ở đã chuyển quyền sở hữu mà chưa đăng ký thường trú nơi mới",
        waiting_months="housing_ended_months_for_deletion"),
}

TEMPORARY_CASES: dict[TemporaryDeletionCase, DeletionCase] = {
    TemporaryDeletionCase.DEATH: DeletionCase(point="khoản 1 điểm a", vietnamese="người đã chết",
                                              death_recorded=True),
    TemporaryDeletionCase.DECLARED_MISSING_OR_DEAD: DeletionCase(
        point="khoản 1 điểm a", vietnamese="có quyết định của Tòa án tuyên bố mất tích hoặc đã chết"),
    TemporaryDeletionCase.LOST_NATIONALITY: DeletionCase(
        point="khoản 1", vietnamese="thôi quốc tịch, bị tước quốc tịch Việt Nam"),
    TemporaryDeletionCase.CANCELLATION_DECISION: DeletionCase(
        point="khoản 1", vietnamese="đã có quyết định hủy bỏ đăng ký tạm trú", confirmed=False),
    TemporaryDeletionCase.REGISTERED_PERMANENT_HERE: DeletionCase(
        point="khoản 1", vietnamese="đã đăng ký thường trú tại chính nơi tạm trú", permanent_here=True,
        confirmed=False),
    TemporaryDeletionCase.HOUSING_ENDED: DeletionCase(
        point="khoản 1", vietnamese="đã chấm dứt thuê, mượn, ở nhờ chỗ ở tạm trú", confirmed=False),
    TemporaryDeletionCase.RESIDENCE_TRANSFERRED: DeletionCase(
        point="khoản 1", vietnamese="chỗ ở tạm trú đã chuyển quyền sở hữu, chủ sở hữu mới không đồng ý",
        confirmed=False),
}


def case_of(submission: DeletionSubmission) -> DeletionCase:
    if isinstance(submission, PermanentResidenceDeletionSubmission):
        return PERMANENT_CASES[submission.details.case]
    return TEMPORARY_CASES[submission.details.case]


def _filing_window(submission: DeletionSubmission, rules: RuleSet) -> tuple[int, str]:
    """(days to file after the case arises, legal basis) for the kind of record deleted."""
    if isinstance(submission, PermanentResidenceDeletionSubmission):
        return rules.permanent_residence.deletion_filing_days, f"{PERMANENT_BASIS} khoản 2"
    return rules.temporary_residence.deletion_filing_days, f"{TEMPORARY_BASIS} khoản 2"


def case_arises_on(submission: DeletionSubmission) -> date:
    """The day the deletion case exists: the event, or the end of the months that must run after it."""
    case = case_of(submission)
    event = submission.details.event_date
    if case.waiting_months is None:
        return event
    months = getattr(rules_for(submission.received_at).permanent_residence, case.waiting_months)
    return Period(amount=months, unit=PeriodUnit.MONTHS).end_from(event)


def notice_window_closes(notice: PoliceNotice, permanent: bool) -> datetime:
    """The instant (start of the next Vietnamese day) after which the police may delete ex officio.

    Judged by the rule set in force on the day of the notice: the window was set when the person was notified.
    """
    rules = rules_for(notice.notified_on)
    days = (rules.permanent_residence.ex_officio_deletion_after_notice_days if permanent
            else rules.temporary_residence.ex_officio_deletion_after_notice_days)
    last_day = notice.notified_on + timedelta(days=days)
    return datetime.combine(last_day + timedelta(days=1), time(0, 0), VN_TZ)


def filed_late(submission: DeletionSubmission) -> bool:
    return _late_note(submission) is not None


def _late_note(submission: DeletionSubmission) -> str | None:
    if submission.details.police_notice is not None:
        return None  # the police's own case: there is no citizen's filing to be late
    filing_days, basis = _filing_window(submission, rules_for(submission.received_at))
    return late_filing_note(case_arises_on(submission), received_on(submission), filing_days, basis)


def deletion_notes(submission: DeletionSubmission, facts: HouseholdFacts) -> list[str]:
    notes = [note] if (note := _late_note(submission)) else []
    notice = submission.details.police_notice
    if notice is not None:
        notes.append(f"Ex officio deletion: police notice {notice.notice_number} of {format_date(notice.notified_on)}; "
                     "nothing was filed within the days allowed, deletion follows with minutes (biên bản).")
    if not case_of(submission).confirmed:
        notes.append("This deletion case is not confirmed by the published procedure set: check its legal basis.")
    return notes


def _record(submission: DeletionSubmission, records: PersonRecords | None) -> RecordFacts | None:
    if records is None:
        return None
    return records.permanent if isinstance(submission, PermanentResidenceDeletionSubmission) else records.temporary


def _deletion_refusals(submission: DeletionSubmission, facts: HouseholdFacts, basis: str,
                       kind: str) -> list[Refusal]:
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
    if case.permanent_here and (records is None or records.permanent is None
                                or records.permanent.residence_id != record.residence_id):
        refusals.append(refusal("case_not_established",
                                "The records show no permanent residence at the place of temporary residence.", point,
                                "Cơ sở dữ liệu về cư trú không ghi nhận việc đăng ký thường trú tại chính nơi tạm "
                                "trú."))
    notice = submission.details.police_notice
    if notice is not None:
        closes = notice_window_closes(notice, isinstance(submission, PermanentResidenceDeletionSubmission))
        if submission.received_at < closes:
            refusals.append(refusal("notice_window_open",
                                    f"The person may still file until {format_date(closes - timedelta(days=1))}: "
                                    "ex officio deletion only follows an unanswered notice.", f"{basis} khoản 3",
                                    "Người được thông báo vẫn còn thời hạn nộp hồ sơ đến hết ngày "
                                    f"{format_date(closes - timedelta(days=1))}; cơ quan đăng ký cư trú chỉ xóa đăng "
                                    "ký khi hết thời hạn này mà người đó không thực hiện thủ tục."))
    return refusals


def permanent_deletion_refusals(submission: PermanentResidenceDeletionSubmission,
                                facts: HouseholdFacts) -> list[Refusal]:
    """Xóa đăng ký thường trú, Luật Cư trú Điều 24."""
    return _deletion_refusals(submission, facts, PERMANENT_BASIS, "permanent")


def temporary_deletion_refusals(submission: TemporaryResidenceDeletionSubmission,
                                facts: HouseholdFacts) -> list[Refusal]:
    """Xóa đăng ký tạm trú, Luật Cư trú Điều 29."""
    return _deletion_refusals(submission, facts, TEMPORARY_BASIS, "temporary")
