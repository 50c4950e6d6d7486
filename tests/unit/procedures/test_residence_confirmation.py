"""Residence confirmation (xác nhận thông tin về cư trú, CT07): no refusal beyond identity, and its deadline cases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from domain.kinds import Procedure
from domain.rulesets import DeadlineCase
from tests.factories import (
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


def declaration_facts(applicant: Any = PERSON, *, verified: bool = True, place_known: bool = True,
                      **records: Any) -> Any:
    residence = {"residence_id": 30, "owner_id": None, "floor_area_m2": Decimal(40), "barred_reason": None,
                 "household_id": None, "household_head_id": None, "member_count": 0}
    return facts_of(applicant, applicant={"identity_verified": verified},
                    residence=residence if place_known else None,
                    records={"personal_id": applicant.personal_id, **records})


def test_confirmation_any_station_half_day_or_three_days():
    confirmation = unit_submission(Procedure.RESIDENCE_CONFIRMATION, PERSON, {"purpose": "Bổ sung hồ sơ xin việc"},
                                   police_unit="CA-00073")
    recorded = declaration_facts(permanent=record_facts())
    assert codes(confirmation, recorded) == []  # any commune police station confirms
    assert deadline_case_of(confirmation, recorded) is DeadlineCase.STANDARD
    assert deadline_case_of(confirmation, declaration_facts()) is DeadlineCase.VERIFICATION  # nothing recorded
    unverified = declaration_facts(verified=False, permanent=record_facts())
    assert deadline_case_of(confirmation, unverified) is DeadlineCase.VERIFICATION
