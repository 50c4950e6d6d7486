"""The example inputs under examples/: one per procedure, each exactly a valid workflow input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from cutru_local.demo import EXAMPLE_PEOPLE, EXAMPLES_DIR, instantiate, load_examples

from domain.kinds import Procedure
from domain.procedures.catalogue import PROCEDURES, parse_submission


def test_one_example_per_procedure_named_after_it():
    files = sorted(EXAMPLES_DIR.glob("*.json"))
    assert [path.stem for path in files] == sorted(p.value for p in Procedure)
    for path in files:
        raw = json.loads(path.read_text(encoding="utf-8"))
        assert raw["procedure"] == path.stem


def test_every_example_parses_as_its_procedure_submission():
    for procedure, raw in load_examples().items():
        assert isinstance(parse_submission(raw), PROCEDURES[procedure].submission)


def test_examples_name_only_the_example_people():
    known = {person.personal_id for person in EXAMPLE_PEOPLE.values()}
    for raw in load_examples().values():
        text = json.dumps(raw)
        named = {token for token in text.replace('"', " ").split() if token.isdigit() and len(token) == 12}
        assert named <= known, named - known


def test_instantiating_moves_the_dates_with_the_receipt_but_not_birth_dates():
    stay = load_examples()[Procedure.STAY_NOTIFICATION]
    now = datetime(2027, 3, 10, 2, 0, tzinfo=UTC)  # 09:00 in Vietnam, 110 days after the example's receipt
    fresh = instantiate(stay, now)
    assert fresh["dossier_code"] != stay["dossier_code"] and fresh["received_at"] == now.isoformat()
    assert datetime.fromisoformat(fresh["details"]["arrival"]) == now - timedelta(hours=1)
    assert fresh["details"]["departure"] == "2027-03-15"
    assert fresh["details"]["guests"][0]["birth_date"] == stay["details"]["guests"][0]["birth_date"]
    assert date.fromisoformat(fresh["applicant"]["birth_date"]) == EXAMPLE_PEOPLE["duc"].birth_date
