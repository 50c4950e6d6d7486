"""Residence declaration rules (khai báo thông tin về cư trú, Luật Cư trú Điều 19) and its deadline cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.kinds import Procedure
from domain.rulesets import DeadlineCase
from tests.factories import (
    OTHER_COMMUNE,
    address,
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
MINOR = unit_person(unit_id(date(2014, 1, 1), "male"), date(2014, 1, 1), "male", "Đinh Văn Tí")


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
    assert deadline_case_of(declaration(), declaration_facts(verified=verified, place_known=place_known)) is case
