"""A decision signal's envelope check is a local activity in the signal handler. Its marker can land in a workflow
task before the one in which the dossier goes on (the SDK's task heartbeat completed the task with the result while
the workflow had not yet seen it: a chaos run caught it, a loaded machine shows it now and then, and a check delayed to
the 8 s heartbeat shows it too). The history of such a run, made here from a real one by that very split where the run
did not split it itself, must replay."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import asyncpg
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from cutru.platform.codec import replay_converter
from cutru.platform.config import Settings
from domain.models import DecisionKind, DossierState, OfficerDecision
from tests.factories import PAYLOAD_KEYS, Desk
from tests.integration.test_procedures import build, household_separation
from workflows.lifecycle import SIGNED_DECISIONS
from workflows.procedures import ALL_WORKFLOWS

WFT = ("EVENT_TYPE_WORKFLOW_TASK_SCHEDULED", "EVENT_TYPE_WORKFLOW_TASK_STARTED", "EVENT_TYPE_WORKFLOW_TASK_COMPLETED")


def _patch_id(event: dict[str, Any]) -> str | None:
    attributes = event.get("markerRecordedEventAttributes", {})
    if attributes.get("markerName") != "core_patch":
        return None
    payload = next(iter(attributes["details"].values()))["payloads"][0]
    return str(json.loads(base64.b64decode(payload["data"]))["id"])


def _renumbered(node: Any, ids: dict[str, str]) -> Any:
    """``node`` with every event id in it (its own, those it refers to) taken through ``ids``."""
    if isinstance(node, dict):
        return {key: ids.get(value, value) if key.lower().endswith("eventid") and isinstance(value, str)
                else _renumbered(value, ids) for key, value in node.items()}
    if isinstance(node, list):
        return [_renumbered(item, ids) for item in node]
    return node


def _check(events: list[dict[str, Any]]) -> tuple[int, int]:
    """The indexes of the signed-decision patch marker and of the decision check's marker after it."""
    signed = next(i for i, e in enumerate(events) if _patch_id(e) == SIGNED_DECISIONS)
    markers = (i for i in range(signed, len(events))
               if events[i].get("markerRecordedEventAttributes", {}).get("markerName") == "core_local_activity")
    return signed, next(markers)


def _commands(history: WorkflowHistory) -> list[str]:
    """The types of a history's events other than its workflow tasks'."""
    return [e["eventType"] for e in json.loads(history.to_json())["events"] if e["eventType"] not in WFT]


def split_after_check(history: WorkflowHistory) -> WorkflowHistory:
    """The history with a workflow task ended right after the decision check's marker, as the heartbeat did: the
    commands after it move to a new task. A history whose run ended the task there itself is that already."""
    events = json.loads(history.to_json())["events"]
    signed, check = _check(events)
    if events[check + 1]["eventType"] == WFT[0]:
        return history
    completed = max(i for i in range(signed) if events[i]["eventType"] == WFT[2])
    ids = {e["eventId"]: str(i + 1 if i <= check else i + 4) for i, e in enumerate(events)}
    scheduled, started, done = (str(check + 2 + k) for k in range(3))
    task = copy.deepcopy(events[completed - 2:completed + 1])
    for event, new_id in zip(task, (scheduled, started, done), strict=True):
        event["eventId"] = new_id
    task[1]["workflowTaskStartedEventAttributes"]["scheduledEventId"] = scheduled
    task[2]["workflowTaskCompletedEventAttributes"].update(scheduledEventId=scheduled, startedEventId=started)
    after = {**ids, events[completed]["eventId"]: done}
    return WorkflowHistory.from_json(history.workflow_id, {"events": [
        *(_renumbered(e, ids) for e in events[:check + 1]), *task,
        *(_renumbered(e, after) for e in events[check + 1:])]})


async def test_a_decision_signal_replays_when_its_check_lands_in_an_earlier_task(
        temporal: WorkflowEnvironment, settings: Settings, pool: asyncpg.Pool, worker: Worker) -> None:
    desk = Desk(temporal, settings, pool)
    case = await build(desk, household_separation)
    code = case.code
    await desk.start(case.raw)
    officer = (await desk.wait_state(code, DossierState.AWAITING_DECISION)).assigned_officer or "CB-00070-01"
    decision = await desk.signed(code, OfficerDecision(officer_id=officer, decision=DecisionKind.APPROVE))
    await desk.dossiers.handle(code).signal("officer_decision", decision.model_dump(mode="json"))
    await desk.sign_off(code)
    await desk.pay(code)
    assert (await desk.result(code)).state == DossierState.COMPLETED
    history = await temporal.client.get_workflow_handle(code).fetch_history()
    split = split_after_check(history)
    events = json.loads(split.to_json())["events"]
    assert events[_check(events)[1] + 1]["eventType"] == WFT[0]
    assert _commands(split) == _commands(history)
    replayer = Replayer(workflows=list(ALL_WORKFLOWS), data_converter=replay_converter(PAYLOAD_KEYS))
    await replayer.replay_workflow(history)
    await replayer.replay_workflow(split)
