"""Khai báo thông tin về cư trú — TTHC 1.010040: Luật Cư trú 2020, Điều 19.

Only for a person with neither a permanent nor a temporary residence. Deadline cases: STANDARD (5 working days)
when the person's data is verified in CSDLQG; otherwise VERIFICATION (30 days), or COMPLEX (60 days) when the
declared place is not a recorded residence either, so both the person and the place must be verified. What makes a
case "complex" is not defined by the specification: this reading is configuration, UNCONFIRMED. The result is
CT08 and a CT07 for the declared place.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from domain.attachments import AttachmentKind
from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import Address, Refusal, SubmissionBase
from domain.procedures.common import Details, Text, minor_needs_guardian, refusal, wrong_authority
from domain.procedures.plan import ConfirmResidence, DeclarePlace, RecordPlan
from domain.procedures.spec import Need, ProcedureSpec
from domain.rulesets import DeadlineCase, rules_for

BASIS = "Luật Cư trú 2020, Điều 19"


class ResidenceDeclarationDetails(Details):
    """Khai báo thông tin về cư trú (Điều 19): a person eligible for neither registration declares where they live."""

    current_place: Address
    reason_not_registered: Text


class ResidenceDeclarationSubmission(SubmissionBase):
    procedure: Literal[Procedure.RESIDENCE_DECLARATION] = Procedure.RESIDENCE_DECLARATION
    details: ResidenceDeclarationDetails
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = (
        AttachmentKind.BIRTH_CERTIFICATE, AttachmentKind.RELATIONSHIP_PROOF, AttachmentKind.CONSENT_LETTER,
        AttachmentKind.OTHER,
    )


def residence_declaration_refusals(submission: ResidenceDeclarationSubmission,
                                   facts: HouseholdFacts) -> list[Refusal]:
    """Khai báo thông tin về cư trú: only for a person with neither a permanent nor a temporary residence."""
    refusals = wrong_authority(submission, submission.details.current_place.commune_code, "the current place")
    refusals += minor_needs_guardian(submission, facts.applicant.birth_date, BASIS)
    records = facts.records
    if records is not None and (records.permanent is not None or records.temporary is not None):
        refusals.append(refusal(
            "has_registered_residence",
            "The applicant holds a registered permanent or temporary residence: a declaration is only for people "
            "who are not eligible to register one. Register at the current place instead, or ask for a residence "
            "confirmation.", f"{BASIS} khoản 1",
            "Người đề nghị đã có nơi thường trú hoặc nơi tạm trú đã đăng ký; việc khai báo thông tin về cư trú chỉ áp "
            "dụng đối với người không đủ điều kiện đăng ký thường trú, đăng ký tạm trú. Đề nghị đăng ký cư trú tại nơi "
            "ở hiện tại hoặc đề nghị xác nhận thông tin về cư trú."))
    return refusals


def residence_declaration_deadline_case(submission: ResidenceDeclarationSubmission,
                                        facts: HouseholdFacts) -> DeadlineCase:
    if facts.applicant.identity_verified:
        return DeadlineCase.STANDARD
    return DeadlineCase.VERIFICATION if facts.residence is not None else DeadlineCase.COMPLEX


def plan(submission: ResidenceDeclarationSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """The current place is recorded (an earlier declaration ends) and a CT07 states it."""
    person = submission.applicant.personal_id
    return RecordPlan(steps=(
        DeclarePlace(personal_id=person, place=submission.details.current_place,
                     residence_id=facts.residence.residence_id if facts.residence else None, on=today,
                     output="declaration_id"),
        ConfirmResidence(personal_id=person, issued_on=today, ct07=rules_for(submission.received_at).ct07,
                         declared_residence=True),
    ))


SPEC: ProcedureSpec[ResidenceDeclarationSubmission] = ProcedureSpec(
    procedure=Procedure.RESIDENCE_DECLARATION,
    vietnamese_name="Khai báo thông tin về cư trú",
    tthc_code="1.010040",
    legal_basis=BASIS,
    submission=ResidenceDeclarationSubmission,
    officer_review=True,
    has_fee=False,
    results=(DocumentKind.CT08, DocumentKind.CT07),
    needs=frozenset({Need.PLACE, Need.RECORDS}),
    refusals=residence_declaration_refusals,
    plan=plan,
    deadline_case=residence_declaration_deadline_case,
    result_text=lambda recorded: ("Đã tiếp nhận khai báo thông tin về cư trú; nơi ở hiện tại đã được cập nhật vào Cơ "
                                  "sở dữ liệu về cư trú."),
    place=lambda submission: submission.details.current_place,
)
