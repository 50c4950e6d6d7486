"""Stay notification rules (thông báo lưu trú, Luật Cư trú Điều 30): length, guests, authority, late notices."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from domain.calendar import VN_TZ
from domain.kinds import Procedure
from domain.procedures import stay_notification
from domain.procedures.stay_notification import stay_notified_late
from domain.rulesets import RuleSet, rules_for
from tests.factories import (
    OTHER_COMMUNE,
    address,
    facts_of,
    notes_of,
    person_facts,
    unit_id,
    unit_person,
    unit_submission,
)
from tests.factories import (
    refusal_codes as codes,
)

HOST = unit_person(unit_id(date(1965, 8, 8), "male"), date(1965, 8, 8), "male", "Trần Văn Đức")
GUEST = unit_person(unit_id(date(1999, 9, 9), "female"), date(1999, 9, 9), "female", "Lý Thị Ngọc")
ARRIVAL = datetime(2026, 11, 2, 14, 0, tzinfo=VN_TZ)


def stay(*, departure: date = date(2026, 11, 7), guests: list[dict[str, Any]] | None = None,
         arrival: datetime = ARRIVAL, received_at: datetime | None = None, **details: Any) -> Any:
    guest = {"full_name": GUEST.full_name, "birth_date": GUEST.birth_date.isoformat(), "sex": GUEST.sex,
             "personal_id": GUEST.personal_id}
    values = {"host_kind": "household", "place": address(line="Số 10A phố Hàng Buồm"), "guests": guests or [guest],
              "arrival": arrival.isoformat(), "departure": departure.isoformat(), "reason": "Thăm người thân"}
    return unit_submission(Procedure.STAY_NOTIFICATION, HOST, values | details,
                           received_at=received_at or datetime(2026, 11, 2, 15, 0, tzinfo=VN_TZ))


def stay_facts(**guest: Any) -> Any:
    return facts_of(HOST, named=[person_facts(GUEST, **guest)])


def test_a_household_notifies_a_guest():
    assert codes(stay(), stay_facts()) == []
    assert not stay_notified_late(stay())


@pytest.mark.parametrize(("departure", "expected"), [
    (date(2026, 12, 2), []), (date(2026, 12, 3), ["stay_too_long"]),
])
def test_a_stay_lasts_at_most_30_days(departure: date, expected: list[str]):
    assert codes(stay(departure=departure), stay_facts()) == expected


def test_guests_are_checked_against_the_population_database():
    assert codes(stay(), facts_of(HOST)) == ["guest_unknown"]
    assert codes(stay(), stay_facts(status="dead")) == ["guest_unknown"]
    assert codes(stay(), stay_facts(full_name="Lý Thị Ngân")) == ["guest_identity_mismatch"]
    passport = {"full_name": "Nguyễn Văn An", "birth_date": "1980-01-01", "sex": "male", "passport_number": "C1234567"}
    assert codes(stay(guests=[passport]), facts_of(HOST)) == []


def test_stay_authority_and_repeated_visits(monkeypatch: pytest.MonkeyPatch):
    assert codes(stay(place=address(line="Số 1", commune_code=OTHER_COMMUNE)), stay_facts()) == ["wrong_police_unit"]
    assert codes(stay(repeated_relative_visits=True), stay_facts()) == []
    assert codes(stay(repeated_relative_visits=True, host_kind="hotel"), stay_facts()) == [
        "repeat_notice_only_for_households"]

    def strict(received: Any) -> RuleSet:
        rules = rules_for(received)
        return rules.model_copy(update={"stay_notification": rules.stay_notification.model_copy(
            update={"relatives_notify_once": False})})

    monkeypatch.setattr(stay_notification, "rules_for", strict)
    assert codes(stay(repeated_relative_visits=True), stay_facts()) == ["repeat_notice_not_allowed"]


@pytest.mark.parametrize(("arrival", "received", "late"), [
    (datetime(2026, 11, 2, 14, 0), datetime(2026, 11, 2, 22, 59), False),  # before 23:00 the same day
    (datetime(2026, 11, 2, 14, 0), datetime(2026, 11, 2, 23, 1), True),
    (datetime(2026, 11, 2, 23, 30), datetime(2026, 11, 3, 7, 59), False),  # late arrival: before 08:00 next day
    (datetime(2026, 11, 2, 23, 30), datetime(2026, 11, 3, 8, 1), True),
])
def test_late_notification_is_accepted_and_noted(arrival: datetime, received: datetime, late: bool):
    submission = stay(arrival=arrival.replace(tzinfo=VN_TZ), received_at=received.replace(tzinfo=VN_TZ))
    assert codes(submission, stay_facts()) == []
    assert stay_notified_late(submission) is late
    assert bool(notes_of(submission, stay_facts())) is late
