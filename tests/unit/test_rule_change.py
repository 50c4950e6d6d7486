"""A new rule set that changes one procedure's deadline is one new file of rule data, and changes only that.

The rule loader is pointed at a copy of ``domain/rules`` with one more dated set, as a maintainer would add it
beside the others: temporary residence registration takes four working days instead of three from 2027-01-01.
Every procedure is then judged again, through its definition in the catalogue, before and after that day.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from importlib import resources
from pathlib import Path

import pytest

from domain import rulesets
from domain.calendar import VN_TZ
from domain.deadlines import DeadlineClock, deadline_for
from domain.kinds import Procedure
from domain.procedures.catalogue import PROCEDURES
from domain.rulesets import DeadlineCase, RuleBook, load_rule_sets

CHANGED = Procedure.TEMPORARY_RESIDENCE_REGISTRATION
BEFORE = datetime(2026, 12, 28, 9, 0, tzinfo=VN_TZ)  # a Monday under the 2026-07-01 set
AFTER = datetime(2027, 1, 4, 9, 0, tzinfo=VN_TZ)  # a Monday under the new set


def _add_rule_set(directory: Path) -> Path:
    """The rule data with a new set: the latest one, dated 2027-01-01, one procedure's deadline changed."""
    shutil.copytree(Path(str(resources.files("domain").joinpath("rules"))), directory)
    latest = json.loads(sorted(directory.glob("*.json"))[-1].read_text(encoding="utf-8"))
    latest["effective_from"] = "2027-01-01"
    latest["notes"] = "Temporary residence registration is decided within 4 working days instead of 3."
    latest["procedures"][CHANGED.value]["deadline_working_days"] = 4
    added = directory / "2027-01-01.json"
    added.write_text(json.dumps(latest, ensure_ascii=False, indent=2), encoding="utf-8")
    return added


def _deadlines(received: datetime) -> dict[tuple[Procedure, DeadlineCase], datetime]:
    """Every procedure's legal deadline for every case its rules define, as the lifecycle computes it."""
    found = {}
    for procedure in PROCEDURES:
        rules = rulesets.rules_for(received).procedures[procedure]
        for case in (DeadlineCase.STANDARD, *rules.alternative_deadlines):
            found[procedure, case] = DeadlineClock.start(received, deadline_for(procedure, received, case)).deadline
    return found


def test_a_new_rule_set_changes_one_procedure_deadline_and_nothing_else(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch):
    before, after = _deadlines(BEFORE), _deadlines(AFTER)
    rules = tmp_path / "rules"
    added = _add_rule_set(rules)
    monkeypatch.setattr(rulesets, "BOOK", RuleBook(load_rule_sets(rules)))

    # The change is one file, beside the sets already there.
    shipped = {p.name for p in Path(str(resources.files("domain").joinpath("rules"))).glob("*.json")}
    assert {p.name for p in rules.glob("*.json")} - shipped == {added.name}

    # Dossiers received before the new set takes effect are judged as before, every one of them.
    assert _deadlines(BEFORE) == before
    # After it, only the changed procedure's deadline moves: one working day later (Thursday 7 → Friday 8 January).
    now = _deadlines(AFTER)
    moved = {key for key in now if now[key] != after[key]}
    assert moved == {(CHANGED, DeadlineCase.STANDARD)}
    assert (now[CHANGED, DeadlineCase.STANDARD] - after[CHANGED, DeadlineCase.STANDARD]).days == 1
    # Fees, thresholds and validities are those of the set before: the new set copied them.
    assert rulesets.rules_for(AFTER).model_dump(exclude={"effective_from", "notes", "procedures"}) == \
        rulesets.rules_for(BEFORE).model_dump(exclude={"effective_from", "notes", "procedures"})
