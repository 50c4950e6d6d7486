"""Bad submissions through the starter's validation path (``cutru.clients.client.check_submission``), every procedure.

Each generated input must be refused with field-level errors (``path: message`` lines a person can act on, short,
and safe to store), or accepted only when everything downstream can take it (``strategies.submission_problems``).
Anything else — an exception other than ``SubmissionRejected`` — is a crash of the starter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cutru.clients.client import SubmissionRejected, check_submission
from domain.identity import generate_personal_id
from domain.kinds import Procedure
from domain.models import legacy_processing
from domain.procedures.catalogue import PROCEDURES as CATALOGUE
from tests.property.strategies import (
    BAD_DATES,
    bad_value,
    base_submission,
    mutated,
    not_a_submission,
    submission_problems,
    text_problems,
    timing_problems,
)
from tests.property.tally import BadInputTally, fuzz_settings

PROCEDURES = sorted(CATALOGUE, key=lambda p: p.value)


def refused_or_safe(raw: Any, what: str, tally: BadInputTally, now: datetime | None = None) -> str:
    """Run one input through the validation path; return "refused" or "accepted", failing on anything unsafe."""
    tally.tried("model")
    try:
        submission = check_submission(raw, now=now)
    except SubmissionRejected as rejected:
        assert rejected.errors, f"{what}: refused without saying why"
        for line in rejected.errors:
            assert ": " in line, f"{what}: error without a field path: {line[:200]!r}"
            assert len(line) <= 1_000, f"{what}: an error line of {len(line):,} characters echoes the input"
            assert not text_problems(line), f"{what}: error line unsafe to store: {text_problems(line)}"
        return "refused"
    except Exception as error:
        tally.crashes.append(f"check_submission: {what}: {type(error).__name__}: {error}"[:500])
        raise AssertionError(f"{what}: the validation path crashed with {type(error).__name__}: {error}") from error
    problems = submission_problems(submission)
    assert not problems, f"{what}: accepted, but downstream it breaks: {problems}"
    return "accepted"


def test_the_base_submissions_are_valid() -> None:
    """The inputs below are each one change away from these; if a model changes, this says which base to update."""
    for procedure in PROCEDURES:
        submission = check_submission(base_submission(procedure))
        assert submission_problems(submission) == [], procedure


@pytest.mark.parametrize("procedure", PROCEDURES, ids=lambda p: p.value)
@fuzz_settings(max_examples=120)
@given(data=st.data())
def test_a_broken_submission_is_refused_or_safe(procedure: Procedure, data: st.DataObject,
                                                bad_inputs: BadInputTally) -> None:
    what, raw = data.draw(mutated(base_submission(procedure)), label="mutation")
    refused_or_safe(raw, f"{procedure.value}: {what}", bad_inputs)


@fuzz_settings(max_examples=150)
@given(raw=not_a_submission())
def test_what_is_not_a_submission_is_refused(raw: Any, bad_inputs: BadInputTally) -> None:
    assert refused_or_safe(raw, f"not a submission: {str(raw)[:60]!r}", bad_inputs) == "refused"


@fuzz_settings(max_examples=100)
@given(procedure=st.sampled_from(PROCEDURES), birth=st.dates(date(1920, 1, 1), date(2010, 1, 1)),
       sex=st.sampled_from(["male", "female"]), seed=st.integers(0, 2**32))
def test_a_personal_id_that_contradicts_birth_date_or_sex_is_refused(
        procedure: Procedure, birth: date, sex: str, seed: int, bad_inputs: BadInputTally) -> None:
    import random

    raw = base_submission(procedure)
    other_sex = "female" if sex == "male" else "male"
    # Registered for the other sex, or for a birth year a century off: never consistent with what is declared.
    wrong = generate_personal_id(random.Random(seed), "01", birth, other_sex)  # type: ignore[arg-type]
    raw["applicant"] = {**raw["applicant"], "birth_date": birth.isoformat(), "sex": sex, "personal_id": wrong}
    assert refused_or_safe(raw, f"{procedure.value}: personal ID of the other sex", bad_inputs) == "refused"


@fuzz_settings(max_examples=120)
@given(procedure=st.sampled_from(PROCEDURES),
       received=st.one_of(st.sampled_from(BAD_DATES), st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)),
       field=st.sampled_from(["received_at", "applicant.birth_date"]))
def test_an_out_of_range_date_is_refused_or_safe(procedure: Procedure, received: str, field: str,
                                                 bad_inputs: BadInputTally) -> None:
    raw = base_submission(procedure)
    if field == "received_at":
        raw["received_at"] = received
    else:
        raw["applicant"] = {**raw["applicant"], "birth_date": received[:10]}
    refused_or_safe(raw, f"{procedure.value}: {field}={received!r}", bad_inputs)


@fuzz_settings(max_examples=60)
@given(procedure=st.sampled_from(PROCEDURES), value=bad_value())
def test_bad_legacy_timings_are_refused_or_safe(procedure: Procedure, value: Any,
                                                 bad_inputs: BadInputTally) -> None:
    """Submissions once carried the timings (``processing``, no longer in any schema) and recorded histories still
    do: a replay of such a dossier waits by them, so zero, negative or enormous durations must be refused, never
    reach a timer."""
    raw = base_submission(procedure)
    for name in ("payment_timeout", "payment_poll_interval", "supplement_timeout"):
        raw["processing"] = {name: value}
        what = f"{procedure.value}: processing.{name}={str(value)[:40]!r}"
        if refused_or_safe(raw, what, bad_inputs) == "accepted":
            submission = check_submission(raw)
            assert "processing" not in submission.model_dump(), f"{what}: the legacy key is kept"
            problems = timing_problems(legacy_processing(raw), submission.received_at)
            assert not problems, f"{what}: accepted, but a replay of it breaks: {problems}"


@pytest.mark.parametrize("received_at", ["2000-01-02T12:00:00+07:00", "2021-06-30T12:00:00+07:00"])
def test_a_receipt_date_before_any_rule_set_is_refused(received_at: str, bad_inputs: BadInputTally) -> None:
    """Found by the campaign: the starter accepts a dossier received before the first rule set (2021-07-01);
    its workflow then fails every workflow task on ``NoRuleSetError`` and never ends."""
    raw = base_submission(Procedure.PERMANENT_RESIDENCE_REGISTRATION)
    raw["received_at"] = received_at
    raw["applicant"] = {**raw["applicant"]}
    assert refused_or_safe(raw, f"received_at={received_at}", bad_inputs,
                           now=datetime.fromisoformat(received_at) + timedelta(minutes=1)) == "refused"
