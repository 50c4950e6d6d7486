"""Household separation rules (tách hộ, Luật Cư trú Điều 25), each refusal on its own."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.kinds import Procedure
from tests.factories import (
    attachment,
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


def separation(*members: tuple[Any, str], applicant: Any = SON, consents: list[dict[str, Any]] | None = None,
               attachments: list[dict[str, Any]] | None = None, **details: Any) -> Any:
    listed = members or ((SON, "head"), (DAUGHTER_IN_LAW, "spouse"), (GRANDCHILD, "child"))
    return unit_submission(Procedure.HOUSEHOLD_SEPARATION, applicant, {
        "members": [{"personal_id": p.personal_id, "relation_to_new_head": r} for p, r in listed], **details},
        consents=[consent("household_head", HEAD)] if consents is None else consents,
        attachments=attachments or [])


def test_a_son_splits_off_with_his_family():
    assert codes(separation(), household()) == []


def test_no_household_or_wrong_unit():
    assert codes(separation(), facts_of(SON)) == ["no_household"]
    assert codes(separation(), household(commune_code="00073")) == ["wrong_police_unit"]


def test_who_may_file_and_who_may_split_off():
    only_son = separation((SON, "head"), applicant=DAUGHTER_IN_LAW)
    assert codes(only_son, household(DAUGHTER_IN_LAW)) == ["not_entitled_to_file"]
    assert codes(separation((SON, "head"), applicant=HEAD), household(HEAD)) == []  # the head files for a member
    outsider = unit_person(unit_id(date(1991, 1, 1), "male"), date(1991, 1, 1), "male", "Lê Văn Tám")
    assert codes(separation((SON, "head"), (outsider, "sibling")), household()) == ["members_not_in_household"]
    assert codes(separation((HEAD, "head"), applicant=HEAD), household(HEAD)) == ["head_cannot_separate"]
    everyone = separation((HEAD, "parent"), (SON, "head"), (DAUGHTER_IN_LAW, "spouse"), (GRANDCHILD, "child"))
    assert codes(everyone, household()) == ["head_cannot_separate"]


def test_full_civil_capacity():
    alone = separation((GRANDCHILD, "head"), applicant=HEAD)
    assert codes(alone, household(HEAD)) == ["no_member_with_full_capacity"]
    child_head = separation((GRANDCHILD, "head"), (SON, "parent"))
    assert codes(child_head, household()) == ["new_head_without_full_capacity"]
    assert codes(separation(), household(son_capable=False)) == ["new_head_without_full_capacity"]
    assert codes(separation((DAUGHTER_IN_LAW, "head"), (SON, "spouse")), household(son_capable=False)) == []


def test_consent_of_the_head_or_the_owner():
    assert codes(separation(consents=[]), household()) == ["household_head_consent_missing"]
    assert codes(separation(consents=[consent("owner", OWNER)]), household(owner=OWNER)) == []


def test_divorced_spouses_prove_their_right_to_stay_instead_of_consent():
    decision, right = attachment("divorce_decision"), attachment("residence_right_proof")
    proven = separation(consents=[], divorce={}, attachments=[decision, right])
    assert codes(proven, household()) == []
    assert codes(separation(consents=[], divorce={}, attachments=[decision]), household()) == [
        "divorce_residence_right_unproven"]
    assert codes(separation(consents=[], divorce={}, attachments=[right]), household()) == ["divorce_unproven"]
    # Filed before attachments: the booleans still validate, and prove nothing now.
    legacy = separation(consents=[], divorce={"divorce_proven": True, "right_to_use_residence_proven": True})
    assert codes(legacy, household()) == ["divorce_unproven", "divorce_residence_right_unproven"]


def test_separation_model_needs_exactly_one_new_head():
    with pytest.raises(ValidationError, match="exactly one member is the head"):
        separation((SON, "spouse"))
    with pytest.raises(ValidationError, match="each person is listed once"):
        separation((SON, "head"), (SON, "spouse"))
