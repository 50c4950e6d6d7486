"""Xác nhận thông tin về cư trú — TTHC 1.010041: Luật Cư trú 2020, Điều 17.

Requested at any commune police station. Deadline cases: STANDARD (½ working day) when the person's data is
verified and a residence is recorded; otherwise VERIFICATION (3 working days). The CT07 states the records as they
stand at the commit, valid until the rule set's date, and void earlier if the person's residence data changes.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from domain.admin_units import format_address
from domain.attachments import AttachmentKind
from domain.calendar import format_date
from domain.facts import HouseholdFacts, PersonRecords
from domain.kinds import DocumentKind, Procedure
from domain.models import Refusal, SubmissionBase
from domain.procedures.common import Details
from domain.procedures.plan import ConfirmResidence, RecordPlan
from domain.procedures.spec import Need, ProcedureSpec
from domain.rulesets import DeadlineCase, rules_for

# Relation to the household head as printed on CT07 (quan hệ với chủ hộ).
RELATIONS_VI: dict[str, str] = {
    "head": "Chủ hộ", "spouse": "Vợ/chồng", "child": "Con", "parent": "Cha/mẹ", "sibling": "Anh/chị/em",
    "grandchild": "Cháu", "child_in_law": "Con dâu/con rể", "nephew_niece": "Cháu", "ward": "Người được giám hộ",
    "other_relative": "Người thân khác",
}


class ResidenceConfirmationDetails(Details):
    """Xác nhận thông tin về cư trú: any commune police station confirms the applicant's recorded residence."""

    purpose: str | None = Field(default=None, max_length=300)


class ResidenceConfirmationSubmission(SubmissionBase):
    procedure: Literal[Procedure.RESIDENCE_CONFIRMATION] = Procedure.RESIDENCE_CONFIRMATION
    details: ResidenceConfirmationDetails = ResidenceConfirmationDetails()
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = (AttachmentKind.OTHER,)


def residence_confirmation_refusals(submission: ResidenceConfirmationSubmission,
                                    facts: HouseholdFacts) -> list[Refusal]:
    """Xác nhận thông tin về cư trú: requested at any commune police station (no authority rule), by the person.

    A person with no recorded residence still gets a CT07 stating so (officers verify first): nothing to refuse
    beyond the identity checks, which the lifecycle makes before these rules.
    """
    return []


def residence_confirmation_deadline_case(submission: ResidenceConfirmationSubmission,
                                         facts: HouseholdFacts) -> DeadlineCase:
    recorded = facts.records is not None and facts.records.any_active
    return DeadlineCase.STANDARD if facts.applicant.identity_verified and recorded else DeadlineCase.VERIFICATION


def ct07_statements(records: PersonRecords) -> tuple[list[str], str, bool]:
    """(statements, fingerprint of the active records, whether the only residence is a declared one)."""
    personal_id = records.personal_id
    lines = []
    if (p := records.permanent) is not None:
        lines.append(f"Nơi thường trú: {format_address(p.province_code, p.commune_code, p.address_line)}; "
                     f"đăng ký từ ngày {format_date(p.valid_from)}.")
    if (h := records.household) is not None and (member := h.member(personal_id)) is not None:
        head = h.member(h.head_id)
        if h.head_id == personal_id:
            lines.append("Là chủ hộ.")
        else:
            lines.append(f"Chủ hộ: {head.full_name if head else '—'}; quan hệ với chủ hộ: "
                         f"{RELATIONS_VI.get(member.relation_to_head, member.relation_to_head)}.")
    if (t := records.temporary) is not None:
        lines.append(f"Nơi tạm trú: {format_address(t.province_code, t.commune_code, t.address_line)}; "
                     f"từ ngày {format_date(t.valid_from)} đến ngày {format_date(t.valid_to or t.valid_from)}.")
    if (d := records.declaration) is not None:
        lines.append(f"Nơi ở hiện tại (khai báo theo Điều 19 Luật Cư trú): "
                     f"{format_address(d.province_code, d.commune_code, d.address_line)}; "
                     f"khai báo ngày {format_date(d.valid_from)}.")
    if not lines:
        lines.append("Chưa có thông tin về nơi thường trú, nơi tạm trú, nơi ở hiện tại "
                     "trong Cơ sở dữ liệu về cư trú.")
    fingerprint = ",".join(f"{kind}:{record.record_id}:{record.valid_to or ''}" for kind, record in (
        ("P", records.permanent), ("T", records.temporary), ("D", records.declaration)) if record is not None)
    declared_only = records.declaration is not None and records.permanent is None and records.temporary is None
    return lines, fingerprint, declared_only


def plan(submission: ResidenceConfirmationSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """Read the records at the commit (not the facts of the eligibility check) and state them."""
    return RecordPlan(steps=(ConfirmResidence(personal_id=submission.applicant.personal_id, issued_on=today,
                                              ct07=rules_for(submission.received_at).ct07,
                                              declared_residence=None),))


SPEC: ProcedureSpec[ResidenceConfirmationSubmission] = ProcedureSpec(
    procedure=Procedure.RESIDENCE_CONFIRMATION,
    vietnamese_name="Xác nhận thông tin về cư trú",
    tthc_code="1.010041",
    legal_basis="Luật Cư trú 2020, Điều 17",
    submission=ResidenceConfirmationSubmission,
    officer_review=True,
    has_fee=False,
    results=(DocumentKind.CT07,),
    needs=frozenset({Need.RECORDS}),
    refusals=residence_confirmation_refusals,
    plan=plan,
    deadline_case=residence_confirmation_deadline_case,
)
