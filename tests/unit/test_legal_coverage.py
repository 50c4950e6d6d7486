"""docs/legal-coverage.md is true: every rule it lists names code that exists and tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COVERAGE = ROOT / "docs" / "legal-coverage.md"
_ROW = re.compile(r"^\| (R\d{3}) \| (.+?) \| (.*?) \| (.*?) \|$")
_CODE = re.compile(r"`([^`]+)`")


def rows() -> list[tuple[str, str, list[str], list[str]]]:
    found = []
    for line in COVERAGE.read_text(encoding="utf-8").splitlines():
        if match := _ROW.match(line):
            rule_id, rule, encoded, tests = match.groups()
            found.append((rule_id, rule, _CODE.findall(encoded), _CODE.findall(tests)))
    return found


def _located(reference: str) -> str | None:
    """Why ``path[::symbol]`` names nothing in the tree, or None when it does."""
    path, _, symbol = reference.partition("::")
    file = ROOT / path
    if not file.is_file():
        return f"no file {path}"
    if symbol and not re.search(rf"(?<!\w){re.escape(symbol)}(?!\w)", file.read_text(encoding="utf-8")):
        return f"{symbol} not in {path}"
    return None


def test_the_page_lists_the_specifications_rules_once_each():
    ids = [row[0] for row in rows()]
    assert len(ids) >= 100, "every rule of the specification has a row"
    assert len(ids) == len(set(ids)) and ids == sorted(ids)


@pytest.mark.parametrize(("rule_id", "rule", "encoded", "tests"), rows(), ids=[row[0] for row in rows()])
def test_each_rule_is_encoded_and_asserted(rule_id: str, rule: str, encoded: list[str], tests: list[str]):
    assert encoded, f"{rule_id}: where is it encoded?"
    assert tests, f"{rule_id} has no test"
    problems = [problem for reference in encoded if (problem := _located(reference))]
    for test in tests:
        path, _, name = test.partition("::")
        if not path.startswith("tests/") or not name.startswith("test_"):
            problems.append(f"{test} is not a test")
        elif (problem := _located(test)) or not re.search(
                rf"^(async )?def {name}\(", (ROOT / path).read_text(encoding="utf-8"), re.MULTILINE):
            problems.append(problem or f"no test {name} in {path}")
    if "UNCONFIRMED" in rule and not ("default" in rule and "change" in rule):
        problems.append("an UNCONFIRMED rule says its default and where to change it")
    assert not problems, f"{rule_id}: {problems}"


def test_a_missing_test_or_location_fails(tmp_path: Path):
    assert _located("domain/calendar.py::WorkingCalendar") is None
    assert _located("domain/calendar.py::NoSuchThing") == "NoSuchThing not in domain/calendar.py"
    assert _located("domain/no_such_module.py") == "no file domain/no_such_module.py"
