"""Households: separation (tách hộ, Luật Cư trú Điều 25) and adjustment of residence information (Điều 26)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.models import ConsentRole, Refusal
from domain.rules_common import has_full_capacity, missing_consent, received_on, refusal, wrong_authority
from domain.submissions import HouseholdSeparationSubmission, ResidenceInfoAdjustmentSubmission

if TYPE_CHECKING:
    from domain.eligibility import HouseholdFacts

SEPARATION_BASIS = "Luật Cư trú 2020, Điều 25"
ADJUSTMENT_BASIS = "Luật Cư trú 2020, Điều 26"


def _no_household(basis: str) -> list[Refusal]:
    return [refusal("no_household", "The applicant is not a registered member of any household.", basis,
                    "Người đề nghị không có tên là thành viên của hộ gia đình nào trong Cơ sở dữ liệu về cư trú.")]


def household_separation_refusals(submission: HouseholdSeparationSubmission, facts: HouseholdFacts) -> list[Refusal]:
    """Tách hộ: members with full civil capacity (at least one of them, and the new head) leave the household."""
    household = facts.records.household if facts.records else None
    if household is None:
        return _no_household(SEPARATION_BASIS)
    details = submission.details
    on = received_on(submission)
    applicant_id = submission.applicant.personal_id
    ids = [m.personal_id for m in details.members]
    refusals = wrong_authority(submission, household.commune_code, "the household's residence")
    if applicant_id not in ids and applicant_id != household.head_id:
        refusals.append(refusal("not_entitled_to_file",
                                "A member who splits off, or the household head, files the separation.",
                                SEPARATION_BASIS,
                                "Người nộp hồ sơ tách hộ phải là thành viên đề nghị tách hộ hoặc chủ hộ."))
    if any(household.member(pid) is None for pid in ids):
        refusals.append(refusal("members_not_in_household",
                                "Everyone listed must be a member of the applicant's household.", SEPARATION_BASIS,
                                "Những người có tên trong danh sách đề nghị tách hộ phải là thành viên của hộ gia đình "
                                "người đề nghị."))
        return refusals
    if household.head_id in ids:
        # Also why the whole household can never be listed: the head always stays with the old household.
        refusals.append(refusal("head_cannot_separate",
                                "The household head does not split off: the other members do, or the head changes "
                                "first (điều chỉnh thông tin về cư trú).", SEPARATION_BASIS,
                                "Chủ hộ không thuộc diện tách hộ: các thành viên khác tách hộ, hoặc phải làm thủ tục "
                                "điều chỉnh thông tin về cư trú để thay đổi chủ hộ trước."))
    members = {m.personal_id: m for m in household.members}
    capable = [pid for pid in ids if has_full_capacity(members[pid], on)]
    if not capable:
        refusals.append(refusal("no_member_with_full_capacity",
                                "A member who splits off must have full civil legal capacity; when several split off "
                                "together, at least one must.", f"{SEPARATION_BASIS} khoản 1",
                                "Thành viên tách hộ phải có năng lực hành vi dân sự đầy đủ; trường hợp nhiều thành "
                                "viên cùng tách hộ thì ít nhất một người phải có năng lực hành vi dân sự đầy đủ."))
    elif details.new_head_id not in capable:
        refusals.append(refusal("new_head_without_full_capacity",
                                "The head of the new household must be a member with full civil legal capacity.",
                                f"{SEPARATION_BASIS} khoản 1; Điều 10",
                                "Chủ hộ của hộ gia đình mới phải là thành viên có năng lực hành vi dân sự đầy đủ."))
    if details.divorce is not None:
        # Divorced spouses staying on show the divorce and their right to the residence instead of consent.
        if not details.divorce.right_to_use_residence_proven:
            refusals.append(refusal("divorce_residence_right_unproven",
                                    "After a divorce, separation at the same residence needs proof of the continued "
                                    "right to use the residence.", f"{SEPARATION_BASIS} khoản 2",
                                    "Trường hợp tách hộ sau ly hôn tại cùng chỗ ở hợp pháp phải có giấy tờ, tài liệu "
                                    "chứng minh vẫn được tiếp tục sử dụng chỗ ở đó."))
    elif submission.consent_of(ConsentRole.HOUSEHOLD_HEAD, household.head_id) is None and (
        household.owner_id is None or submission.consent_of(ConsentRole.OWNER, household.owner_id) is None
    ):
        refusals.append(missing_consent("household_head_consent_missing", "the household head or the owner",
                                        f"{SEPARATION_BASIS} khoản 2"))
    return refusals


def residence_adjustment_refusals(submission: ResidenceInfoAdjustmentSubmission,
                                  facts: HouseholdFacts) -> list[Refusal]:
    """Điều chỉnh thông tin về cư trú: a new household head or a civil-status change; addresses are the police's."""
    details = submission.details
    if details.change == "address":
        return [refusal("address_adjusted_by_police",
                        "Address changes from new boundaries, street names or house numbers are made by the police "
                        "themselves: no dossier is needed.", f"{ADJUSTMENT_BASIS} khoản 1 điểm c",
                        "Trường hợp thay đổi địa chỉ do điều chỉnh địa giới, tên đơn vị hành chính, tên đường, phố "
                        "hoặc cách đánh số nhà thì cơ quan đăng ký cư trú tự điều chỉnh thông tin; công dân không phải "
                        "nộp hồ sơ.")]
    if details.change == "civil_status":
        return _civil_status_refusals(submission, facts)
    household = facts.records.household if facts.records else None
    if household is None:
        return _no_household(ADJUSTMENT_BASIS)
    refusals = wrong_authority(submission, household.commune_code, "the household's residence")
    new_head_id = details.new_head_id
    assert new_head_id is not None, "the submission model requires new_head_id for a household_head change"
    new_head = household.member(new_head_id)
    if new_head is None:
        refusals.append(refusal("new_head_not_member", "The new head must be a member of the household.",
                                f"{ADJUSTMENT_BASIS} khoản 1 điểm a",
                                "Người được đề nghị làm chủ hộ mới phải là thành viên của hộ gia đình."))
        return refusals
    if new_head_id == household.head_id:
        refusals.append(refusal("nothing_to_change", "This person already heads the household.", ADJUSTMENT_BASIS,
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
                                        f"{ADJUSTMENT_BASIS} khoản 1 điểm a"))
    return refusals


def _civil_status_refusals(submission: ResidenceInfoAdjustmentSubmission, facts: HouseholdFacts) -> list[Refusal]:
    details = submission.details
    if details.civil_status_source == "electronic_civil_status_db":
        return [refusal("no_procedure_needed",
                        "The change came from the electronic civil-status database: the residence data is updated "
                        "without a dossier.", f"{ADJUSTMENT_BASIS} khoản 2",
                        "Thông tin hộ tịch thay đổi đã được cập nhật từ Cơ sở dữ liệu hộ tịch điện tử; cơ quan đăng ký "
                        "cư trú tự điều chỉnh thông tin về cư trú, công dân không phải nộp hồ sơ.")]
    refusals = []
    if not details.civil_status_extract_number:
        refusals.append(refusal("civil_status_proof_missing",
                                "Give the number of the civil-status extract (trích lục) recording the change.",
                                f"{ADJUSTMENT_BASIS} khoản 1 điểm b",
                                "Đề nghị kê khai số trích lục hộ tịch ghi nhận nội dung thay đổi."))
    if (details.new_full_name or "").casefold() == facts.applicant.full_name.casefold():
        refusals.append(refusal("nothing_to_change", "The records already show this name.", ADJUSTMENT_BASIS,
                                "Cơ sở dữ liệu về cư trú đã ghi nhận đúng họ, chữ đệm và tên này; không có thông tin "
                                "cần điều chỉnh."))
    return refusals
