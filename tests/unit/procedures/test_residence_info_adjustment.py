"""Residence information adjustment rules (điều chỉnh thông tin về cư trú, Luật Cư trú Điều 26)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.kinds import Procedure
from tests.factories import (
    consent,
    facts_of,
    household_facts,
    member_facts,
    unit_id,
    unit_person,
    unit_submission,
)
from tests.factories import (
    refusal_codes as codes,
)

HEAD = unit_person(unit_id(date(1958, 1, 1), "male"), date(1958, 1, 1), "male", "Trần Văn Đức")
SON = unit_person(unit_id(date(1988, 2, 2), "male"), date(1988, 2, 2), "male", "Trần Minh Khoa")
DAUGHTER_IN_LAW = unit_person(unit_id(date(1990, 3, 3), "female"), date(1990, 3, 3), "female", "Ngô Thị Thu")
GRANDCHILD = unit_person(unit_id(date(2016, 4, 4), "male"), date(2016, 4, 4), "male", "Trần Gia Bảo")
OWNER = unit_person(unit_id(date(1950, 5, 5), "female"), date(1950, 5, 5), "female", "Lý Thị Hằng")


def household(applicant: Any = SON, *, son_capable: bool = True, head_status: str = "alive",
              commune_code: str = "00070", owner: Any = None) -> Any:
    members = household_facts(HEAD, member_facts(SON, "child", capable=son_capable),
                              member_facts(DAUGHTER_IN_LAW, "child_in_law"), member_facts(GRANDCHILD, "grandchild"),
                              owner_id=owner.personal_id if owner else None, commune_code=commune_code)
    members["members"][0]["status"] = head_status
    return facts_of(applicant, records={"personal_id": applicant.personal_id, "household": members})


def adjustment(change: str = "household_head", applicant: Any = SON, consents: list[dict[str, Any]] | None = None,
               **details: Any) -> Any:
    values: dict[str, Any] = {"change": change} | details
    if change == "household_head":
        values.setdefault("new_head_id", SON.personal_id)
    return unit_submission(Procedure.RESIDENCE_INFO_ADJUSTMENT, applicant, values,
                           consents=[consent("household_head", HEAD)] if consents is None else consents)


def test_a_new_household_head_with_the_current_head_consent():
    assert codes(adjustment(), household()) == []
    assert codes(adjustment(consents=[]), household()) == ["household_head_consent_missing"]
    assert codes(adjustment(consents=[]), household(head_status="dead")) == []  # the head died: nobody to consent
    assert codes(adjustment(applicant=HEAD, consents=[]), household(HEAD)) == []  # the head hands over


def test_new_head_refusals():
    assert codes(adjustment(), facts_of(SON)) == ["no_household"]
    assert codes(adjustment(), household(commune_code="00073")) == ["wrong_police_unit"]
    assert codes(adjustment(new_head_id=OWNER.personal_id), household()) == ["new_head_not_member"]
    assert codes(adjustment(new_head_id=HEAD.personal_id), household()) == ["nothing_to_change"]
    assert codes(adjustment(), household(son_capable=False)) == ["new_head_without_full_capacity"]
    assert codes(adjustment(new_head_id=GRANDCHILD.personal_id), household()) == ["new_head_without_full_capacity"]


def test_civil_status_and_address_changes():
    renamed = {"new_full_name": "Trần Minh Khôi", "civil_status_extract_number": "123/TLKS-BS"}
    assert codes(adjustment("civil_status", consents=[], **renamed), household()) == []
    assert codes(adjustment("civil_status", consents=[], new_full_name="Trần Minh Khôi"), household()) == [
        "civil_status_proof_missing"]
    assert codes(adjustment("civil_status", consents=[], **renamed | {"new_full_name": SON.full_name}), household()
                 ) == ["nothing_to_change"]
    electronic = adjustment("civil_status", consents=[], civil_status_source="electronic_civil_status_db", **renamed)
    assert codes(electronic, household()) == ["no_procedure_needed"]
    assert codes(adjustment("address", consents=[], new_address_line="Số 3 phố Hàng Gai"), household()) == [
        "address_adjusted_by_police"]


def test_adjustment_model_needs_the_new_value():
    with pytest.raises(ValidationError, match="new_full_name is required"):
        adjustment("civil_status")
