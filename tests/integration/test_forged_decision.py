"""A decision sent straight to Temporal, without the API's signature, is refused and leaves nothing in the history.

The attacker of issue 21: someone with namespace rights and the plain ``temporal`` CLI, and, worse, someone who also
holds the payload keys (an SDK client with cutru's encrypting converter) but not the decision keys. Only an envelope
signed with the workers' decision keys, for this dossier, recently, with a token id not used before, is taken.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from cutru_local.stack import temporal_binary
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from cutru.platform.signing import DecisionKeyRing, sign_now
from domain.envelopes import sign
from domain.models import DecisionKind, DecisionReceipt, DossierState, OfficerDecision, Reassignment, TrailAction
from tests.factories import DECISION_KEYS
from tests.integration.test_permanent_registration import own_residence_dossier, wait_for, wait_state

OFFICER = "CB-00070-01"  # an active officer of the dossier's unit: only the signature is missing
SUPERVISOR = "CB-00070-00"
APPROVE = OfficerDecision(officer_id=OFFICER, decision=DecisionKind.APPROVE)


def updates_in_history(events: Sequence[HistoryEvent]) -> int:
    return sum(1 for e in events if e.HasField("workflow_execution_update_accepted_event_attributes")
               or e.HasField("workflow_execution_update_completed_event_attributes"))


async def refusal(handle: WorkflowHandle, name: str, message: OfficerDecision | Reassignment) -> str:  # type: ignore[type-arg]
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(name, message, result_type=DecisionReceipt)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == ("DecisionRefused" if name == "decide" else "ReassignmentRefused")
    return str(cause.message)


@pytest.fixture
async def waiting(client: Client, settings: Settings, worker: object, pool: asyncpg.Pool) -> str:
    """A dossier waiting for its officer's decision."""
    submission = await own_residence_dossier(pool)
    await DossierClient(client, settings.task_queue).submit(submission)
    await wait_state(DossierClient(client, settings.task_queue), submission["dossier_code"],
                     DossierState.AWAITING_DECISION)
    return str(submission["dossier_code"])


async def cli_update(settings: Settings, code: str, decision: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """In a thread: the test's worker runs on this event loop and must answer the update meanwhile."""
    return await asyncio.to_thread(
        subprocess.run,
        [temporal_binary(), "workflow", "update", "execute", "--address", settings.temporal_address,
         "--namespace", settings.namespace, "--workflow-id", code, "--name", "decide", "--input", json.dumps(decision)],
        capture_output=True, text=True, timeout=60, check=False)


async def test_the_temporal_cli_cannot_decide(client: Client, settings: Settings, waiting: str):
    """``temporal workflow update execute --name decide`` with a valid officer of the unit, unsigned and with a
    made-up signature: refused, and the dossier's history holds no update."""
    code = waiting
    unsigned = await cli_update(settings, code, {"officer_id": OFFICER, "decision": "approve"})
    assert unsigned.returncode != 0
    forged = await cli_update(settings, code, {
        "officer_id": OFFICER, "decision": "approve", "dossier_code": code,
        "signed_at": datetime.now(UTC).isoformat(), "token_id": "t-1", "key_id": "test-decisions",
        "signature": secrets.token_hex(32)})
    assert forged.returncode != 0
    # The CLI writes JSON in clear: the worker's codec refuses it before any validator runs, and the reason is
    # itself encrypted (a failure message may quote personal data), so the CLI sees only that it failed.
    for answer in (unsigned, forged):
        assert "unable to update workflow: Encoded failure" in answer.stderr, answer
    handle = client.get_workflow_handle(code)
    assert updates_in_history((await handle.fetch_history()).events) == 0
    assert (await DossierClient(client, settings.task_queue).status(code)).state == DossierState.AWAITING_DECISION


async def test_only_a_valid_envelope_decides(client: Client, settings: Settings, waiting: str):
    """With the payload keys but without the decision keys, every way of getting around the signature is refused
    before anything enters history; the API's signed decision is taken once."""
    code = waiting
    handle = client.get_workflow_handle(code)
    now = datetime.now(UTC)
    key_id, key = DECISION_KEYS.active

    assert "not signed" in await refusal(handle, "decide", APPROVE)
    forged = sign(APPROVE, dossier_code=code, signed_at=now, token_id="t-forged", key_id=key_id,
                           key=secrets.token_bytes(32))
    assert "does not verify" in await refusal(handle, "decide", forged)
    stranger = sign_now(DecisionKeyRing.generate("attacker"), APPROVE, code, "t-stranger")
    assert "does not know" in await refusal(handle, "decide", stranger)
    expired = sign(APPROVE, dossier_code=code, signed_at=now - timedelta(minutes=10), token_id="t-old",
                            key_id=key_id, key=key)
    assert "expired" in await refusal(handle, "decide", expired)
    elsewhere = sign_now(DECISION_KEYS, APPROVE, "HS-TEST-ELSEWHERE1", "t-elsewhere")
    assert "signed for dossier HS-TEST-ELSEWHERE1" in await refusal(handle, "decide", elsewhere)
    tampered = sign_now(DECISION_KEYS, APPROVE, code, "t-tampered").model_copy(
        update={"officer_id": "CB-00070-02"})
    assert "does not verify" in await refusal(handle, "decide", tampered)
    assert updates_in_history((await handle.fetch_history()).events) == 0

    # A token id takes one message per dossier: the supervisor's signed reassignment, then a decision under the
    # same token id, is a replay.
    assigned = (await DossierClient(client, settings.task_queue).status(code)).assigned_officer
    to = "CB-00070-03" if assigned == "CB-00070-02" else "CB-00070-02"
    moved = sign_now(DECISION_KEYS, Reassignment(supervisor_id=SUPERVISOR, officer_id=to,
                                                              reason="nghỉ phép"), code, "t-once")
    await handle.execute_update("reassign", moved)
    assert "already used" in await refusal(handle, "reassign", moved.model_copy())
    replayed = sign_now(DECISION_KEYS, APPROVE, code, "t-once")
    assert "already used" in await refusal(handle, "decide", replayed)

    receipt = await handle.execute_update("decide", sign_now(DECISION_KEYS, APPROVE, code, "t-api-1"),
                                          result_type=DecisionReceipt)
    assert receipt.accepted
    history = (await handle.fetch_history()).events
    assert updates_in_history(history) == 4  # the reassignment and the decision: accepted and completed each
    trail = (await DossierClient(client, settings.task_queue).status(code)).trail
    assert [e.actor for e in trail if e.action == TrailAction.PROPOSED] == [OFFICER]


async def test_the_decision_signal_needs_the_signature_too(client: Client, settings: Settings, waiting: str):
    code = waiting
    handle = client.get_workflow_handle(code)
    await handle.signal("officer_decision", APPROVE.model_dump(mode="json"))
    dossiers = DossierClient(client, settings.task_queue)

    async def refused() -> list[str]:
        trail = (await dossiers.status(code)).trail
        return [e.detail for e in trail if e.action == TrailAction.DECISION_REFUSED]

    async def recorded() -> bool:
        return bool(await refused())
    await wait_for(recorded)
    assert await refused() == ["the decision is not signed: send it through the cutru API, which signs it"]
    assert (await dossiers.status(code)).state == DossierState.AWAITING_DECISION

    await dossiers.signal_decision(code, APPROVE)  # signed with the service's keys
    await wait_state(dossiers, code, DossierState.AWAITING_SIGN_OFF)

