"""Effects written by a workflow task that is lost (docs/reliability.md, lost workflow tasks).

A local step writes inside its workflow task; a worker killed before that task completes leaves the writes in the
database while the history never holds them, and the retried task first takes the messages that arrived meanwhile.
Each test kills a worker right after a local step's write (``tests.integration.dying_worker``), sends the message
that would take the dossier elsewhere while no worker runs, then lets a new worker retry the task.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities import trail
from activities.contracts import (
    CLOSED_BEFORE_COMMIT,
    CLOSING_KEY,
    AuditBatch,
    AuditRecord,
    Closing,
    CommitRequest,
    DeliveryRequest,
    DocumentRequest,
    DossierHeader,
    DossierPaper,
    IdentityCheck,
)
from activities.dossier import DossierActivities
from cutru.clients.client import DossierClient
from cutru.platform.config import PROJECT_ROOT, Settings
from domain.models import (
    Closure,
    DecisionKind,
    DossierState,
    OfficerDecision,
    Reassignment,
    TrailAction,
    TrailEntry,
    Withdrawal,
)
from domain.procedures.catalogue import parse_submission
from tests.factories import head_signs, new_person, new_place, pay, registration, worker_env
from tests.integration.dying_worker import DIE_AFTER_ENV
from tests.integration.test_permanent_registration import own_residence_dossier, wait_for, wait_state
from worker import build_worker
from workflows.lifecycle import TOO_LATE

SUPERVISOR = "CB-00070-00"


def dying_worker(settings: Settings, step: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.integration.dying_worker"], cwd=PROJECT_ROOT,
                            env=worker_env(settings, **{DIE_AFTER_ENV: step}))


async def died(process: subprocess.Popen[bytes]) -> None:
    """The worker killed itself after the step's write (not a crash of its own)."""
    assert await asyncio.to_thread(process.wait, 60) == -signal.SIGKILL


async def read_model_at(pool: asyncpg.Pool, code: str, state: DossierState) -> None:
    """Wait by the read model, not by a query: the worker process may still be starting."""
    async def reached() -> bool:
        return await pool.fetchval("SELECT status FROM dossiers WHERE dossier_code = $1", code) == state.value

    await wait_for(reached, timeout=60)


async def audit_rows(pool: asyncpg.Pool, code: str) -> tuple[Counter[tuple[str, str]], list[tuple[str, str, str]]]:
    """The audit table read as the dossier's trail (``activities.trail``): the rows that stand, as (action, actor),
    and the superseded ones, as (key, action, reason)."""
    rows = await pool.fetch(trail.ROWS, [code])
    superseded = sorted((r["event_key"], r["action"], r["superseded"]) for r in rows if r["superseded"])
    return Counter((r["action"], r["actor"]) for r in trail.standing(rows)), superseded


async def committed_then_lost(client: Client, settings: Settings, pool: asyncpg.Pool) -> tuple[str, str]:
    """A paid registration whose records a workflow task committed before its worker died: (code, applicant)."""
    dossiers = DossierClient(client, settings.task_queue)
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    process = dying_worker(settings, "commit_residence")
    try:
        await dossiers.submit(submission)
        await read_model_at(pool, code, DossierState.AWAITING_DECISION)
        await dossiers.decide(code, OfficerDecision(officer_id="CB-00070-01", decision=DecisionKind.APPROVE))
        await head_signs(dossiers, pool, code)
        await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
        await pay(dossiers, pool, code)  # the task that takes the payment commits the records, then the worker dies
        await died(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert await pool.fetchval("SELECT count(*) FROM residence_changes WHERE dossier_code = $1", code) == 1
    return code, submission["applicant"]["personal_id"]


async def completed_on_the_commit(dossiers: DossierClient, pool: asyncpg.Pool, code: str,
                                  refused: TrailAction) -> None:
    """The database decided: the commit came first, so the message is refused and the dossier completes on it."""
    outcome = await dossiers.result(code)
    status = await dossiers.status(code)
    assert outcome.state == DossierState.COMPLETED
    assert await pool.fetchval("SELECT count(*) FROM residence_changes WHERE dossier_code = $1", code) == 1
    assert [e.detail for e in status.trail if e.action == refused] == [TOO_LATE]
    assert await pool.fetchval("SELECT status FROM dossiers WHERE dossier_code = $1", code) == "completed"
    assert await audit_rows(pool, code) == (Counter((e.action.value, e.actor) for e in status.trail), [])


async def test_a_withdrawal_after_a_lost_tasks_record_commit_is_refused_and_the_commit_stands(
    client: Client, settings: Settings, pool: asyncpg.Pool
) -> None:
    dossiers = DossierClient(client, settings.task_queue)
    code, applicant = await committed_then_lost(client, settings, pool)
    await dossiers.withdraw(code, Withdrawal(reason="Đổi ý", applicant_id=applicant))
    async with build_worker(client, settings, pool):
        await asyncio.wait_for(completed_on_the_commit(dossiers, pool, code, TrailAction.WITHDRAWAL_REFUSED), 60)


@pytest.mark.parametrize("ending", ["close", "cancel"])
async def test_a_close_after_a_lost_tasks_record_commit_is_refused_and_the_commit_stands(
    client: Client, settings: Settings, pool: asyncpg.Pool, ending: str
) -> None:
    dossiers = DossierClient(client, settings.task_queue)
    code, _ = await committed_then_lost(client, settings, pool)
    if ending == "close":  # accepted: the dossier rested waiting for its fee as far as the history knows
        closing = asyncio.create_task(dossiers.close(code, Closure(operator_id="ops-on-call", reason="Nộp nhầm")))
    else:
        await dossiers.handle(code).cancel()
    async with build_worker(client, settings, pool):
        await asyncio.wait_for(completed_on_the_commit(dossiers, pool, code, TrailAction.CLOSE_REFUSED), 60)
        if ending == "close":
            assert (await closing).state == DossierState.COMPLETED


async def test_a_lost_tasks_trail_entries_are_superseded_not_shown_as_the_trail(
    client: Client, settings: Settings, pool: asyncpg.Pool
) -> None:
    dossiers = DossierClient(client, settings.task_queue)
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    process = dying_worker(settings, f"record_event:{TrailAction.SUPPLEMENT_REQUESTED.value}")
    try:
        await dossiers.submit(submission)
        await read_model_at(pool, code, DossierState.AWAITING_DECISION)
        officer = (await dossiers.status(code)).assigned_officer or "CB-00070-01"
        request = OfficerDecision(officer_id=officer, decision=DecisionKind.REQUEST_SUPPLEMENT,
                                  missing_items=("Giấy tờ chứng minh chỗ ở hợp pháp",))
        # Taken by the dying worker: it writes the supplement request's trail entry and dies before the task ends.
        deciding = asyncio.create_task(dossiers.decide(code, request))
        await died(process)
    finally:
        if process.poll() is None:
            process.kill()
    # Meanwhile the supervisor moves the dossier: the retried task records that first, so the entries move on.
    other = "CB-00070-02" if officer != "CB-00070-02" else "CB-00070-03"
    reassigning = asyncio.create_task(dossiers.reassign(
        code, Reassignment(supervisor_id=SUPERVISOR, officer_id=other, reason="Cân đối công việc")))
    async with build_worker(client, settings, pool):
        await asyncio.wait_for(asyncio.gather(deciding, reassigning), timeout=60)
        await wait_state(dossiers, code, DossierState.AWAITING_SUPPLEMENT)
        await dossiers.withdraw(code, Withdrawal(reason="Đổi ý", applicant_id=submission["applicant"]["personal_id"]))
        outcome = await asyncio.wait_for(dossiers.result(code), timeout=60)
        status = await dossiers.status(code)
    assert outcome.state == DossierState.WITHDRAWN
    actions = [e.action for e in status.trail]
    assert actions.index(TrailAction.REASSIGNED) < actions.index(TrailAction.SUPPLEMENT_REQUESTED)
    standing, superseded = await audit_rows(pool, code)
    assert standing == Counter((e.action.value, e.actor) for e in status.trail)
    # The lost task's entry stays in the table, shown as superseded: the history holds another entry under its key.
    assert [(action, reason) for _, action, reason in superseded] == [("supplement_requested", "not_in_history")]


# ---- the database's side, the activities called as the worker calls them --------------------------------------


async def identified(pool: asyncpg.Pool, acts: DossierActivities) -> Any:
    """A registration entered into the read model by its identity check."""
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = parse_submission(registration(person, place))
    await ActivityEnvironment().run(acts.validate_identity, IdentityCheck(dossier=DossierHeader.of(submission),
                                                                          deadline=None))
    return submission


async def test_a_closing_first_fences_the_commit_and_a_commit_first_refuses_the_closing(
    pool: asyncpg.Pool, activities: DossierActivities
) -> None:
    env = ActivityEnvironment()
    withdrawn, committed = await identified(pool, activities), await identified(pool, activities)

    settled = await env.run(activities.settle_closing, Closing(dossier_code=withdrawn.dossier_code,
                                                               state=DossierState.WITHDRAWN))
    assert not settled.committed
    # A lost task still running on a stalled worker reaches the commit afterwards: it changes nothing.
    late = await env.run(activities.commit_residence, CommitRequest(submission=withdrawn))
    assert [r.code for r in late.refusals] == [CLOSED_BEFORE_COMMIT] and not late.summary
    assert await pool.fetchrow(
        "SELECT d.status, d.closing, (SELECT count(*) FROM residence_changes r WHERE r.dossier_code = d.dossier_code)"
        " AS changes FROM dossiers d WHERE dossier_code = $1", withdrawn.dossier_code) == ("received", "withdrawn", 0)

    first = await env.run(activities.commit_residence, CommitRequest(submission=committed))
    assert first.summary and not first.refusals
    for _ in range(2):  # the same answer at every attempt
        settled = await env.run(activities.settle_closing, Closing(dossier_code=committed.dossier_code,
                                                                   state=DossierState.CANCELLED))
        assert settled.committed
    assert await pool.fetchval("SELECT closing FROM dossiers WHERE dossier_code = $1", committed.dossier_code) is None
    again = await env.run(activities.commit_residence, CommitRequest(submission=committed))
    assert again.already_committed and again.summary == first.summary


async def test_the_final_write_supersedes_the_rows_the_history_does_not_hold_and_restates_its_own(
    pool: asyncpg.Pool, activities: DossierActivities
) -> None:
    env = ActivityEnvironment()
    submission = await identified(pool, activities)
    code = submission.dossier_code

    def entry(key: str, actor: str, action: TrailAction, detail: str = "", **changes: Any) -> AuditRecord:
        return AuditRecord(dossier_code=code, event_key=key, **changes,
                           entry=TrailEntry(at=datetime.now(UTC), actor=actor, action=action, detail=detail))

    received = entry("0000-received", "citizen", TrailAction.RECEIVED)
    # A lost task's rows: an approval by another officer than the history's, and a payment the history never saw.
    lost = (received, entry("0001-approved", "CB-00070-01", TrailAction.APPROVED),
            entry("0002-fee_paid", "payment-gateway", TrailAction.FEE_PAID, "20000 VND, order X"))
    # A refused message's entry the workflow's own handler writes while the dossier closes.
    later = entry("m00000-decision_refused", "CB-00070-03", TrailAction.DECISION_REFUSED, "closed")
    await env.run(activities.record_event, AuditBatch(records=(*lost, later)))

    held = (received, entry("0001-approved", "CB-00070-02", TrailAction.APPROVED))
    closing = entry(CLOSING_KEY, "citizen", TrailAction.WITHDRAWN, "Đổi ý", state=DossierState.WITHDRAWN)
    request = DeliveryRequest(final_state=DossierState.WITHDRAWN, audit=(closing,), held=held,
                              result=DocumentRequest(dossier_code=code, procedure=submission.procedure, kinds=(),
                                                     paper=DossierPaper.of(submission)))
    for _ in range(2):  # a retried delivery supersedes and restates nothing more
        await env.run(activities.deliver_result, request)

    rows = await pool.fetch(trail.ROWS, [code])
    assert sorted((r["event_key"], r["superseded"]) for r in rows if r["superseded"]) == [
        ("0001-approved", "differs_from_history"), ("0002-fee_paid", "not_in_history")]
    assert Counter((r["action"], r["actor"]) for r in trail.standing(rows)) == Counter([
        ("received", "citizen"), ("approved", "CB-00070-02"), ("withdrawn", "citizen"),
        ("decision_refused", "CB-00070-03")])
    restated = [r["event_key"] for r in rows if r["event_key"].startswith("0001-approved~")]
    assert len(restated) == 1
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("DELETE FROM audit_superseded WHERE dossier_code = $1", code)
