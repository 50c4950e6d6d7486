"""Every permanent-registration rule (Luật Cư trú Điều 20–23), each refusal reason on its own."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.facts import HouseholdFacts, PersonFacts, ResidenceFacts
from domain.identity import generate_personal_id
from domain.procedures.catalogue import parse_submission
from domain.procedures.permanent_residence_registration import PermanentResidenceRegistrationSubmission
from tests.factories import attachment, refusals_of

RNG = random.Random(5)
APPLICANT = generate_personal_id(RNG, "01", date(1990, 5, 17), "female")
MINOR = generate_personal_id(RNG, "01", date(2015, 3, 2), "male")
HEAD = generate_personal_id(RNG, "01", date(1960, 1, 9), "male")
OWNER = generate_personal_id(RNG, "01", date(1955, 7, 30), "female")
GUARDIAN = generate_personal_id(RNG, "01", date(1985, 2, 2), "female")
CONTRACT = attachment("certified_rental_contract")


def submission(basis: str = "own_residence", applicant: str = APPLICANT, consents: list[dict[str, str]] | None = None,
               attachments: list[dict[str, Any]] | None = None, **details: Any
               ) -> PermanentResidenceRegistrationSubmission:
    birth = date(2015, 3, 2) if applicant == MINOR else date(1990, 5, 17)
    sex = "male" if applicant == MINOR else "female"
    parsed = parse_submission({
        "procedure": "PermanentResidenceRegistration",
        "dossier_code": "HS-UNIT-000001",
        "received_at": datetime(2026, 11, 2, 9, tzinfo=UTC).isoformat(),
        "applicant": {"personal_id": applicant, "full_name": "Nguyễn Thị Ánh Tuyết", "birth_date": birth.isoformat(),
                      "sex": sex},
        "police_unit": "CA-00070",
        "declaration_truthful": True,
        "consents": consents or [],
        "attachments": attachments or [],
        "delivery": {"method": "electronic", "destination": "VNeID"},
        "details": {"basis": basis, "residence": {"province_code": "01", "commune_code": "00070",
                                                  "address_line": "Số 1 phố Hàng Bài"}, **details},
    })
    assert isinstance(parsed, PermanentResidenceRegistrationSubmission)
    return parsed


def person(pid: str = APPLICANT, **changes: Any) -> PersonFacts:
    minor = pid == MINOR
    values = {"personal_id": pid, "full_name": "Nguyễn Thị Ánh Tuyết",
              "birth_date": date(2015, 3, 2) if minor else date(1990, 5, 17), "sex": "male" if minor else "female",
              "status": "alive", "full_civil_capacity": True} | changes
    return PersonFacts.model_validate(values)


def facts(applicant: str = APPLICANT, current: int | None = None, **residence: Any) -> HouseholdFacts:
    values = {"residence_id": 10, "owner_id": applicant, "floor_area_m2": Decimal(60), "barred_reason": None,
              "household_id": None, "household_head_id": None, "member_count": 0} | residence
    return HouseholdFacts(applicant=person(applicant), residence=ResidenceFacts.model_validate(values),
                          current_permanent_residence_id=current)


def codes(sub: PermanentResidenceRegistrationSubmission, f: HouseholdFacts) -> list[str]:
    return [r.code for r in refusals_of(sub, f)]


def test_owner_registering_at_own_residence_is_eligible():
    assert codes(submission(), facts()) == []


def test_unknown_residence_is_refused():
    assert codes(submission(), HouseholdFacts(applicant=person())) == ["residence_unknown"]


def test_barred_place_is_refused_whatever_the_basis():
    assert codes(submission(), facts(barred_reason="khu vực cấm")) == ["barred_place"]


def test_already_registered_at_the_same_residence():
    assert codes(submission(), facts(current=10)) == ["already_registered_here"]


def test_not_the_owner():
    assert codes(submission(), facts(owner_id=OWNER)) == ["not_owner"]


def test_minor_needs_parent_or_guardian_consent():
    sub = submission(applicant=MINOR)
    assert codes(sub, facts(applicant=MINOR)) == ["minor_without_guardian_consent"]
    consented = submission(applicant=MINOR, consents=[{"role": "parent_or_guardian", "personal_id": GUARDIAN}])
    assert codes(consented, facts(applicant=MINOR)) == []


def test_joining_a_relative_needs_a_household_and_the_head_consent():
    join = {"basis": "join_relative", "relation_to_head": "child"}
    assert codes(submission(**join), facts(owner_id=HEAD)) == ["no_household_to_join", "owner_consent_missing"]
    at_head = facts(owner_id=HEAD, household_id=3, household_head_id=HEAD, member_count=3)
    assert codes(submission(**join), at_head) == ["household_head_consent_missing", "owner_consent_missing"]
    head_consents = [{"role": "household_head", "personal_id": HEAD}, {"role": "owner", "personal_id": HEAD}]
    assert codes(submission(consents=head_consents, **join), at_head) == []


def test_consent_of_the_wrong_person_does_not_count():
    join = {"basis": "join_relative", "relation_to_head": "child"}
    at_head = facts(owner_id=None, household_id=3, household_head_id=HEAD, member_count=3)
    wrong = [{"role": "household_head", "personal_id": OWNER}]
    assert codes(submission(consents=wrong, **join), at_head) == ["household_head_consent_missing"]


def test_rented_housing_needs_certified_contract_owner_consent_and_floor_area():
    rented = submission("rented_or_borrowed", joins_household=True)
    small = facts(owner_id=OWNER, floor_area_m2=Decimal(20), household_id=4, household_head_id=HEAD, member_count=2)
    assert codes(rented, small) == [
        "contract_not_certified", "household_head_consent_missing", "floor_area_too_small", "owner_consent_missing"
    ]
    ok = submission("rented_or_borrowed", attachments=[CONTRACT], joins_household=True,
                    consents=[{"role": "owner", "personal_id": OWNER}, {"role": "household_head", "personal_id": HEAD}])
    assert codes(ok, small) == ["floor_area_too_small"]
    assert codes(ok, facts(owner_id=OWNER, floor_area_m2=Decimal(24), household_id=4, household_head_id=HEAD,
                           member_count=2)) == []


@pytest.mark.parametrize(("area", "members", "refused"), [(Decimal(16), 1, False), (Decimal("15.9"), 1, True)])
def test_floor_area_boundary_is_eight_square_metres_per_person(area: Decimal, members: int, refused: bool):
    ok = submission("rented_or_borrowed", attachments=[CONTRACT], consents=[{"role": "owner", "personal_id": OWNER}])
    result = codes(ok, facts(owner_id=OWNER, floor_area_m2=area, member_count=members))
    assert ("floor_area_too_small" in result) is refused


def test_provincial_minimum_above_eight_applies():
    ok = submission("rented_or_borrowed", attachments=[CONTRACT], consents=[{"role": "owner", "personal_id": OWNER}])
    roomy = facts(owner_id=OWNER, floor_area_m2=Decimal(18), member_count=1)
    assert codes(ok, roomy) == []
    strict = roomy.model_copy(update={"provincial_min_floor_area_m2": Decimal(10)})
    assert codes(ok, strict) == ["floor_area_too_small"]


# ---- issue 24: consent, co-owners, relations, occupants, notes -------------------------------------------------

RENTED_OK = {"attachments": [CONTRACT], "consents": [{"role": "owner", "personal_id": OWNER}]}


def test_a_tenant_on_their_own_needs_no_head_consent_and_heads_a_new_household():
    """Điều 20 khoản 3 điểm a: the head consents only when the tenant registers into that household."""
    from domain.procedures.permanent_residence_registration import plan
    from domain.procedures.plan import CreateHousehold

    at_head = facts(owner_id=OWNER, household_id=4, household_head_id=HEAD, member_count=1)
    assert codes(submission("rented_or_borrowed", **RENTED_OK), at_head) == []
    joining = submission("rented_or_borrowed", joins_household=True, **RENTED_OK)
    assert codes(joining, at_head) == ["household_head_consent_missing"]
    steps = plan(submission("rented_or_borrowed", **RENTED_OK), at_head, date(2026, 11, 3)).steps
    assert any(isinstance(step, CreateHousehold) for step in steps)
    assert not any(isinstance(step, CreateHousehold) for step in plan(joining, at_head, date(2026, 11, 3)).steps)


def test_every_co_owner_consents_unless_they_appointed_a_representative():
    from domain.procedures.permanent_residence_registration import owners_who_consent

    shared = facts(owner_id=OWNER, co_owner_ids=(HEAD, GUARDIAN))
    assert owners_who_consent(shared.residence) == (OWNER, HEAD, GUARDIAN)  # type: ignore[arg-type]
    only_owner = submission("rented_or_borrowed", **RENTED_OK)
    assert codes(only_owner, shared) == ["owner_consent_missing"]
    represented = facts(owner_id=OWNER, co_owner_ids=(HEAD, GUARDIAN), owners_representative_id=OWNER)
    assert owners_who_consent(represented.residence) == (OWNER,)  # type: ignore[arg-type]
    assert codes(only_owner, represented) == []


@pytest.mark.parametrize(("relation", "age", "incapacitated", "allowed"), [
    ("spouse", 30, False, True), ("child", 40, False, True), ("parent", 70, False, True),  # điểm a
    ("sibling", 59, False, False), ("sibling", 60, False, True), ("uncle_aunt", 65, False, True),  # điểm b, elderly
    ("grandchild", 30, False, False), ("grandchild", 30, True, True), ("ward", 30, True, True),  # điểm b, incapable
    ("great_grandchild", 10, False, True), ("nephew_niece", 17, False, True), ("nephew_niece", 18, False, False),
    ("other_relative", 10, True, False),  # no case of khoản 2
])
def test_relations_that_may_join_a_relative(relation: Any, age: int, incapacitated: bool, allowed: bool):
    from domain.procedures.permanent_residence_registration import may_join_relative

    assert may_join_relative(relation, age, incapacitated) is allowed


def test_a_relation_outside_article_20_2_is_refused_and_proof_is_noted():
    from domain.procedures.permanent_residence_registration import RELATIONSHIP_PROOF_NOTE, registration_notes

    at_head = facts(owner_id=HEAD, household_id=3, household_head_id=HEAD, member_count=3)
    consents = [{"role": "household_head", "personal_id": HEAD}]
    cousin = submission("join_relative", relation_to_head="other_relative", consents=consents)
    assert codes(cousin, at_head) == ["relation_not_eligible"]
    child = submission("join_relative", relation_to_head="child", consents=consents)
    assert codes(child, at_head) == []
    assert registration_notes(child, at_head) == [RELATIONSHIP_PROOF_NOTE]


def test_occupants_of_every_household_at_the_address_share_the_floor_area():
    """After a separation two households live at 24 m²: 3 occupants, not the 1 of the first household."""
    one_household = facts(owner_id=OWNER, floor_area_m2=Decimal(24), household_id=4, household_head_id=HEAD,
                          member_count=1)
    assert codes(submission("rented_or_borrowed", **RENTED_OK), one_household) == []
    separated = one_household.model_copy(update={"residence": one_household.residence.model_copy(  # type: ignore
        update={"occupant_count": 3})})
    assert codes(submission("rented_or_borrowed", **RENTED_OK), separated) == ["floor_area_too_small"]


def test_overseas_vietnamese_and_commune_committee_routes_are_noted():
    from domain.procedures.permanent_residence_registration import (
        COMMUNE_COMMITTEE_NOTE,
        OVERSEAS_NOTE,
        registration_notes,
    )

    overseas = submission(overseas_vietnamese=True)
    assert registration_notes(overseas, facts()) == [OVERSEAS_NOTE]
    declared = submission("rented_or_borrowed", declared_floor_area_m2="45", **RENTED_OK)
    assert registration_notes(declared, facts(owner_id=OWNER)) == [COMMUNE_COMMITTEE_NOTE]
    assert registration_notes(submission("rented_or_borrowed", declared_floor_area_m2="60", **RENTED_OK),
                              facts(owner_id=OWNER)) == []


def test_the_law_minimum_comes_from_the_rule_set_and_a_province_only_raises_it():
    from domain.rulesets import ProvincialSetting, min_floor_area_per_person, provincial_setting_problem

    assert min_floor_area_per_person(date(2026, 11, 2), None) == Decimal(8)
    assert min_floor_area_per_person(date(2026, 11, 2), Decimal(15)) == Decimal(15)
    assert min_floor_area_per_person(date(2026, 11, 2), Decimal(5)) == Decimal(8)
    setting = ProvincialSetting.MIN_FLOOR_AREA_PER_PERSON_M2
    assert provincial_setting_problem(setting, Decimal("7.9"), date(2027, 1, 1)) is not None
    assert provincial_setting_problem(setting, Decimal(8), date(2027, 1, 1)) is None


def test_the_legacy_boolean_still_validates_but_proves_nothing():
    """Submissions filed before attachments carry ``contract_certified``: they still parse (recorded histories
    replay), but only an attached certified contract satisfies the rule now."""
    roomy = facts(owner_id=OWNER, floor_area_m2=Decimal(60))
    owner = [{"role": "owner", "personal_id": OWNER}]
    assert codes(submission("rented_or_borrowed", contract_certified=True, consents=owner), roomy) == [
        "contract_not_certified"]
    assert codes(submission("rented_or_borrowed", consents=owner, attachments=[CONTRACT]), roomy) == []


def test_a_paper_of_a_kind_the_procedure_does_not_take_is_refused_at_once():
    with pytest.raises(ValidationError, match="takes no death_certificate"):
        submission(attachments=[attachment("death_certificate")])
