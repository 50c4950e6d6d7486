"""Bad inputs sent straight to the workflows on the test server, bypassing every client-side check.

- Workflow input: every procedure's submission broken one way (``strategies.mutated``), things that are not a
  submission, raw bytes a Python client cannot even produce (lone surrogates, deep nesting, other encodings), and
  the wrong number of arguments. Each must end as a refused dossier; none may fail a workflow task or retry an
  activity forever.
- Messages: bad payloads for every signal and update, to dossiers waiting for a decision. Updates must be
  rejected, signals dropped or recorded as refused; the dossiers must keep waiting, with no workflow-task failure.
- Hostile but well-formed submissions and messages, each to a dossier of its own: they must either be refused or
  move the dossier on; what they must never do is leave it stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import ValidationError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from domain.kinds import Procedure
from domain.models import DecisionKind, DossierState, OfficerDecision
from tests.factories import FAST, head_signs, new_person, new_place, registration
from tests.integration.test_permanent_registration import idle, wait_for, wait_state
from tests.property.strategies import MESSAGE_BASES, base_submission, message_models, mutated, not_a_submission
from tests.property.tally import BadInputTally
from tests.property.workflow_inputs import RAW_PAYLOADS, draw, raw_client, settle, stuck_reasons
from worker import build_worker
from workflows.procedures import WORKFLOWS

pytestmark = pytest.mark.timeout(180)

MODELS = message_models()


def _code() -> str:
    return f"HS-BAD-{uuid.uuid4().hex[:12].upper()}"


async def _outcome_state(client: Client, workflow_id: str) -> str | None:
    result = await client.get_workflow_handle(workflow_id).result()
    return result.get("state") if isinstance(result, dict) else None


async def test_bad_workflow_inputs_end_as_refused_dossiers(client: Client, settings: Settings, worker: object,
                                                           bad_inputs: BadInputTally) -> None:
    sender = raw_client(client)
    inputs: list[tuple[str, str, list[Any]]] = []  # (workflow type, what, arguments)
    for procedure in sorted(WORKFLOWS, key=lambda p: p.value):
        for what, raw in draw(mutated(base_submission(procedure)), 10):
            inputs.append((procedure.value, what, [raw]))
    for raw in draw(not_a_submission(), 40):
        inputs.append((Procedure.PERMANENT_RESIDENCE_REGISTRATION.value, f"not a submission {str(raw)[:30]!r}", [raw]))
    kinds = sorted(p.value for p in WORKFLOWS)
    for index, payload in enumerate(RAW_PAYLOADS):
        inputs.append((kinds[index % len(kinds)], f"raw bytes {payload.data[:24]!r} ({payload.encoding.decode()})",
                       [payload]))
    inputs.append((kinds[0], "no argument at all", []))
    inputs.append((kinds[-1], "no argument at all", []))

    handles: dict[str, tuple[str, WorkflowHandle[Any, Any]]] = {}
    for workflow_type, what, args in inputs:
        code = _code()
        if args and isinstance(args[0], dict) and "dossier_code" in args[0]:
            args = [{**args[0], "dossier_code": code}]  # the same code as the workflow id: validation goes deep
        handle = await sender.start_workflow(workflow_type, args=args, id=code, task_queue=settings.task_queue)
        handles[code] = (f"{workflow_type}: {what}", handle)
    bad_inputs.tried("workflow", len(inputs))

    stuck = await settle([h for _, h in handles.values()], timeout=120)  # about 10 s on an idle machine
    bad_inputs.stuck += [f"{handles[code][0]}: {reasons}" for code, reasons in stuck.items()]
    assert not stuck, "stuck workflows:\n" + "\n".join(f"  {handles[c][0]}: {r}" for c, r in stuck.items())
    states = {code: await _outcome_state(client, code) for code in handles}
    not_refused = {handles[c][0]: s for c, s in states.items() if s != DossierState.REFUSED.value}
    assert not not_refused, f"bad inputs that did not end refused: {not_refused}"


async def _waiting_dossier(dossiers: DossierClient, pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = registration(person, place)
    await dossiers.submit(submission)
    await wait_state(dossiers, submission["dossier_code"], DossierState.AWAITING_DECISION)
    return str(submission["dossier_code"])


def _harmless(model_name: str, raw: Any) -> bool:
    """A payload that is bad, or valid but cannot move a waiting dossier on (so "it keeps waiting" holds)."""
    model = MODELS[model_name][0]
    try:
        accepted = model.model_validate(raw)
    except (ValidationError, ValueError, TypeError):
        return True
    if model_name in ("OfficerDecision", "Withdrawal", "Reassignment"):
        return False  # a valid one would legitimately decide, withdraw or reassign: tested elsewhere
    return accepted is not None


async def test_bad_messages_leave_waiting_dossiers_waiting(client: Client, settings: Settings, worker: object,
                                                           pool: asyncpg.Pool, bad_inputs: BadInputTally) -> None:
    dossiers = DossierClient(client, settings.task_queue)
    sender = raw_client(client)
    codes = list(await asyncio.gather(*(_waiting_dossier(dossiers, pool) for _ in range(4))))
    messages: list[tuple[str, bool, Any]] = []  # (message name, is an update, payload)
    for model_name, (_, names) in sorted(MODELS.items()):
        base = MESSAGE_BASES.get(model_name)
        drawn = [raw for _, raw in draw(mutated(base), 40)] if base else []
        drawn += draw(not_a_submission(), 12)
        for index, raw in enumerate(r for r in drawn if _harmless(model_name, r)):
            name = sorted(names)[index % len(names)]
            messages.append((name, name in ("decide", "reassign"), raw))
        for index, payload in enumerate(RAW_PAYLOADS[:4]):
            name = sorted(names)[index % len(names)]
            messages.append((name, name in ("decide", "reassign"), payload))

    accepted_updates: list[str] = []
    slots = asyncio.Semaphore(16)

    async def send(index: int, name: str, is_update: bool, payload: Any) -> None:
        handle = sender.get_workflow_handle(codes[index % len(codes)])
        async with slots:
            if not is_update:
                await handle.signal(name, payload)
                return
            try:
                await handle.execute_update(name, payload)
            except (WorkflowUpdateFailedError, RPCError):
                return  # rejected by the validator or by the payload's decoding: what must happen
            accepted_updates.append(f"{name} {str(payload)[:80]!r}")

    await asyncio.gather(*(send(i, *message) for i, message in enumerate(messages)))
    bad_inputs.tried("workflow", len(messages))
    handles = [client.get_workflow_handle(code) for code in codes]

    async def all_idle() -> bool:
        return all([await idle(handle) for handle in handles])

    # Until every dossier has done with the messages (the refused decisions in the audit table), or for the three
    # seconds in which a failing write would reach the attempts the check below reports.
    with contextlib.suppress(AssertionError):
        await wait_for(all_idle, timeout=3)

    assert not accepted_updates, f"bad updates accepted: {accepted_updates}"
    for code in codes:
        reasons = await stuck_reasons(client.get_workflow_handle(code))
        bad_inputs.stuck += [f"{code}: {r}" for r in reasons]
        assert not reasons, f"{code} after {len(messages)} bad messages: {reasons}"
        assert (await dossiers.status(code)).state == DossierState.AWAITING_DECISION


HOSTILE_SUBMISSIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "received before the first rule set": lambda s: s.update(received_at="2000-01-02T12:00:00+07:00"),
    "received beyond the working-day calendar": lambda s: s.update(received_at="2099-01-05T10:00:00+07:00"),
    "NUL in the address line": lambda s: s["details"]["residence"].update(address_line="Số 1\x00 Hàng Bài"),
    "NUL in the delivery destination": lambda s: s["delivery"].update(destination="VNeID\x00"),
    # The timings submissions carried before they became the worker's: recorded histories still hold them.
    "legacy timings: payment poll every 0 s": lambda s: s.update(processing={"payment_poll_interval": "PT0S"}),
    "legacy timings: payment timeout of 999,999,999 days": lambda s: s.update(
        processing={"payment_timeout": "P999999999D"}),
    "unknown field named with NUL": lambda s: s.update({"x\x00y": 1}),
    "unknown field with a 100,000-character name": lambda s: s.update({"k" * 100_000: 1}),
}

HOSTILE_MESSAGES: dict[str, tuple[str, dict[str, Any]]] = {
    "decide: reject with NUL in the reason": (
        "decide", {"decision": "reject", "reason": "Giấy tờ\x00 giả"}),
    "signal: reject with NUL in the reason": (
        "officer_decision", {"decision": "reject", "reason": "Giấy tờ\x00 giả"}),
    "decide: a 501-character missing item": (
        "decide", {"decision": "request_supplement", "missing_items": ["x" * 501]}),
    "decide: a blank missing item": (
        "decide", {"decision": "request_supplement", "missing_items": ["   "]}),
    "signal: an unknown field named with NUL": (
        "officer_decision", {"decision": "approve", "x\x00y": 1}),
    "reassign: NUL in the reason": (
        "reassign", {"supervisor_id": "CB-00070-00", "reason": "nghỉ\x00phép"}),
}
WATCH_SECONDS = 12.0  # a failing activity reaches its fourth attempt in 7 s (retries after 1, 2, 4 s)


async def _drive_hostile_submission(case: str, client: Client, dossiers: DossierClient, pool: asyncpg.Pool,
                                    task_queue: str) -> list[str]:
    """Start it straight on the workflow; play the officer (approve when the case is about the fee step, reject
    otherwise, so that the CT06 delivery runs); return why the dossier is stuck, if it is."""
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = registration(person, place)
    HOSTILE_SUBMISSIONS[case](submission)
    code = submission["dossier_code"]
    handle = await client.start_workflow("PermanentResidenceRegistration", submission, id=code,
                                         task_queue=task_queue)
    deadline = asyncio.get_running_loop().time() + WATCH_SECONDS
    decided = False
    while asyncio.get_running_loop().time() < deadline:
        reasons = await stuck_reasons(handle, history=False)
        if reasons:
            return reasons
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return await stuck_reasons(handle)
        try:
            status = await asyncio.wait_for(dossiers.status(code), timeout=3)
        except (RPCError, WorkflowQueryFailedError, TimeoutError):
            await asyncio.sleep(0.3)
            continue  # a workflow whose task fails answers no query: the next describe says so
        if status.state == DossierState.AWAITING_DECISION and status.assigned_officer and not decided:
            approve = case.startswith("legacy timings")
            await dossiers.decide(code, OfficerDecision(
                officer_id=status.assigned_officer, decision=DecisionKind.APPROVE if approve else DecisionKind.REJECT,
                reason=None if approve else "Giấy tờ chứng minh chỗ ở không hợp lệ"))
            decided = True
        if status.state == DossierState.AWAITING_SIGN_OFF:
            await head_signs(dossiers, pool, code)
        await asyncio.sleep(0.3)
    return await stuck_reasons(handle)


async def _send_hostile_message(case: str, client: Client, dossiers: DossierClient, pool: asyncpg.Pool) -> list[str]:
    code = await _waiting_dossier(dossiers, pool)
    officer = (await dossiers.status(code)).assigned_officer
    name, payload = HOSTILE_MESSAGES[case]
    handle = client.get_workflow_handle(code)
    if name == "reassign":
        payload = {**payload, "officer_id": "CB-00070-02" if officer != "CB-00070-02" else "CB-00070-03"}
    else:
        payload = {"officer_id": officer, **payload}
    if name == "officer_decision":
        await handle.signal(name, payload)
    else:
        with contextlib.suppress(WorkflowUpdateFailedError, RPCError, TimeoutError,
                                 WorkflowUpdateRPCTimeoutOrCancelledError):
            # Refused is the right answer; an update that never returns is judged below.
            await asyncio.wait_for(handle.execute_update(name, payload), timeout=WATCH_SECONDS / 2)
    deadline = asyncio.get_running_loop().time() + WATCH_SECONDS / 2
    while asyncio.get_running_loop().time() < deadline:
        reasons = await stuck_reasons(handle, history=False)
        if reasons:
            return reasons
        await asyncio.sleep(0.5)
    return await stuck_reasons(handle)


@pytest.fixture(scope="module")
async def hostile_results(client: Client, database_url: str, pool: asyncpg.Pool,
                          tmp_root: Path) -> AsyncIterator[dict[str, list[str]]]:
    """Every hostile case at once, each on a dossier of its own, on a worker of this module: a case costs the
    watch period once, not once per test."""
    settings = Settings(temporal_address=client.service_client.config.target_host, namespace=client.namespace,
                        task_queue=f"tq-hostile-{uuid.uuid4().hex[:8]}", database_url=database_url,
                        document_dir=tmp_root / "documents", processing=FAST)
    dossiers = DossierClient(client, settings.task_queue)
    async with build_worker(client, settings, pool):
        submissions = [_drive_hostile_submission(c, client, dossiers, pool, settings.task_queue)
                       for c in HOSTILE_SUBMISSIONS]
        messages = [_send_hostile_message(c, client, dossiers, pool) for c in HOSTILE_MESSAGES]
        found = await asyncio.gather(*submissions, *messages)
        yield dict(zip([*HOSTILE_SUBMISSIONS, *HOSTILE_MESSAGES], found, strict=True))


@pytest.mark.parametrize("case", sorted(HOSTILE_SUBMISSIONS))
def test_a_hostile_submission_never_strands_its_dossier(case: str, hostile_results: dict[str, list[str]],
                                                        bad_inputs: BadInputTally) -> None:
    """A real applicant and place, one hostile detail, straight to the workflow (no client-side check): it must
    be refused, or processed; never retried forever. Found by the campaign: all but the last currently strand."""
    bad_inputs.tried("workflow")
    bad_inputs.stuck += [f"{case}: {r}" for r in hostile_results[case]]
    assert not hostile_results[case], f"{case}: {hostile_results[case]}"


@pytest.mark.parametrize("case", sorted(HOSTILE_MESSAGES))
def test_a_hostile_message_never_strands_its_dossier(case: str, hostile_results: dict[str, list[str]],
                                                     bad_inputs: BadInputTally) -> None:
    """Well-formed enough for the handler's type, hostile in content, from the unit's own officer or supervisor.
    Found by the campaign: each currently leaves an activity that can never succeed retrying forever."""
    bad_inputs.tried("workflow")
    bad_inputs.stuck += [f"{case}: {r}" for r in hostile_results[case]]
    assert not hostile_results[case], f"{case}: {hostile_results[case]}"
