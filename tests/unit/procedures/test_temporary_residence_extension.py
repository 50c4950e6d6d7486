"""Temporary residence extension rules (Luật Cư trú Điều 28 khoản 3), each refusal on its own.

Received on Monday 2 November 2026 (Vietnam), judged by the 2026-07-01 rule set: 24-month term, 15-day
extension window.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.kinds import Procedure
from tests.factories import (
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
