"""Declarations and notices: residence declaration (Luật Cư trú Điều 19), residence confirmation (CT07),
stay notification (Điều 30) and temporary-absence declaration (Điều 31, both as amended by Luật 118/2025/QH15).

Deadline cases (``DeadlineCase``) are chosen here from the facts:

- declaration: STANDARD (5 working days) when the person's data is verified in CSDLQG; otherwise VERIFICATION
  (30 days), or COMPLEX (60 days) when the declared place is not a recorded residence either, so both the
  person and the place must be verified. What makes a case "complex" is not defined by the specification:
  this reading is configuration, UNCONFIRMED.
- confirmation: STANDARD (½ working day) when the person's data is verified and a residence is recorded;
  otherwise VERIFICATION (3 working days).
- temporary absence: COMPLEX (2 working days) for categories whose supervising authority's written consent must
  be checked with that authority; STANDARD (1 working day) otherwise. Also an UNCONFIRMED reading of "complex".

A late stay notification is accepted and recorded as late (``notified_late``), not refused: the purpose of the
notice is that the police know who stays where, and refusing it would hide the guest; the lateness may be
sanctioned separately.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.calendar import VN_TZ, local_date
from domain.documents import format_date
from domain.models import ConsentRole, Refusal
from domain.rules_common import minor_needs_guardian, refusal, wrong_authority
from domain.rulesets import DeadlineCase, rules_for
from domain.submissions import (
    ResidenceConfirmationSubmission,
    ResidenceDeclarationSubmission,
    StayNotificationSubmission,
    TemporaryAbsenceDeclarationSubmission,
)

if TYPE_CHECKING:
    from domain.eligibility import HouseholdFacts

DECLARATION_BASIS = "Luật Cư trú 2020, Điều 19"
CONFIRMATION_BASIS = "Luật Cư trú 2020, Điều 17 khoản 2; Thông tư 116/2026/TT-BCA"
STAY_BASIS = "Luật Cư trú 2020, Điều 30 (sửa đổi bởi Luật 118/2025/QH15)"
ABSENCE_BASIS = "Luật Cư trú 2020, Điều 31 (sửa đổi bởi Luật 118/2025/QH15)"


# ---- residence declaration (Điều 19) ----------------------------------------------------------------------


def residence_declaration_refusals(submission: ResidenceDeclarationSubmission,
                                   facts: HouseholdFacts) -> list[Refusal]:
    """Khai báo thông tin về cư trú: only for a person with neither a permanent nor a temporary residence."""
    refusals = wrong_authority(submission, submission.details.current_place.commune_code, "the current place")
    refusals += minor_needs_guardian(submission, facts.applicant.birth_date, DECLARATION_BASIS)
    records = facts.records
    if records is not None and (records.permanent is not None or records.temporary is not None):
        refusals.append(refusal(
            "has_registered_residence",
            "The applicant holds a registered permanent or temporary residence: a declaration is only for people "
            "who are not eligible to register one. Register at the current place instead, or ask for a residence "
            "confirmation.", f"{DECLARATION_BASIS} khoản 1",
            "Người đề nghị đã có nơi thường trú hoặc nơi tạm trú đã đăng ký; việc khai báo thông tin về cư trú chỉ áp "
            "dụng đối với người không đủ điều kiện đăng ký thường trú, đăng ký tạm trú. Đề nghị đăng ký cư trú tại nơi "
            "ở hiện tại hoặc đề nghị xác nhận thông tin về cư trú."))
    return refusals


def residence_declaration_deadline_case(submission: ResidenceDeclarationSubmission,
                                        facts: HouseholdFacts) -> DeadlineCase:
    if facts.applicant.identity_verified:
        return DeadlineCase.STANDARD
    return DeadlineCase.VERIFICATION if facts.residence is not None else DeadlineCase.COMPLEX


# ---- residence confirmation (CT07) ------------------------------------------------------------------------


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


# ---- stay notification (Điều 30) --------------------------------------------------------------------------


def stay_notified_late(submission: StayNotificationSubmission) -> bool:
    """Before 23:00 on the day of arrival, or before 08:00 the next day after a later arrival."""
    rules = rules_for(submission.received_at).stay_notification
    return submission.received_at > rules.due_by(submission.details.arrival)


def stay_notification_notes(submission: StayNotificationSubmission, facts: HouseholdFacts) -> list[str]:
    if not stay_notified_late(submission):
        return []
    due = rules_for(submission.received_at).stay_notification.due_by(submission.details.arrival)
    return [f"Notified late: due by {due.astimezone(VN_TZ).strftime('%H:%M %d/%m/%Y')}; "
            "accepted and recorded as late."]


def stay_notification_refusals(submission: StayNotificationSubmission, facts: HouseholdFacts) -> list[Refusal]:
    """Thông báo lưu trú: accepted at once unless the stay is too long or a guest's identity is wrong."""
    details = submission.details
    rules = rules_for(submission.received_at).stay_notification
    refusals = wrong_authority(submission, details.place.commune_code, "the place of stay")
    if (details.departure - local_date(details.arrival)).days > rules.max_stay_days:
        refusals.append(refusal(
            "stay_too_long",
            f"A stay lasts at most {rules.max_stay_days} days; for a longer stay the guest registers a temporary "
            "residence.", STAY_BASIS,
            f"Thời gian lưu trú tối đa là {rules.max_stay_days} ngày; trường hợp ở dài hơn thì người lưu trú phải đăng "
            "ký tạm trú."))
    unknown, mismatched = [], []
    for number, guest in enumerate(details.guests, start=1):
        if guest.personal_id is None:
            continue  # a passport holder: not in the population database
        person = facts.named_person(guest.personal_id)
        if person is None or person.status != "alive":
            unknown.append(number)
        elif (person.full_name.casefold(), person.birth_date) != (guest.full_name.casefold(), guest.birth_date):
            mismatched.append(number)
    if unknown:
        refusals.append(refusal(
            "guest_unknown",
            f"Guest(s) {', '.join(map(str, unknown))}: the personal ID number is not that of a living person in the "
            "national population database.", STAY_BASIS,
            f"Người lưu trú số thứ tự {', '.join(map(str, unknown))}: số định danh cá nhân đã kê khai không phải của "
            "người đang còn sống trong Cơ sở dữ liệu quốc gia về dân cư."))
    if mismatched:
        refusals.append(refusal(
            "guest_identity_mismatch",
            f"Guest(s) {', '.join(map(str, mismatched))}: name or birth date differ from the national population "
            "database.", STAY_BASIS,
            f"Người lưu trú số thứ tự {', '.join(map(str, mismatched))}: họ và tên hoặc ngày sinh đã kê khai không "
            "trùng khớp với Cơ sở dữ liệu quốc gia về dân cư."))
    if details.repeated_relative_visits and not rules.relatives_notify_once:
        refusals.append(refusal("repeat_notice_not_allowed",
                                "Repeated stays must each be notified under the rules in force.", STAY_BASIS,
                                "Theo quy định hiện hành, mỗi lần đến lưu trú đều phải thông báo lưu trú; không áp "
                                "dụng việc thông báo lưu trú một lần cho nhiều lần lưu trú."))
    elif details.repeated_relative_visits and details.host_kind != "household":
        refusals.append(refusal("repeat_notice_only_for_households",
                                "Only a host household notifies repeated stays of close relatives once.", STAY_BASIS,
                                "Chỉ hộ gia đình có người thân thích đến lưu trú nhiều lần mới được thông báo lưu trú "
                                "một lần."))
    return refusals


# ---- temporary absence (Điều 31) --------------------------------------------------------------------------


def temporary_absence_refusals(submission: TemporaryAbsenceDeclarationSubmission,
                               facts: HouseholdFacts) -> list[Refusal]:
    """Khai báo tạm vắng: the category's minimum absence, the supervising authority's consent, the right commune."""
    details = submission.details
    category = rules_for(submission.received_at).temporary_absence.categories[details.category]
    point = f"{ABSENCE_BASIS} khoản 1 điểm {details.category}"
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
