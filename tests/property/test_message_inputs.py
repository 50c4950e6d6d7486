"""Bad payloads for every signal and update, at the models' level: refused, or accepted only when safe downstream.

The workflow-level counterpart (the same kinds of payloads sent to running dossiers) is
``test_workflow_inputs.py``; here thousands of payloads cost a second.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.property.strategies import MESSAGE_BASES, message_models, message_problems, mutated, not_a_submission
from tests.property.tally import BadInputTally, fuzz_settings

MODELS = message_models()


def refused_or_safe(model_name: str, raw: Any, what: str, tally: BadInputTally) -> str:
    tally.tried("model")
    model = MODELS[model_name][0]
    try:
        accepted = model.model_validate(raw)
    except ValidationError:
        return "refused"
    except Exception as error:
        tally.crashes.append(f"{model_name}: {what}: {type(error).__name__}: {error}"[:500])
        raise AssertionError(f"{model_name} {what}: validation crashed with {type(error).__name__}") from error
    problems = message_problems(model_name, accepted)
    assert not problems, f"{model_name} {what}: accepted, but downstream it breaks: {problems}"
    return "accepted"


def test_every_message_model_is_fuzzed() -> None:
    assert {"OfficerDecision", "Supplement", "PaymentConfirmation", "Withdrawal", "Reassignment"} <= set(MODELS)
    for name in MODELS:
        if name in MESSAGE_BASES:
            assert refused_or_safe(name, MESSAGE_BASES[name], "base", BadInputTally()) == "accepted"


@pytest.mark.parametrize("model_name", sorted(MODELS))
@fuzz_settings(max_examples=90)
@given(data=st.data())
def test_a_broken_message_is_refused_or_safe(model_name: str, data: st.DataObject, bad_inputs: BadInputTally) -> None:
    base = MESSAGE_BASES.get(model_name)
    if base is None or data.draw(st.integers(0, 4), label="garbage?") == 0:
        raw = data.draw(not_a_submission(), label="garbage")
        what = f"garbage {str(raw)[:40]!r}"
    else:
        what, raw = data.draw(mutated(base), label="mutation")
    refused_or_safe(model_name, raw, what, bad_inputs)


@pytest.mark.parametrize(("model_name", "raw", "why"), [
    ("OfficerDecision", {"officer_id": "CB-00070-01", "decision": "reject", "reason": "Giấy tờ\x00 giả"},
     "a reason with NUL: accepted by the update validator, then the CT06 delivery fails on every retry"),
    ("OfficerDecision", {"officer_id": "CB-00070-01", "decision": "request_supplement", "missing_items": [" "]},
     "a blank missing item: CT05 cannot print it (1–500 characters), issue_document fails on every retry"),
    ("OfficerDecision", {"officer_id": "CB-00070-01", "decision": "request_supplement", "missing_items": ["x" * 501]},
     "a 501-character missing item: CT05 cannot print it, issue_document fails on every retry"),
    ("Supplement", {"provided_items": ["Hợp đồng\x00"]},
     "a supplemented item with NUL: the audit write (jsonb) fails on every retry"),
    ("Reassignment", {"supervisor_id": "CB-00070-00", "officer_id": "CB-00070-02", "reason": "nghỉ\x00phép"},
     "a reassignment reason with NUL: the audit write fails on every retry, the update never returns"),
], ids=["decision-reason-NUL", "missing-item-blank", "missing-item-501", "supplement-NUL", "reassign-reason-NUL"])
def test_hostile_but_well_formed_messages_are_refused(model_name: str, raw: dict[str, Any], why: str,
                                                      bad_inputs: BadInputTally) -> None:
    """Found by the campaign: each of these passes the model and strands the dossier downstream."""
    assert refused_or_safe(model_name, raw, why, bad_inputs) == "refused", why
