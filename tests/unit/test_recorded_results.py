"""Activity results recorded in the histories of running dossiers decode into today's result models.

Replays compare commands, not results, yet a replayed workflow reads its recorded results as the current models
type them. ``check_eligibility`` results were recorded with the facts the commit then received; they carry the
officer's findings now, so a recorded result must still decode, and give the officer the same findings.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payload

from activities.contracts import EligibilityResult
from cutru.platform.codec import ENCODING, METADATA_ENCODING, METADATA_KEY_ID
from domain.facts import HouseholdFacts
from tests.factories import PAYLOAD_KEYS

HISTORY_DIR = Path(__file__).resolve().parents[1] / "histories"


def _payload(payloads: dict[str, Any]) -> bytes:
    """The first payload's data; decrypted with the tests' key when the history was recorded encrypted."""
    payload = payloads["payloads"][0]
    data = base64.b64decode(payload["data"])
    metadata = {name: base64.b64decode(value) for name, value in payload.get("metadata", {}).items()}
    if metadata.get(METADATA_ENCODING) != ENCODING:
        return data
    return Payload.FromString(PAYLOAD_KEYS.decrypt(metadata[METADATA_KEY_ID].decode(), data)).data


def recorded_results(activity_type: str) -> Iterator[tuple[str, bytes]]:
    """(history file, result JSON) of every attempt of the activity that completed, local or regular."""
    for path in sorted(HISTORY_DIR.glob("*.json")):
        events = json.loads(path.read_text(encoding="utf-8"))["events"]
        scheduled = {e["eventId"]: e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
                     for e in events if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"}
        for event in events:
            if event["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED":
                attributes = event["activityTaskCompletedEventAttributes"]
                if scheduled[attributes["scheduledEventId"]] == activity_type:
                    yield path.name, _payload(attributes["result"])
            elif event["eventType"] == "EVENT_TYPE_MARKER_RECORDED":
                attributes = event["markerRecordedEventAttributes"]
                if attributes["markerName"] != "core_local_activity":
                    continue
                details = attributes["details"]
                if json.loads(_payload(details["data"]))["activity_type"] == activity_type and "result" in details:
                    yield path.name, _payload(details["result"])


def test_recorded_eligibility_results_decode_with_the_findings_of_their_facts():
    results = list(recorded_results("check_eligibility"))
    assert len(results) >= 20, "every recorded dossier but the invalid ones checks eligibility"
    for name, raw in results:
        decoded = EligibilityResult.model_validate_json(raw)
        facts = json.loads(raw).get("facts")
        if facts is not None:
            assert decoded.findings == HouseholdFacts.model_validate(facts).findings(), name
            assert decoded.findings[0].startswith("applicant in the population database"), name


def test_a_result_recorded_without_facts_keeps_its_own_findings():
    """A refused check recorded ``facts: null``; today's results carry findings and no facts."""
    assert EligibilityResult.model_validate({"facts": None, "refusals": []}).findings == ()
    today = EligibilityResult(refusals=(), findings=("no active residence record",))
    assert EligibilityResult.model_validate_json(today.model_dump_json()) == today
