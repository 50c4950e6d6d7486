"""Temporary residence: registration (Luật Cư trú Điều 27–28) and extension of its term (Điều 28 khoản 3).

Thresholds come from the rule set in force on the day of receipt (``temporary_residence``): the 30-day trigger,
the 2-year maximum term and the 15-day extension window. The rented housing's contract needs no notarisation
here (unlike permanent registration), and joining a relative needs no proof of residence, only consent.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from domain.documents import format_date
from domain.models import ConsentRole, Refusal
from domain.rules_common import (
    NO_HOUSEHOLD_TO_JOIN_VI,
    RESIDENCE_UNKNOWN_VI,
    barred_place,
    minor_needs_guardian,
    missing_consent,
    received_on,
    refusal,
    wrong_authority,
)
from domain.rulesets import Period, PeriodUnit, rules_for
from domain.submissions import TemporaryResidenceExtensionSubmission, TemporaryResidenceRegistrationSubmission

if TYPE_CHECKING:
    from domain.eligibility import HouseholdFacts

REGISTRATION_BASIS = "Luật Cư trú 2020, Điều 27–28"
EXTENSION_BASIS = "Luật Cư trú 2020, Điều 28 khoản 3"


def max_term_end(start: date, months: int) -> date:
    """Last day of the longest term allowed from ``start`` (Bộ luật Dân sự Điều 147–148)."""
    return Period(amount=months, unit=PeriodUnit.MONTHS).end_from(start)


def temporary_registration_refusals(submission: TemporaryResidenceRegistrationSubmission,
                                    facts: HouseholdFacts) -> list[Refusal]:
    """Đăng ký tạm trú, Luật Cư trú Điều 27–28."""
    details = submission.details
    residence = facts.residence
    if residence is None:
        return [refusal("residence_unknown", "No legal residence is recorded at this address; attach proof of legal "
                        "residence or check the address.", REGISTRATION_BASIS, RESIDENCE_UNKNOWN_VI)]
    rules = rules_for(submission.received_at).temporary_residence
    on = received_on(submission)
    refusals = (wrong_authority(submission, details.residence.commune_code, "the residence")
                + barred_place(residence.barred_reason)
                + minor_needs_guardian(submission, facts.applicant.birth_date, f"{REGISTRATION_BASIS}; Điều 20"))
    if (details.requested_until - on).days < rules.registration_trigger_days:
        refusals.append(refusal(
            "term_below_registration_trigger",
            f"Temporary residence is registered for a stay of {rules.registration_trigger_days} days or more; a "
            "shorter stay is notified as a stay (thông báo lưu trú) by the host.", "Luật Cư trú 2020, Điều 27 khoản 1",
            f"Đăng ký tạm trú áp dụng khi đến sinh sống tại chỗ ở từ {rules.registration_trigger_days} ngày trở lên; "
            "trường hợp ở ngắn hơn thì nơi có người đến lưu trú (hộ gia đình, cơ sở lưu trú) thực hiện thông báo lưu "
            "trú."))
    if details.requested_until > (longest := max_term_end(on, rules.max_term_months)):
        refusals.append(refusal(
            "term_too_long",
            f"A term lasts at most {rules.max_term_months} months: until {format_date(longest)} at the latest "
            "(it can be extended).", "Luật Cư trú 2020, Điều 27 khoản 3",
            f"Thời hạn tạm trú tối đa là {rules.max_term_months} tháng, tức là đến hết ngày {format_date(longest)}; "
            "khi hết thời hạn có thể làm thủ tục gia hạn tạm trú."))
    records = facts.records
    if records is not None and records.permanent is not None \
            and records.permanent.commune_code == details.residence.commune_code:
        refusals.append(refusal(
            "within_commune_of_permanent_residence",
            "The applicant's permanent residence is in this commune: temporary residence is registered only "
            "outside the commune of permanent residence.", "Luật Cư trú 2020, Điều 27 khoản 1",
            "Nơi thường trú của người đề nghị thuộc địa bàn xã, phường này; đăng ký tạm trú chỉ áp dụng khi đến sinh "
            "sống tại chỗ ở hợp pháp ngoài phạm vi đơn vị hành chính cấp xã nơi đã đăng ký thường trú."))
    if records is not None and records.temporary is not None \
            and records.temporary.residence_id == residence.residence_id:
        refusals.append(refusal("already_registered_here",
                                "The applicant already holds a temporary residence here; extend it instead.",
                                REGISTRATION_BASIS,
                                "Người đề nghị đã đăng ký tạm trú tại chỗ ở này; đề nghị làm thủ tục gia hạn tạm trú."))
    applicant_id = submission.applicant.personal_id
    if details.basis == "own_residence" and residence.owner_id != applicant_id:
        refusals.append(refusal("not_owner", "The records do not show the applicant as owner of this residence; "
                                "choose another basis or attach proof of ownership.", REGISTRATION_BASIS,
                                "Cơ sở dữ liệu về cư trú không ghi nhận người đề nghị là chủ sở hữu chỗ ở này; đề nghị "
                                "chọn căn cứ đăng ký khác hoặc bổ sung giấy tờ, tài liệu chứng minh quyền sở hữu chỗ "
                                "ở."))
    head_id = residence.household_head_id
    if details.basis == "join_relative":
        if head_id is None:
            refusals.append(refusal("no_household_to_join", "No household lives at this residence to join.",
                                    "Luật Cư trú 2020, Điều 20 khoản 2", NO_HOUSEHOLD_TO_JOIN_VI))
        elif head_id != applicant_id and submission.consent_of(ConsentRole.HOUSEHOLD_HEAD, head_id) is None:
            refusals.append(missing_consent("household_head_consent_missing", "the household head", REGISTRATION_BASIS))
    if residence.owner_id not in (None, applicant_id) and submission.consent_of(
            ConsentRole.OWNER, residence.owner_id) is None:
        refusals.append(missing_consent("owner_consent_missing", "the owner of the residence", REGISTRATION_BASIS))
    return refusals


def temporary_extension_refusals(submission: TemporaryResidenceExtensionSubmission,
                                 facts: HouseholdFacts) -> list[Refusal]:
    """Gia hạn tạm trú, Luật Cư trú Điều 28 khoản 3: within the 15 days before the term ends, at most 2 years more."""
    applicant_id = submission.applicant.personal_id
    renewing_for_other = submission.subject_id != applicant_id
    if renewing_for_other and facts.subject is None:
        return [refusal("subject_unknown", "The person whose term is extended is not in the national population "
                        "database; check the personal ID number.", EXTENSION_BASIS,
                        "Người được đề nghị gia hạn tạm trú không có thông tin trong Cơ sở dữ liệu quốc gia về dân "
                        "cư; đề nghị kiểm tra lại số định danh cá nhân.")]
    current = facts.records.temporary if facts.records else None
    if current is None or current.valid_to is None:
        return [refusal("no_temporary_residence", "No active temporary residence is recorded to extend; register a "
                        "temporary residence instead.", EXTENSION_BASIS,
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
            f"{format_date(current.valid_to)}: from {format_date(opens)}.", EXTENSION_BASIS,
            f"Chưa đến thời hạn gia hạn tạm trú: hồ sơ được nộp trong {rules.extension_window_days} ngày trước ngày "
            f"hết thời hạn tạm trú ({format_date(current.valid_to)}), tức là từ ngày {format_date(opens)}."))
    if on > current.valid_to:
        refusals.append(refusal(
            "temporary_residence_expired",
            f"The term ended on {format_date(current.valid_to)}: register the temporary residence again.",
            EXTENSION_BASIS,
            f"Thời hạn tạm trú đã hết vào ngày {format_date(current.valid_to)}; đề nghị làm thủ tục đăng ký tạm trú "
            "mới."))
    requested = submission.details.requested_until
    if requested <= current.valid_to:
        refusals.append(refusal("extension_not_later",
                                f"The requested end must be after the current end, {format_date(current.valid_to)}.",
                                EXTENSION_BASIS,
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
                "another person.", EXTENSION_BASIS,
                "Chỉ thành viên của cùng hộ gia đình, đang tạm trú tại cùng chỗ ở, mới được đề nghị gia hạn tạm trú "
                "cho người khác."))
    owner = current.owner_id
    if owner not in (None, applicant_id, submission.subject_id) and submission.consent_of(
            ConsentRole.OWNER, owner) is None:
        refusals.append(missing_consent("owner_consent_missing", "the owner of the residence", EXTENSION_BASIS))
    return refusals
