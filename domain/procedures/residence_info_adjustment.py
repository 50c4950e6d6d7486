"""Điều chỉnh thông tin về cư trú — TTHC 1.010039: Luật Cư trú 2020, Điều 26.

A new household head, or the person's name after a civil-status change; address changes from new boundaries,
street names or house numbers are the police's own, and a change that came from the electronic civil-status
database needs no dossier.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from domain.attachments import AttachmentKind
from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import ConsentRole, PersonalId, Refusal, SubmissionBase, a_person_name
from domain.procedures.common import (
    Details,
    has_full_capacity,
    missing_consent,
    no_household,
    received_on,
    refusal,
    wrong_authority,
)
from domain.procedures.plan import ChangeHead, RecordPlan, Rename
from domain.procedures.spec import Need, ProcedureSpec

BASIS = "Luật Cư trú 2020, Điều 26"


class ResidenceInfoAdjustmentDetails(Details):
    """Điều chỉnh thông tin về cư trú (Điều 26): a new household head, a civil-status change, or an address change."""

    change: Literal["household_head", "civil_status", "address"]
    new_head_id: PersonalId | None = None
    new_full_name: Annotated[str, AfterValidator(a_person_name)] | None = Field(
        default=None, min_length=2, max_length=100
    )
    civil_status_source: Literal["paper_extract", "electronic_civil_status_db"] = Field(
        default="paper_extract",
        description="where the civil-status change comes from: a paper extract (trích lục) or the electronic "
        "civil-status database, in which case no procedure is needed",
    )
    civil_status_extract_number: str | None = Field(default=None, max_length=60)
    new_address_line: str | None = Field(default=None, min_length=3, max_length=200)

    @model_validator(mode="after")
    def _change_needs(self) -> ResidenceInfoAdjustmentDetails:
        needs = {"household_head": "new_head_id", "civil_status": "new_full_name", "address": "new_address_line"}
        if getattr(self, needs[self.change]) is None:
            raise ValueError(f"{needs[self.change]} is required for a {self.change} change")
        return self


class ResidenceInfoAdjustmentSubmission(SubmissionBase):
    procedure: Literal[Procedure.RESIDENCE_INFO_ADJUSTMENT] = Procedure.RESIDENCE_INFO_ADJUSTMENT
    details: ResidenceInfoAdjustmentDetails
    attachment_kinds: ClassVar[tuple[AttachmentKind, ...]] = (
        AttachmentKind.BIRTH_CERTIFICATE, AttachmentKind.MARRIAGE_CERTIFICATE, AttachmentKind.CONSENT_LETTER,
        AttachmentKind.OTHER,
    )


def residence_adjustment_refusals(submission: ResidenceInfoAdjustmentSubmission,
                                  facts: HouseholdFacts) -> list[Refusal]:
    """Điều chỉnh thông tin về cư trú: a new household head or a civil-status change; addresses are the police's."""
    details = submission.details
    if details.change == "address":
        return [refusal("address_adjusted_by_police",
                        "Address changes from new boundaries, street names or house numbers are made by the police "
                        "themselves: no dossier is needed.", f"{BASIS} khoản 1 điểm c",
                        "Trường hợp thay đổi địa chỉ do điều chỉnh địa giới, tên đơn vị hành chính, tên đường, phố "
                        "hoặc cách đánh số nhà thì cơ quan đăng ký cư trú tự điều chỉnh thông tin; công dân không phải "
                        "nộp hồ sơ.")]
    if details.change == "civil_status":
        return _civil_status_refusals(submission, facts)
    household = facts.records.household if facts.records else None
    if household is None:
        return no_household(BASIS)
    refusals = wrong_authority(submission, household.commune_code, "the household's residence")
    new_head_id = details.new_head_id
    assert new_head_id is not None, "the submission model requires new_head_id for a household_head change"
    new_head = household.member(new_head_id)
    if new_head is None:
        refusals.append(refusal("new_head_not_member", "The new head must be a member of the household.",
                                f"{BASIS} khoản 1 điểm a",
                                "Người được đề nghị làm chủ hộ mới phải là thành viên của hộ gia đình."))
        return refusals
    if new_head_id == household.head_id:
        refusals.append(refusal("nothing_to_change", "This person already heads the household.", BASIS,
                                "Người này hiện đã là chủ hộ của hộ gia đình; không có thông tin cần điều chỉnh."))
    if not has_full_capacity(new_head, received_on(submission)):
        refusals.append(refusal("new_head_without_full_capacity",
                                "The household head must be a member with full civil legal capacity.",
                                "Luật Cư trú 2020, Điều 10 khoản 2",
                                "Chủ hộ phải là thành viên hộ gia đình có năng lực hành vi dân sự đầy đủ."))
    current_head = household.member(household.head_id)
    head_alive = current_head is not None and current_head.status == "alive"
    if head_alive and household.head_id != submission.applicant.personal_id and submission.consent_of(
            ConsentRole.HOUSEHOLD_HEAD, household.head_id) is None:
        refusals.append(missing_consent("household_head_consent_missing", "the current household head",
                                        f"{BASIS} khoản 1 điểm a"))
    return refusals


def _civil_status_refusals(submission: ResidenceInfoAdjustmentSubmission, facts: HouseholdFacts) -> list[Refusal]:
    details = submission.details
    if details.civil_status_source == "electronic_civil_status_db":
        return [refusal("no_procedure_needed",
                        "The change came from the electronic civil-status database: the residence data is updated "
                        "without a dossier.", f"{BASIS} khoản 2",
                        "Thông tin hộ tịch thay đổi đã được cập nhật từ Cơ sở dữ liệu hộ tịch điện tử; cơ quan đăng ký "
                        "cư trú tự điều chỉnh thông tin về cư trú, công dân không phải nộp hồ sơ.")]
    refusals = []
    if not details.civil_status_extract_number:
        refusals.append(refusal("civil_status_proof_missing",
                                "Give the number of the civil-status extract (trích lục) recording the change.",
                                f"{BASIS} khoản 1 điểm b",
                                "Đề nghị kê khai số trích lục hộ tịch ghi nhận nội dung thay đổi."))
    if (details.new_full_name or "").casefold() == facts.applicant.full_name.casefold():
        refusals.append(refusal("nothing_to_change", "The records already show this name.", BASIS,
                                "Cơ sở dữ liệu về cư trú đã ghi nhận đúng họ, chữ đệm và tên này; không có thông tin "
                                "cần điều chỉnh."))
    return refusals


def plan(submission: ResidenceInfoAdjustmentSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    details = submission.details
    if details.change == "civil_status":
        assert details.new_full_name is not None, "the submission model requires it for a civil_status change"
        rename = Rename(personal_id=submission.applicant.personal_id, full_name=details.new_full_name)
        return RecordPlan(steps=(rename,),
                          summary={"change": "civil_status", "previous_full_name": facts.applicant.full_name,
                                   "full_name": details.new_full_name})
    assert facts.records is not None and facts.records.household is not None, "eligibility found the household"
    assert details.new_head_id is not None, "the submission model requires it for a household_head change"
    household = facts.records.household
    return RecordPlan(steps=(ChangeHead(household_id=household.household_id, new_head_id=details.new_head_id,
                                        previous_head_id=household.head_id),),
                      summary={"change": "household_head", "household_id": str(household.household_id),
                               "previous_head_id": household.head_id, "head_id": details.new_head_id})


def result_text(recorded: dict[str, str]) -> str:
    if recorded.get("change") == "civil_status":
        return f"Đã điều chỉnh họ, chữ đệm và tên trong Cơ sở dữ liệu về cư trú thành: {recorded['full_name']}."
    return "Đã điều chỉnh thông tin về cư trú: thay đổi chủ hộ."


SPEC: ProcedureSpec[ResidenceInfoAdjustmentSubmission] = ProcedureSpec(
    procedure=Procedure.RESIDENCE_INFO_ADJUSTMENT,
    vietnamese_name="Điều chỉnh thông tin về cư trú",
    tthc_code="1.010039",
    legal_basis=BASIS,
    submission=ResidenceInfoAdjustmentSubmission,
    officer_review=True,
    has_fee=False,
    results=(DocumentKind.CT08,),
    needs=frozenset({Need.RECORDS}),
    refusals=residence_adjustment_refusals,
    plan=plan,
    result_text=result_text,
)
