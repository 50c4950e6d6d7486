"""Temporary absence rules (khai báo tạm vắng, Luật Cư trú Điều 31): categories, consent, commune, deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.kinds import Procedure
from domain.rulesets import DeadlineCase, rules_for
from tests.factories import (
    consent,
    deadline_case_of,
    facts_of,
    record_facts,
    unit_id,
    unit_person,
    unit_submission,
)
from tests.factories import (
    refusal_codes as codes,
)

PERSON = unit_person(unit_id(date(1985, 12, 12), "male"), date(1985, 12, 12), "male", "Đinh Văn Sơn")


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
    assert deadline_case_of(absence("a", "2026-12-01", AUTHORITY), absence_facts()) is DeadlineCase.COMPLEX
    assert deadline_case_of(absence("d"), absence_facts()) is DeadlineCase.STANDARD


def test_periods_come_from_the_rule_set_of_the_day_of_receipt():
    # Both rule sets give 12 months for (d); the rules are read through rules_for, not constants.
    for received in (datetime(2026, 6, 30, 3, tzinfo=UTC), datetime(2026, 7, 1, 3, tzinfo=UTC)):
        minimum = rules_for(received).temporary_absence.categories["d"].minimum_absence
        assert minimum.end_from(date(2026, 11, 10)) == date(2027, 11, 10)
