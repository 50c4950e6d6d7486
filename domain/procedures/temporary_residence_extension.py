"""Gia hạn tạm trú — TTHC 1.002755: Luật Cư trú 2020, Điều 28 khoản 3.

Filed within the rule set's window (15 days) before the term ends, for at most the maximum term (2 years) more. A
household member at the same place may renew for another with the owner's consent, without proof of residence.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import ClassVar, Literal

from pydantic import Field

from domain.admin_units import format_address
from domain.attachments import AttachmentKind
from domain.calendar import format_date
from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import ConsentRole, PersonalId, Refusal, SubmissionBase
from domain.procedures.common import Details, max_term_end, missing_consent, received_on, refusal, wrong_authority
from domain.procedures.plan import ExtendTerm, RecordPlan
from domain.procedures.spec import Need, ProcedureSpec
from domain.rulesets import rules_for

BASIS = "Luật Cư trú 2020, Điều 28 khoản 3"


class TemporaryResidenceExtensionDetails(Details):
    """Gia hạn tạm trú (Điều 28 khoản 3): the new end of the term; a household member may renew for another."""

    subject_id: PersonalId | None = Field(
        default=None, description="the person whose term is extended, when a household member renews for them"
    )
    requested_until: date


class TemporaryResidenceExtensionSubmission(SubmissionBase):
    procedure: Literal[Procedure.TEMPORARY_RESIDENCE_EXTENSION] = Procedure.TEMPORARY_RESIDENCE_EXTENSION
    details: TemporaryResidenceExtensionDetails
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = (
        AttachmentKind.TITLE_DEED, AttachmentKind.RENTAL_CONTRACT, AttachmentKind.CONSENT_LETTER,
        AttachmentKind.OTHER,
    )

    @property
    def subject_id(self) -> str:
        return self.details.subject_id or self.applicant.personal_id


def temporary_extension_refusals(submission: TemporaryResidenceExtensionSubmission,
                                 facts: HouseholdFacts) -> list[Refusal]:
    """Gia hạn tạm trú, Luật Cư trú Điều 28 khoản 3: within the 15 days before the term ends, at most 2 years more."""
    applicant_id = submission.applicant.personal_id
    renewing_for_other = submission.subject_id != applicant_id
    if renewing_for_other and facts.subject is None:
        return [refusal("subject_unknown", "The person whose term is extended is not in the national population "
                        "database; check the personal ID number.", BASIS,
                        "Người được đề nghị gia hạn tạm trú không có thông tin trong Cơ sở dữ liệu quốc gia về dân "
                        "cư; đề nghị kiểm tra lại số định danh cá nhân.")]
    current = facts.records.temporary if facts.records else None
    if current is None or current.valid_to is None:
        return [refusal("no_temporary_residence", "No active temporary residence is recorded to extend; register a "
                        "temporary residence instead.", BASIS,
                        "Không có thông tin đăng ký tạm trú còn hiệu lực để gia hạn; đề nghị làm thủ tục đăng ký tạm "
                        "trú.")]
    rules = rules_for(submission.received_at).temporary_residence
    on = received_on(submission)
    refusals = wrong_authority(submission, current.commune_code, "the temporary residence")
    opens = current.valid_to - timedelta(days=rules.extension_window_days)
    if on < opens:
        refusals.append(refusal(
            "extension_too_early",
            f"An extension is filed within the {rules.extension_window_days} days before the term ends on "
            f"{format_date(current.valid_to)}: from {format_date(opens)}.", BASIS,
            f"Chưa đến thời hạn gia hạn tạm trú: hồ sơ được nộp trong {rules.extension_window_days} ngày trước ngày "
            f"hết thời hạn tạm trú ({format_date(current.valid_to)}), tức là từ ngày {format_date(opens)}."))
    if on > current.valid_to:
        refusals.append(refusal(
            "temporary_residence_expired",
            f"The term ended on {format_date(current.valid_to)}: register the temporary residence again.",
            BASIS,
            f"Thời hạn tạm trú đã hết vào ngày {format_date(current.valid_to)}; đề nghị làm thủ tục đăng ký tạm trú "
            "mới."))
    requested = submission.details.requested_until
    if requested <= current.valid_to:
        refusals.append(refusal("extension_not_later",
                                f"The requested end must be after the current end, {format_date(current.valid_to)}.",
                                BASIS,
                                "Ngày kết thúc thời hạn tạm trú đề nghị gia hạn phải sau ngày hết hạn tạm trú hiện "
                                f"tại ({format_date(current.valid_to)})."))
    elif requested > (longest := max_term_end(current.valid_to, rules.max_term_months)):
        refusals.append(refusal(
            "term_too_long",
            f"A term lasts at most {rules.max_term_months} months: until {format_date(longest)} at the latest.",
            "Luật Cư trú 2020, Điều 27 khoản 3",
            f"Thời hạn tạm trú tối đa là {rules.max_term_months} tháng, tức là đến hết ngày {format_date(longest)}."))
    if renewing_for_other:
        own = facts.applicant_records.temporary if facts.applicant_records else None
        if own is None or own.residence_id != current.residence_id:
            refusals.append(refusal(
                "not_household_member",
                "Only a member of the same household, temporarily residing at the same place, may extend for "
                "another person.", BASIS,
                "Chỉ thành viên của cùng hộ gia đình, đang tạm trú tại cùng chỗ ở, mới được đề nghị gia hạn tạm trú "
                "cho người khác."))
    owner = current.owner_id
    if owner not in (None, applicant_id, submission.subject_id) and submission.consent_of(
            ConsentRole.OWNER, owner) is None:
        refusals.append(missing_consent("owner_consent_missing", "the owner of the residence", BASIS))
    return refusals


def plan(submission: TemporaryResidenceExtensionSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """The term's end moves; the extension is kept with the end before and after."""
    assert facts.records is not None and facts.records.temporary is not None, "eligibility found the record"
    current = facts.records.temporary
    new_end = submission.details.requested_until
    return RecordPlan(
        steps=(ExtendTerm(record_id=current.record_id, previous_valid_to=current.valid_to, new_valid_to=new_end),),
        summary={"record_id": str(current.record_id), "previous_valid_to": str(current.valid_to),
                 "valid_to": new_end.isoformat(),
                 "address": format_address(current.province_code, current.commune_code, current.address_line)},
    )


def result_text(recorded: dict[str, str]) -> str:
    return (f"Đã gia hạn tạm trú tại {recorded['address']} "
            f"đến ngày {format_date(date.fromisoformat(recorded['valid_to']))}.")


SPEC: ProcedureSpec[TemporaryResidenceExtensionSubmission] = ProcedureSpec(
    procedure=Procedure.TEMPORARY_RESIDENCE_EXTENSION,
    vietnamese_name="Gia hạn tạm trú",
    tthc_code="1.002755",
    legal_basis=BASIS,
    submission=TemporaryResidenceExtensionSubmission,
    officer_review=True,
    has_fee=True,
    results=(DocumentKind.CT08,),
    needs=frozenset({Need.RECORDS}),
    refusals=temporary_extension_refusals,
    plan=plan,
    result_text=result_text,
    subject_id=lambda submission: submission.subject_id,
)
