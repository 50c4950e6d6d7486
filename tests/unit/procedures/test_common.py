"""Shared rule blocks: the deciding authority, filing windows, capacity; and what every details model refuses."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.kinds import Procedure
from domain.procedures.catalogue import field_errors, parse_submission
from domain.procedures.common import has_full_capacity, late_filing_note
from tests.factories import address, facts_of, person_facts, refusals_of, unit_id, unit_person, unit_submission

PERSON = unit_person(unit_id())


def test_permanent_registration_is_decided_by_the_police_of_the_residence():
    def registration(unit: str) -> Any:
        return unit_submission(Procedure.PERMANENT_RESIDENCE_REGISTRATION, PERSON,
                               {"basis": "own_residence", "residence": address()}, police_unit=unit)

    facts = facts_of(PERSON, residence={"residence_id": 1, "owner_id": PERSON.personal_id, "floor_area_m2": 50,
                                        "barred_reason": None, "household_id": None, "household_head_id": None,
                                        "member_count": 0})
    assert refusals_of(registration("CA-00070"), facts) == []
    refused = refusals_of(registration("CA-00073"), facts)
    assert [r.code for r in refused] == ["wrong_police_unit"]
    assert "Phường Hoàn Kiếm (CA-00070)" in refused[0].message


@pytest.mark.parametrize(("filed", "late"), [(date(2026, 11, 8), False), (date(2026, 11, 9), True)])
def test_a_window_of_days_starts_the_day_after_the_event(filed: date, late: bool):
    note = late_filing_note(date(2026, 11, 1), filed, 7, "Luật Cư trú 2020, Điều 24")
    assert (note is not None) is late
    if note:
        assert "ended on 08/11/2026" in note and "still due" in note


@pytest.mark.parametrize(("changes", "capable"), [
    ({}, True), ({"status": "dead"}, False), ({"full_civil_capacity": False}, False),
    ({"birth_date": date(2008, 11, 3)}, False), ({"birth_date": date(2008, 11, 2)}, True),  # 18 on the day
])
def test_full_civil_capacity_means_alive_adult_and_unrestricted(changes: dict[str, Any], capable: bool):
    assert has_full_capacity(person_facts(PERSON, **changes), date(2026, 11, 2)) is capable


def _stay(**details: Any) -> dict[str, Any]:
    return {"procedure": "StayNotification", "dossier_code": "HS-UNIT-000003",
            "received_at": "2026-11-02T09:00:00+07:00", "applicant": {
                "personal_id": PERSON.personal_id, "full_name": PERSON.full_name,
                "birth_date": PERSON.birth_date.isoformat(), "sex": PERSON.sex},
            "police_unit": "CA-00070", "declaration_truthful": True,
            "delivery": {"method": "electronic", "destination": "VNeID"},
            "details": {"host_kind": "hotel", "place": address(), "arrival": "2026-11-02T08:00:00+07:00",
                        "departure": "2026-11-04", "reason": "Du lịch",
                        "guests": [{"full_name": "Kim Min Jun", "birth_date": "1991-03-04", "sex": "male",
                                    "passport_number": "M1234567"}]} | details}


@pytest.mark.parametrize(("details", "expected"), [
    ({"reason": "Du\x00 lịch"}, "details.reason: Value error, contains a control character (such as NUL)"),
    ({"reason": "Du \ud800 lịch"}, "details.reason: "),  # pydantic refuses a lone surrogate itself
    ({"guests": [{"full_name": "Kim 1", "birth_date": "1991-03-04", "sex": "male", "passport_number": "M1234567"}]},
     "a name has letters"),
    ({"guests": [{"full_name": "Kim Min Jun", "birth_date": "1991-03-04", "sex": "male"}]},
     "identified by personal_id or passport_number"),
    ({"departure": "2026-11-01"}, "departure is before the day of arrival"),
])
def test_details_refuse_what_cannot_be_stored_or_makes_no_sense(details: dict[str, Any], expected: str):
    with pytest.raises(ValidationError) as error:
        parse_submission(_stay(**details))
    lines = field_errors(error.value)
    assert any(expected in line for line in lines), lines


def test_error_lines_are_storable_and_short_whatever_the_input():
    for raw in ({"procedure": "x\x00" * 1000}, {**_stay(), "a\x00" * 3000: 1}):
        with pytest.raises(ValidationError) as error:
            parse_submission(raw)
        for line in field_errors(error.value):
            assert "\x00" not in line and len(line) <= 1000
    with pytest.raises(ValidationError) as error:
        parse_submission({"procedure": "NoSuchProcedure"})
    assert field_errors(error.value) == ["procedure: must be one of " + ", ".join(p.value for p in Procedure)]
