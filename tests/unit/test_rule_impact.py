"""The rule-change preview: a candidate set judges in its block only, and only real differences are listed."""

from __future__ import annotations

from datetime import date, datetime

from domain.calendar import VN_TZ
from domain.rule_impact import Judgement, compare
from domain.rulesets import RuleSet, judged_by, rules_for
from tests.factories import unit_id, unit_person, unit_submission

DAY = date(2026, 11, 2)


def candidate(**permanent: int) -> RuleSet:
    raw = rules_for(DAY).model_dump(mode="json")
    raw["effective_from"] = "2027-01-01"
    raw["permanent_residence"] |= permanent
    return RuleSet.model_validate(raw)


def test_a_candidate_judges_inside_its_block_only():
    draft = candidate(min_floor_area_per_person_m2=12)
    with judged_by(draft):
        assert rules_for(date(2021, 8, 1)).effective_from == date(2027, 1, 1)
    assert rules_for(DAY).permanent_residence.min_floor_area_per_person_m2 == 8


def test_only_what_differs_is_listed():
    from domain.kinds import Procedure

    person = unit_person(unit_id(date(1990, 5, 17), "female"), date(1990, 5, 17), "female", "Nguyễn Thị Ánh Tuyết")
    submission = unit_submission(Procedure.RESIDENCE_CONFIRMATION, person, {"purpose": "Bổ sung hồ sơ nhập học"})
    now = Judgement(rule_set=date(2026, 7, 1), deadline="0.5 working days", fee_vnd=0, documents="CT07",
                    appointment=datetime(2026, 11, 3, 11, 30, tzinfo=VN_TZ), outcome="accepted")
    assert compare(submission, now, now.model_copy(update={"rule_set": date(2027, 1, 1)})) is None
    changed = compare(submission, now, now.model_copy(update={"fee_vnd": 5000, "outcome": "identity_unknown"}))
    assert changed is not None
    assert [(c.aspect, c.before, c.after) for c in changed.changes] == [
        ("fee", "0", "5000"), ("outcome", "accepted", "identity_unknown")]
