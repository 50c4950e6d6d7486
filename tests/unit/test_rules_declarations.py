"""Declaration (Điều 19), confirmation (CT07), stay notification (Điều 30) and temporary absence (Điều 31) rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain import rules_declarations
from domain.calendar import VN_TZ
from domain.eligibility import deadline_case_for, notes_for
from domain.procedures import Procedure
from domain.rules_declarations import stay_notified_late
from domain.rulesets import DeadlineCase, RuleSet, rules_for
from tests.factories import (
    OTHER_COMMUNE,
    address,
    consent,
    facts_of,
    person_facts,
    record_facts,
    unit_id,
    unit_person,
    unit_submission,
)
from tests.factories import (
    refusal_codes as codes,
)

PERSON = unit_person(unit_id(date(1985, 12, 12), "male"), date(1985, 12, 12), "male", "Đinh Văn Sơn")
HOST = unit_person(unit_id(date(1965, 8, 8), "male"), date(1965, 8, 8), "male", "Trần Văn Đức")
GUEST = unit_person(unit_id(date(1999, 9, 9), "female"), date(1999, 9, 9), "female", "Lý Thị Ngọc")
MINOR = unit_person(unit_id(date(2014, 1, 1), "male"), date(2014, 1, 1), "male", "Đinh Văn Tí")


# ---- residence declaration ----------------------------------------------------------------------------------


def declaration(applicant: Any = PERSON, **common: Any) -> Any:
    return unit_submission(Procedure.RESIDENCE_DECLARATION, applicant, {
        "current_place": address(line="Số 16A phố Mã Mây"),
        "reason_not_registered": "Không có chỗ ở hợp pháp để đăng ký thường trú, tạm trú"}, **common)


def declaration_facts(applicant: Any = PERSON, *, verified: bool = True, place_known: bool = True,
                      **records: Any) -> Any:
    residence = {"residence_id": 30, "owner_id": None, "floor_area_m2": Decimal(40), "barred_reason": None,
                 "household_id": None, "household_head_id": None, "member_count": 0}
    return facts_of(applicant, applicant={"identity_verified": verified},
                    residence=residence if place_known else None,
                    records={"personal_id": applicant.personal_id, **records})


def test_a_person_without_registered_residence_declares_the_current_place():
    assert codes(declaration(), declaration_facts()) == []
    previous = declaration_facts(declaration=record_facts(4))
    assert codes(declaration(), previous) == []  # a new declaration replaces an earlier one


def test_declaration_refusals():
    assert codes(declaration(), declaration_facts(permanent=record_facts())) == ["has_registered_residence"]
    temporary = record_facts(2, commune_code=OTHER_COMMUNE, valid_to=date(2027, 1, 1))
    assert codes(declaration(), declaration_facts(temporary=temporary)) == ["has_registered_residence"]
    assert codes(declaration(police_unit="CA-00073"), declaration_facts()) == ["wrong_police_unit"]
    assert codes(declaration(MINOR), declaration_facts(MINOR)) == ["minor_without_guardian_consent"]


@pytest.mark.parametrize(("verified", "place_known", "case"), [
    (True, True, DeadlineCase.STANDARD), (True, False, DeadlineCase.STANDARD),
    (False, True, DeadlineCase.VERIFICATION), (False, False, DeadlineCase.COMPLEX),
])
def test_declaration_deadline_cases(verified: bool, place_known: bool, case: DeadlineCase):
    assert deadline_case_for(declaration(), declaration_facts(verified=verified, place_known=place_known)) is case


# ---- residence confirmation ---------------------------------------------------------------------------------


def test_confirmation_any_station_half_day_or_three_days():
    confirmation = unit_submission(Procedure.RESIDENCE_CONFIRMATION, PERSON, {"purpose": "Bổ sung hồ sơ xin việc"},
                                   police_unit="CA-00073")
    recorded = declaration_facts(permanent=record_facts())
    assert codes(confirmation, recorded) == []  # any commune police station confirms
    assert deadline_case_for(confirmation, recorded) is DeadlineCase.STANDARD
    assert deadline_case_for(confirmation, declaration_facts()) is DeadlineCase.VERIFICATION  # nothing recorded
    unverified = declaration_facts(verified=False, permanent=record_facts())
    assert deadline_case_for(confirmation, unverified) is DeadlineCase.VERIFICATION


# ---- stay notification --------------------------------------------------------------------------------------

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

    monkeypatch.setattr(rules_declarations, "rules_for", strict)
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
    assert bool(notes_for(submission, stay_facts())) is late


# ---- temporary absence --------------------------------------------------------------------------------------


def absence(category: str = "d", until: str = "2027-11-10", consents: list[dict[str, Any]] | None = None) -> Any:
    return unit_submission(Procedure.TEMPORARY_ABSENCE_DECLARATION, PERSON, {
        "category": category, "absence_from": "2026-11-10", "absence_to": until,
        "destination": "Phường Hải Vân, Thành phố Đà Nẵng", "reason": "Đi làm việc dài hạn"},
        consents=consents or [])


def absence_facts(*, permanent: bool = True, temporary: bool = False) -> Any:
    records: dict[str, Any] = {"personal_id": PERSON.personal_id}
    if permanent:
        records["permanent"] = record_facts()
    if temporary:
        records["temporary"] = record_facts(2, valid_to=date(2027, 6, 1))
    return facts_of(PERSON, records=records)


AUTHORITY = [consent("supervising_authority", authority_name="Ủy ban nhân dân Phường Hoàn Kiếm")]


@pytest.mark.parametrize(("category", "until", "required"), [
    ("d", "2027-11-10", True), ("d", "2027-11-09", False),  # 12 months
    ("c", "2027-02-10", True), ("c", "2027-02-09", False),  # 3 months
    ("a", "2026-11-11", True), ("a", "2026-11-10", False),  # 1 day
    ("b", "2026-11-11", True),
])
def test_each_category_has_its_minimum_absence(category: str, until: str, required: bool):
    result = codes(absence(category, until, AUTHORITY), absence_facts())
    assert result == ([] if required else ["declaration_not_required"])


def test_categories_a_and_b_need_the_supervising_authority_consent():
    assert codes(absence("a", "2026-12-01"), absence_facts()) == ["supervising_authority_consent_missing"]
    unnamed = [consent("supervising_authority")]
    assert codes(absence("b", "2026-12-01", unnamed), absence_facts()) == ["supervising_authority_consent_missing"]
    assert codes(absence("c", "2027-03-01"), absence_facts()) == []


def test_the_commune_being_left():
    assert codes(absence(), absence_facts(permanent=False, temporary=True)) == ["not_resident_here"]
    assert codes(absence("a", "2026-12-01", AUTHORITY), absence_facts(permanent=False, temporary=True)) == []
    assert codes(absence(), absence_facts(permanent=False)) == ["not_resident_here"]


def test_absence_deadline_one_day_or_two_when_an_authority_must_be_asked():
    assert deadline_case_for(absence("a", "2026-12-01", AUTHORITY), absence_facts()) is DeadlineCase.COMPLEX
    assert deadline_case_for(absence("d"), absence_facts()) is DeadlineCase.STANDARD


def test_periods_come_from_the_rule_set_of_the_day_of_receipt():
    # Both rule sets give 12 months for (d); the rules are read through rules_for, not constants.
    for received in (datetime(2026, 6, 30, 3, tzinfo=UTC), datetime(2026, 7, 1, 3, tzinfo=UTC)):
        minimum = rules_for(received).temporary_absence.categories["d"].minimum_absence
        assert minimum.end_from(date(2026, 11, 10)) == date(2027, 11, 10)
