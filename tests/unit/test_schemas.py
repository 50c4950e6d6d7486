"""The committed JSON Schemas are what the models generate; examples validate against them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from cutru.clients.schemas import SCHEMA_DIR, render, stale
from domain.kinds import Procedure
from domain.models import LEGACY_PROCESSING_KEY, ProcessingOptions


def test_committed_schemas_are_up_to_date():
    assert stale() == [], "run `python -m cutru.clients.schemas` and commit schemas/"


def test_stale_detection_can_fail(tmp_path: Path):
    for name, text in render().items():
        (tmp_path / name).write_text(text)
    assert stale(tmp_path) == []
    (tmp_path / "signal.withdraw.json").write_text("{}")
    (tmp_path / "left-over.json").write_text("{}")
    assert stale(tmp_path) == ["left-over.json", "signal.withdraw.json"]


def test_no_public_schema_holds_the_workers_timings():
    """Test and demo timings are the worker's configuration: no input schema offers them to a caller."""
    timings = set(ProcessingOptions.model_fields) | {LEGACY_PROCESSING_KEY}
    for name, text in render().items():
        found = timings & set(re.findall(r'"([a-z_]+)"', text))
        assert not found, f"{name} offers {sorted(found)}"


def test_every_procedure_example_validates_against_its_schema():
    examples = sorted(Path("examples").glob("*.json"))
    assert examples, "examples/ holds one submission per procedure"
    for path in examples:
        document = json.loads(path.read_text(encoding="utf-8"))
        schema = json.loads((SCHEMA_DIR / f"workflow-input.{document['procedure']}.json").read_text())
        jsonschema.validate(document, schema)
    assert {Procedure(json.loads(p.read_text())["procedure"]) for p in examples} <= set(Procedure)


def test_a_decision_without_officer_fails_the_schema():
    schema = json.loads((SCHEMA_DIR / "update.decide.input.json").read_text())
    jsonschema.validate({"officer_id": "CB-00070-01", "decision": "approve"}, schema)
    try:
        jsonschema.validate({"decision": "approve"}, schema)
    except jsonschema.ValidationError as error:
        assert "officer_id" in error.message
    else:
        raise AssertionError("a decision without officer_id must not validate")
