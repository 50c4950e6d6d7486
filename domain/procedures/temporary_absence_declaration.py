"""Khai báo tạm vắng — TTHC 1.003677: Luật Cư trú 2020, Điều 31 (sửa đổi bởi Luật 118/2025/QH15).

Categories (a)–(d) and their minimum absences are rule data. Deadline cases: COMPLEX (2 working days) for
categories whose supervising authority's written consent must be checked with that authority; STANDARD (1 working
day) otherwise, an UNCONFIRMED reading of "complex". The result is the CT03 slip and CT08.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import model_validator

from domain.attachments import AttachmentKind
from domain.calendar import format_date
from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import ConsentRole, Refusal, SubmissionBase
from domain.procedures.common import Details, Text, refusal
from domain.procedures.plan import RecordAbsence, RecordPlan
from domain.procedures.spec import Need, ProcedureSpec
from domain.rulesets import DeadlineCase, rules_for

BASIS = "Luật Cư trú 2020, Điều 31 (sửa đổi bởi Luật 118/2025/QH15)"


class TemporaryAbsenceDeclarationDetails(Details):
    """Khai báo tạm vắng (Điều 31): category (a)–(d), period, destination, reason (printed on CT03)."""

    category: Literal["a", "b", "c", "d"]
    absence_from: date
    absence_to: date
    destination: Text
    reason: Text

    @model_validator(mode="after")
    def _period(self) -> TemporaryAbsenceDeclarationDetails:
        if self.absence_to < self.absence_from:
            raise ValueError("absence_to is before absence_from")
        return self


class TemporaryAbsenceDeclarationSubmission(SubmissionBase):
    procedure: Literal[Procedure.TEMPORARY_ABSENCE_DECLARATION] = Procedure.TEMPORARY_ABSENCE_DECLARATION
    details: TemporaryAbsenceDeclarationDetails
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = (
        AttachmentKind.SUPERVISING_AUTHORITY_CONSENT, AttachmentKind.OTHER,
    )


def temporary_absence_refusals(submission: TemporaryAbsenceDeclarationSubmission,
                               facts: HouseholdFacts) -> list[Refusal]:
    """Khai báo tạm vắng: the category's minimum absence, the supervising authority's consent, the right commune."""
    details = submission.details
    category = rules_for(submission.received_at).temporary_absence.categories[details.category]
    point = f"{BASIS} khoản 1 điểm {details.category}"
    refusals = []
    records = facts.records
    commune = submission.police_unit.removeprefix("CA-")
    # Category (d) leaves the commune of permanent residence; the others the commune where they live.
    places = [records.permanent] if records else []
    if records and details.category != "d":
        places.append(records.temporary)
    if not any(place is not None and place.commune_code == commune for place in places):
        refusals.append(refusal(
            "not_resident_here",
            "The applicant does not reside in this commune (permanent residence; for categories a–c also "
            "temporary): declare the absence to the police of the commune being left.", point,
            "Người đề nghị không cư trú trên địa bàn xã, phường này (xét nơi thường trú; đối với các trường hợp tại "
            "điểm a, b, c còn xét cả nơi tạm trú); đề nghị khai báo tạm vắng với Công an cấp xã nơi người đó đi "
            "khỏi."))
    # The absence reaches the minimum when it lasts up to the end of a period counted from the day it starts.
    reaches = category.minimum_absence.end_from(details.absence_from)
    if details.absence_to < reaches:
        refusals.append(refusal(
            "declaration_not_required",
            f"For category ({details.category}) a declaration is required for an absence lasting until "
            f"{format_date(reaches)} or later; this absence is shorter and needs none.", point,
            f"Đối với trường hợp tại điểm {details.category}, chỉ phải khai báo tạm vắng khi vắng mặt đến ngày "
            f"{format_date(reaches)} hoặc lâu hơn; thời gian vắng mặt đã kê khai ngắn hơn nên không phải khai báo tạm "
            "vắng."))
    if category.supervising_authority_consent:
        consent = submission.consent_of(ConsentRole.SUPERVISING_AUTHORITY)
        if consent is None or not consent.authority_name:
            refusals.append(refusal(
                "supervising_authority_consent_missing",
                "The written consent of the supervising authority (cơ quan, người có thẩm quyền giám sát, quản lý), "
                "naming that authority, is required.", point,
                "Hồ sơ phải có văn bản đồng ý của cơ quan, người có thẩm quyền giám sát, quản lý, ghi rõ tên cơ "
                "quan, người có thẩm quyền đó."))
    return refusals


def temporary_absence_deadline_case(submission: TemporaryAbsenceDeclarationSubmission,
                                    facts: HouseholdFacts) -> DeadlineCase:
    category = rules_for(submission.received_at).temporary_absence.categories[submission.details.category]
    return DeadlineCase.COMPLEX if category.supervising_authority_consent else DeadlineCase.STANDARD


def plan(submission: TemporaryAbsenceDeclarationSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """The declaration with its period, destination and reason (the CT03 content)."""
    details = submission.details
    return RecordPlan(
        steps=(RecordAbsence(personal_id=submission.applicant.personal_id, category=details.category,
                             absence_from=details.absence_from, absence_to=details.absence_to,
                             destination=details.destination, reason=details.reason, declared_on=today),),
        summary={"category": details.category, "absence_from": details.absence_from.isoformat(),
                 "absence_to": details.absence_to.isoformat()},
    )


def result_text(recorded: dict[str, str]) -> str:
    return (f"Đã tiếp nhận khai báo tạm vắng từ ngày {format_date(date.fromisoformat(recorded['absence_from']))} "
            f"đến ngày {format_date(date.fromisoformat(recorded['absence_to']))}.")


def ct03_fields(submission: TemporaryAbsenceDeclarationSubmission) -> dict[str, str]:
    """What the CT03 slip prints of the declaration (dates in ISO form)."""
    details = submission.details
    return {"absence_from": details.absence_from.isoformat(), "absence_to": details.absence_to.isoformat(),
            "absence_destination": details.destination, "absence_reason": details.reason}


SPEC: ProcedureSpec[TemporaryAbsenceDeclarationSubmission] = ProcedureSpec(
    procedure=Procedure.TEMPORARY_ABSENCE_DECLARATION,
    vietnamese_name="Khai báo tạm vắng",
    tthc_code="1.003677",
    legal_basis=BASIS,
    submission=TemporaryAbsenceDeclarationSubmission,
    officer_review=True,
    has_fee=False,
    results=(DocumentKind.CT03, DocumentKind.CT08),
    needs=frozenset({Need.RECORDS}),
    refusals=temporary_absence_refusals,
    plan=plan,
    deadline_case=temporary_absence_deadline_case,
    result_text=result_text,
    form_fields=ct03_fields,
)
