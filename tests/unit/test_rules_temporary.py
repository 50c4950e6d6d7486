"""Temporary residence rules (Luật Cư trú Điều 27–28): registration and extension, each refusal on its own.

Received on Monday 2 November 2026 (Vietnam), judged by the 2026-07-01 rule set: 30-day trigger, 24-month term,
15-day extension window.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.procedures import Procedure
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


# ---- extension ----------------------------------------------------------------------------------------------


def extension(until: str = "2027-11-10", applicant: Any = TENANT, subject: Any = None,
              consents: list[dict[str, Any]] | None = None, **common: Any) -> Any:
    details = {"requested_until": until, "subject_id": subject.personal_id if subject else None}
    return unit_submission(Procedure.TEMPORARY_RESIDENCE_EXTENSION, applicant, details,
                           consents=[consent("owner", LANDLORD)] if consents is None else consents, **common)


def extension_facts(valid_to: date | None = date(2026, 11, 10), *, subject: Any = None,
                    applicant_temporary: bool = True) -> Any:
    person = subject or TENANT
    term = record_facts(3, residence_id=10, valid_to=valid_to, valid_from=date(2025, 11, 11),
                        owner_id=LANDLORD.personal_id) if valid_to else None
    values: dict[str, Any] = {"records": {"personal_id": person.personal_id, "temporary": term}}
    if subject is not None:
        values["subject"] = person_facts(subject)
        values["applicant_records"] = {"personal_id": TENANT.personal_id,
                                       "temporary": term if applicant_temporary else None}
    return facts_of(TENANT, **values)


def test_extension_within_the_window():
    assert codes(extension(), extension_facts()) == []


@pytest.mark.parametrize(("valid_to", "expected"), [
    (date(2026, 11, 17), []),  # the window of 15 days opens on 2 November, the day of filing
    (date(2026, 11, 18), ["extension_too_early"]),
    (date(2026, 11, 2), []),  # the last day of the term
    (date(2026, 11, 1), ["temporary_residence_expired"]),
])
def test_the_15_day_window(valid_to: date, expected: list[str]):
    assert codes(extension("2027-06-01"), extension_facts(valid_to)) == expected


def test_the_new_end_is_later_and_at_most_two_years_on():
    assert codes(extension("2026-11-10"), extension_facts()) == ["extension_not_later"]
    assert codes(extension("2028-11-10"), extension_facts()) == []
    assert codes(extension("2028-11-11"), extension_facts()) == ["term_too_long"]


def test_nothing_to_extend_and_wrong_unit():
    assert codes(extension(), extension_facts(None)) == ["no_temporary_residence"]
    assert codes(extension(police_unit="CA-00073"), extension_facts()) == ["wrong_police_unit"]


def test_a_household_member_renews_for_another_with_the_owner_consent():
    other = unit_person(unit_id(date(1997, 7, 7), "female"), date(1997, 7, 7), "female", "Vũ Thị Mai")
    assert codes(extension(subject=other), extension_facts(subject=other)) == []
    assert codes(extension(subject=other, consents=[]), extension_facts(subject=other)) == ["owner_consent_missing"]
    assert codes(extension(subject=other), extension_facts(subject=other, applicant_temporary=False)) == [
        "not_household_member"]
    unknown = facts_of(TENANT, records={"personal_id": other.personal_id})
    assert codes(extension(subject=other), unknown) == ["subject_unknown"]
