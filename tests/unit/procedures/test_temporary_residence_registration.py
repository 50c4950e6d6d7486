"""Temporary residence registration rules (Luật Cư trú Điều 27–28), each refusal on its own.

Received on Monday 2 November 2026 (Vietnam), judged by the 2026-07-01 rule set: 30-day trigger, 24-month term.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.kinds import Procedure
from tests.factories import (
    OTHER_COMMUNE,
    address,
    consent,
    facts_of,
    record_facts,
    unit_id,
    unit_person,
    unit_submission,
)
from tests.factories import (
    refusal_codes as codes,
)

TENANT = unit_person(unit_id(date(1995, 6, 6), "male"), date(1995, 6, 6), "male", "Lê Minh Quân")
LANDLORD = unit_person(unit_id(date(1970, 3, 3), "female"), date(1970, 3, 3), "female", "Đỗ Thị Hoa")
CHILD = unit_person(unit_id(date(2012, 2, 2), "female"), date(2012, 2, 2), "female", "Lê Thị Na")
HEAD = unit_person(unit_id(date(1965, 8, 8), "male"), date(1965, 8, 8), "male", "Trần Văn Đức")


def registration(until: str = "2027-05-01", basis: str = "rented_or_borrowed", applicant: Any = TENANT,
                 consents: list[dict[str, Any]] | None = None, **common: Any) -> Any:
    details: dict[str, Any] = {"basis": basis, "residence": address(), "requested_until": until}
    if basis == "join_relative":
        details["relation_to_head"] = "nephew_niece"
    default = [consent("owner", LANDLORD)]
    return unit_submission(Procedure.TEMPORARY_RESIDENCE_REGISTRATION, applicant, details,
                           consents=default if consents is None else consents, **common)


def registration_facts(applicant: Any = TENANT, *, permanent_commune: str | None = OTHER_COMMUNE,
                       temporary: dict[str, Any] | None = None, **residence: Any) -> Any:
    place = {"residence_id": 10, "owner_id": LANDLORD.personal_id, "floor_area_m2": Decimal(20),
             "barred_reason": None, "household_id": None, "household_head_id": None, "member_count": 0} | residence
    permanent = record_facts(commune_code=permanent_commune, residence_id=99) if permanent_commune else None
    records = {"personal_id": applicant.personal_id, "temporary": temporary, "permanent": permanent}
    return facts_of(applicant, residence=place, records=records)


def test_a_tenant_registers_with_the_owner_consent():
    assert codes(registration(), registration_facts()) == []
    assert codes(registration(), registration_facts(permanent_commune=None)) == []  # no permanent residence at all


def test_unknown_barred_and_wrong_unit():
    assert codes(registration(), facts_of(TENANT)) == ["residence_unknown"]
    assert codes(registration(), registration_facts(barred_reason="đất lấn chiếm")) == ["barred_place"]
    assert codes(registration(police_unit="CA-00073"), registration_facts()) == ["wrong_police_unit"]


def test_a_minor_needs_a_guardian():
    minor = registration(applicant=CHILD)
    assert codes(minor, registration_facts(CHILD)) == ["minor_without_guardian_consent"]
    with_parent = registration(applicant=CHILD, consents=[consent("owner", LANDLORD),
                                                           consent("parent_or_guardian", TENANT)])
    assert codes(with_parent, registration_facts(CHILD)) == []


@pytest.mark.parametrize(("until", "expected"), [
    ("2026-12-01", ["term_below_registration_trigger"]),  # 29 days
    ("2026-12-02", []),  # 30 days: the trigger
    ("2028-11-02", []),  # 24 months
    ("2028-11-03", ["term_too_long"]),
])
def test_term_between_the_30_day_trigger_and_two_years(until: str, expected: list[str]):
    assert codes(registration(until), registration_facts()) == expected


def test_only_outside_the_commune_of_permanent_residence():
    assert codes(registration(), registration_facts(permanent_commune="00070")) == [
        "within_commune_of_permanent_residence"]


def test_already_registered_at_the_same_place():
    current = record_facts(3, residence_id=10, valid_to=date(2027, 1, 1))
    assert codes(registration(), registration_facts(temporary=current)) == ["already_registered_here"]
    elsewhere = record_facts(3, residence_id=11, valid_to=date(2027, 1, 1))
    assert codes(registration(), registration_facts(temporary=elsewhere)) == []  # a move: the old one ends


def test_consents_and_ownership():
    assert codes(registration(consents=[]), registration_facts()) == ["owner_consent_missing"]
    assert codes(registration(basis="own_residence", consents=[]), registration_facts(owner_id=LANDLORD.personal_id)
                 ) == ["not_owner", "owner_consent_missing"]
    assert codes(registration(basis="own_residence", consents=[]), registration_facts(owner_id=TENANT.personal_id)
                 ) == []
    join = registration(basis="join_relative", consents=[consent("owner", LANDLORD)])
    assert codes(join, registration_facts()) == ["no_household_to_join"]
    with_head = registration_facts(household_id=4, household_head_id=HEAD.personal_id, member_count=2)
    assert codes(join, with_head) == ["household_head_consent_missing"]
    both = registration(basis="join_relative", consents=[consent("owner", LANDLORD), consent("household_head", HEAD)])
    assert codes(both, with_head) == []


# ---- issue 24: registration by list, the newborn ----------------------------------------------------------------


def test_registration_by_list_pays_per_person_and_registers_everyone_listed():
    from domain.procedures.temporary_residence_registration import list_fee_basis, plan
    from domain.rulesets import fee_for
    from tests.factories import person_facts

    listed = {"organisation": "Công ty TNHH May Hưng Yên", "letter_number": "15/CV-MHY",
              "others": [LANDLORD.personal_id, HEAD.personal_id]}
    by_list = unit_submission(Procedure.TEMPORARY_RESIDENCE_REGISTRATION, TENANT, {
        "basis": "rented_or_borrowed", "residence": address(), "requested_until": "2027-05-01", "by_list": listed},
        consents=[consent("owner", LANDLORD)])
    assert list_fee_basis(by_list) == (3, True)
    assert list_fee_basis(registration()) == (1, False)
    assert fee_for(Procedure.TEMPORARY_RESIDENCE_REGISTRATION, "online", date(2026, 11, 2),
                   *list_fee_basis(by_list)) == 3 * 5000
    known = registration_facts().model_copy(update={"named": (person_facts(LANDLORD), person_facts(HEAD))})
    assert codes(by_list, known) == []
    assert codes(by_list, registration_facts()) == ["listed_person_unknown"]
    started = [step.personal_id for step in plan(by_list, known, date(2026, 11, 3)).steps
               if type(step).__name__ == "StartRecord"]
    assert started == [TENANT.personal_id, LANDLORD.personal_id, HEAD.personal_id]


@pytest.mark.parametrize(("registered_on", "late"), [("2026-09-03", False), ("2026-09-02", True)])
def test_a_newborn_is_registered_within_60_days_of_birth_registration(registered_on: str, late: bool):
    from domain.procedures.temporary_residence_registration import newborn_note

    newborn = unit_submission(Procedure.TEMPORARY_RESIDENCE_REGISTRATION, TENANT, {
        "basis": "rented_or_borrowed", "residence": address(), "requested_until": "2027-05-01",
        "newborn": {"child_id": CHILD.personal_id, "birth_registered_on": registered_on}},
        consents=[consent("owner", LANDLORD)])
    assert bool(newborn_note(newborn)) is late
