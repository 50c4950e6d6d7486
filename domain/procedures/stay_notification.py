"""Thông báo lưu trú — TTHC 2.001159: Luật Cư trú 2020, Điều 30 (sửa đổi bởi Luật 118/2025/QH15).

Accepted at once in one activity: no officer, no fee. A late stay notification is accepted and recorded as late
(``notified_late``), not refused: the purpose of the notice is that the police know who stays where, and refusing
it would hide the guest; the lateness may be sanctioned separately.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from domain.calendar import VN_TZ, local_date
from domain.facts import HouseholdFacts
from domain.identity import personal_id_problems
from domain.kinds import Procedure
from domain.models import Address, AwareDatetime, PersonalId, Refusal, Sex, SubmissionBase, a_person_name
from domain.procedures.common import Details, Text, refusal, wrong_authority
from domain.procedures.plan import RecordPlan, RecordStay, StayGuest
from domain.procedures.spec import Need, ProcedureSpec
from domain.rulesets import rules_for

BASIS = "Luật Cư trú 2020, Điều 30 (sửa đổi bởi Luật 118/2025/QH15)"


class Guest(Details):
    """A guest of a stay notification: name, birth date, and a personal ID or a passport number (Điều 30 khoản 4)."""

    full_name: Annotated[str, AfterValidator(a_person_name)] = Field(min_length=2, max_length=100)
    birth_date: date
    sex: Sex
    personal_id: PersonalId | None = None
    passport_number: str | None = Field(default=None, pattern=r"^[A-Z0-9]{6,12}$")

    @model_validator(mode="after")
    def _identified(self) -> Guest:
        if self.personal_id is None and self.passport_number is None:
            raise ValueError("a guest is identified by personal_id or passport_number")
        if self.personal_id is not None and (problems := personal_id_problems(self.personal_id, self.birth_date,
                                                                              self.sex)):
            raise ValueError("personal_id: " + "; ".join(problems))
        return self


class StayNotificationDetails(Details):
    """Thông báo lưu trú (Điều 30, sửa đổi 2025): who stays where, from when, until when, and why."""

    host_kind: Literal["household", "hotel", "hospital", "dormitory", "industrial_zone_lodging", "vehicle", "guest"]
    place: Address
    guests: tuple[Guest, ...] = Field(min_length=1, max_length=200, description="hospitals list their in-patients")
    arrival: AwareDatetime
    departure: date
    reason: Text
    repeated_relative_visits: bool = Field(
        default=False, description="one notice for repeated stays of close relatives (when the rule set allows it)"
    )

    @model_validator(mode="after")
    def _departure_after_arrival(self) -> StayNotificationDetails:
        if self.departure < local_date(self.arrival):
            raise ValueError("departure is before the day of arrival")
        return self


class StayNotificationSubmission(SubmissionBase):
    procedure: Literal[Procedure.STAY_NOTIFICATION] = Procedure.STAY_NOTIFICATION
    details: StayNotificationDetails


def stay_notified_late(submission: StayNotificationSubmission) -> bool:
    """Before 23:00 on the day of arrival, or before 08:00 the next day after a later arrival."""
    rules = rules_for(submission.received_at).stay_notification
    return submission.received_at > rules.due_by(submission.details.arrival)


def stay_notification_notes(submission: StayNotificationSubmission, facts: HouseholdFacts) -> list[str]:
    if not stay_notified_late(submission):
        return []
    return [late_stay_note(rules_for(submission.received_at).stay_notification.due_by(submission.details.arrival))]


def late_stay_note(due: datetime) -> str:
    return f"Notified late: due by {due.astimezone(VN_TZ).strftime('%H:%M %d/%m/%Y')}; accepted and recorded as late."


def stay_notification_refusals(submission: StayNotificationSubmission, facts: HouseholdFacts) -> list[Refusal]:
    """Thông báo lưu trú: accepted at once unless the stay is too long or a guest's identity is wrong."""
    details = submission.details
    rules = rules_for(submission.received_at).stay_notification
    refusals = wrong_authority(submission, details.place.commune_code, "the place of stay")
    if (details.departure - local_date(details.arrival)).days > rules.max_stay_days:
        refusals.append(refusal(
            "stay_too_long",
            f"A stay lasts at most {rules.max_stay_days} days; for a longer stay the guest registers a temporary "
            "residence.", BASIS,
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
            "national population database.", BASIS,
            f"Người lưu trú số thứ tự {', '.join(map(str, unknown))}: số định danh cá nhân đã kê khai không phải của "
            "người đang còn sống trong Cơ sở dữ liệu quốc gia về dân cư."))
    if mismatched:
        refusals.append(refusal(
            "guest_identity_mismatch",
            f"Guest(s) {', '.join(map(str, mismatched))}: name or birth date differ from the national population "
            "database.", BASIS,
            f"Người lưu trú số thứ tự {', '.join(map(str, mismatched))}: họ và tên hoặc ngày sinh đã kê khai không "
            "trùng khớp với Cơ sở dữ liệu quốc gia về dân cư."))
    if details.repeated_relative_visits and not rules.relatives_notify_once:
        refusals.append(refusal("repeat_notice_not_allowed",
                                "Repeated stays must each be notified under the rules in force.", BASIS,
                                "Theo quy định hiện hành, mỗi lần đến lưu trú đều phải thông báo lưu trú; không áp "
                                "dụng việc thông báo lưu trú một lần cho nhiều lần lưu trú."))
    elif details.repeated_relative_visits and details.host_kind != "household":
        refusals.append(refusal("repeat_notice_only_for_households",
                                "Only a host household notifies repeated stays of close relatives once.", BASIS,
                                "Chỉ hộ gia đình có người thân thích đến lưu trú nhiều lần mới được thông báo lưu trú "
                                "một lần."))
    return refusals


def plan(submission: StayNotificationSubmission, facts: HouseholdFacts, today: date) -> RecordPlan:
    """Each guest's stay is kept with its period and whether the notice came late."""
    details = submission.details
    late = stay_notified_late(submission)
    guests = tuple(StayGuest(personal_id=g.personal_id, passport_number=g.passport_number, full_name=g.full_name,
                             birth_date=g.birth_date) for g in details.guests)
    return RecordPlan(
        steps=(RecordStay(host_kind=details.host_kind, place=details.place, guests=guests, arrival=details.arrival,
                          departure=details.departure, reason=details.reason, notified_at=submission.received_at,
                          notified_late=late),),
        summary={"guests": str(len(details.guests)), "arrival": details.arrival.isoformat(),
                 "departure": details.departure.isoformat(), "notified_late": str(late).lower()},
    )


def _guest_ids(submission: StayNotificationSubmission) -> list[str]:
    return [g.personal_id for g in submission.details.guests if g.personal_id]


SPEC: ProcedureSpec[StayNotificationSubmission] = ProcedureSpec(
    procedure=Procedure.STAY_NOTIFICATION,
    vietnamese_name="Thông báo lưu trú",
    tthc_code="2.001159",
    legal_basis=BASIS,
    submission=StayNotificationSubmission,
    officer_review=False,
    has_fee=False,
    immediate=True,
    results=(),
    needs=frozenset({Need.NAMED}),
    refusals=stay_notification_refusals,
    plan=plan,
    notes=stay_notification_notes,
    place=lambda submission: submission.details.place,
    named_ids=_guest_ids,
)
