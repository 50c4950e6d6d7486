"""What keeps a dossier's history bounded and its effects its own (docs/reliability.md): the message budget under a
flood of refused signals, a step the database refuses for good closed by an operator, a cancelled workflow, and a
dossier code that belongs to another workflow or procedure — on the time-skipping server with a real worker and
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.service import RPCError

from activities.contracts import CLOSING_KEY, DOSSIER_CODE_TAKEN
from cutru.platform.signing import new_token_id, sign_now
from domain.models import Closure, DossierState, TrailAction
from tests.factories import DECISION_KEYS, FAST, Desk, procedure_desk
from tests.integration.test_histories import permanent_registration, trail_holds
from tests.integration.test_procedures import build
from workflows.lifecycle import CLOSE_REFUSED, DossierLifecycle

BUDGET = 20
FLOOD = 2_000


@pytest.fixture(scope="module")
async def desk(database_url: str, pool: asyncpg.Pool, tmp_root: Path) -> AsyncIterator[Desk]:
    processing = FAST.model_copy(update={"message_budget": BUDGET})
    async with procedure_desk(database_url, pool, tmp_root / "durability-documents", processing) as running:
        yield running


async def signed_closure(desk: Desk, code: str, reason: str) -> Closure:
    closure = Closure(operator_id="ops-on-call", reason=reason)
    return sign_now(DECISION_KEYS, closure, code, new_token_id(), now=await desk.now())


def application_error(error: BaseException) -> ApplicationError:
    """The ApplicationError at the bottom of a workflow's or an update's failure."""
    while not isinstance(error, ApplicationError):
        assert error.__cause__ is not None or getattr(error, "cause", None) is not None, error
        error = getattr(error, "cause", None) or error.__cause__  # type: ignore[assignment]
    return error


async def test_a_flood_of_refused_signals_leaves_the_dossier_able_to_complete(desk: Desk):
    case = await build(desk, permanent_registration)
    code = case.code
    await desk.start(case.raw)
    await desk.wait_state(code, DossierState.AWAITING_DECISION)
    handle = desk.dossiers.handle(code)
    for first in range(0, FLOOD, 250):  # malformed decisions: each refused, none moves the dossier on
        await asyncio.gather(*(handle.signal("officer_decision", {"flood": n}) for n in range(first, first + 250)))
    await trail_holds(desk, code, TrailAction.MESSAGES_REFUSED)
    await desk.approve(code)  # the ``decide`` update still moves it on
    await desk.pay(code)
    assert (await desk.result(code)).state == DossierState.COMPLETED

    actions = [entry.action for entry in (await desk.status(code)).trail]
    assert actions.count(TrailAction.DECISION_REFUSED) == BUDGET
    assert actions.count(TrailAction.MESSAGES_REFUSED) == 1
    assert actions[-1] == TrailAction.COMPLETED
    events = (await handle.fetch_history()).events
    decisions = [e for e in events if e.workflow_execution_signaled_event_attributes.signal_name == "officer_decision"]
    assert len(decisions) == FLOOD
    # A signal dropped past the budget costs its own event and shares workflow tasks: about one event each here.
    assert len(events) < 2 * FLOOD, len(events)
    # The signals past the budget ran no step: the local steps (one marker each) are those of the budget's refusals
    # and of the dossier's own way.
    markers = sum(e.HasField("marker_recorded_event_attributes") for e in events)
    assert markers < BUDGET + 20, markers
    audited = await desk.pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE dossier_code = $1 AND action = 'messages_refused'", code)
    assert audited == 1


async def test_a_step_the_database_refuses_waits_for_an_operator_who_closes_the_dossier(desk: Desk):
    case = await build(desk, permanent_registration)
    code = case.code
    trigger = f"refuse_{code.replace('-', '_').lower()}"
    await desk.pool.execute(
        f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF NEW.dossier_code = '{code}' THEN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation';"
        f" END IF; RETURN NEW; END $$;"
        f" CREATE TRIGGER {trigger} BEFORE INSERT ON residence_changes FOR EACH ROW EXECUTE FUNCTION {trigger}()")
    try:
        await desk.start(case.raw)
        await desk.approve(code)
        await desk.pay(code)
        await trail_holds(desk, code, TrailAction.STEP_FAILED)
    finally:
        await desk.pool.execute(f"DROP TRIGGER {trigger} ON residence_changes; DROP FUNCTION {trigger}()")
    handle = desk.dossiers.handle(code)
    step = [e for e in (await desk.status(code)).trail if e.action == TrailAction.STEP_FAILED]
    assert "commit_residence" in step[0].detail and "refused by the test" in step[0].detail

    # An unsigned closure is refused before it enters the history, as an unsigned decision is.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(DossierLifecycle.close, Closure(operator_id="ops-on-call", reason="thử"))
    assert application_error(refused.value).type == CLOSE_REFUSED
    reason = "Dữ liệu hộ khẩu sai, cần xử lý thủ công"
    closed = await desk.dossiers.close(code, await signed_closure(desk, code, reason))
    assert closed.state == DossierState.CANCELLED
    outcome = await desk.result(code)
    assert outcome.state == DossierState.CANCELLED and [r.message for r in outcome.refusals] == [reason]
    row = await desk.pool.fetchrow("SELECT actor, action, details FROM audit_events WHERE dossier_code = $1"
                                   " AND event_key = $2", code, CLOSING_KEY)
    assert (row["actor"], row["action"]) == ("ops-on-call", "cancelled")
    assert json.loads(row["details"])["detail"] == f"closed: {reason}"
    read = await desk.pool.fetchrow("SELECT status, outcome_reason FROM dossiers WHERE dossier_code = $1", code)
    assert (read["status"], read["outcome_reason"]) == ("cancelled", reason)
    assert await desk.pool.fetchval("SELECT count(*) FROM residence_changes WHERE dossier_code = $1", code) == 0
    # Closed is final: the server refuses an update to a closed workflow.
    with pytest.raises(RPCError):
        await desk.dossiers.close(code, await signed_closure(desk, code, reason))


async def test_a_cancelled_workflow_closes_its_dossier(desk: Desk):
    case = await build(desk, permanent_registration)
    code = case.code
    handle = await desk.start(case.raw)
    await desk.wait_state(code, DossierState.AWAITING_DECISION)
    await handle.cancel()
    outcome = await handle.result()
    assert outcome.state == DossierState.CANCELLED
    closing = (await desk.status(code)).trail[-1]
    assert closing.action == TrailAction.CANCELLED and "cancelled" in closing.detail
    assert await desk.pool.fetchval("SELECT status FROM dossiers WHERE dossier_code = $1", code) == "cancelled"


async def test_a_second_workflow_under_a_used_code_writes_nothing(desk: Desk):
    case = await build(desk, permanent_registration)
    code = case.code
    first = await desk.start(case.raw)
    await desk.approve(code)
    await desk.pay(code)
    assert (await first.result()).state == DossierState.COMPLETED
    before = await desk.pool.fetchrow("SELECT status, run_id, updated_at FROM dossiers WHERE dossier_code = $1", code)
    assert before["run_id"] == first.result_run_id

    # Started as a workflow-id reuse would start it (the client refuses that; a raw start does not).
    second = await desk.start(case.raw)
    with pytest.raises(WorkflowFailureError) as failed:
        await second.result()
    assert isinstance(failed.value.cause, ActivityError)
    error = application_error(failed.value)
    assert error.type == DOSSIER_CODE_TAKEN and f"workflow run {first.result_run_id}" in error.message
    after = await desk.pool.fetchrow("SELECT status, run_id, updated_at FROM dossiers WHERE dossier_code = $1", code)
    assert after == before


async def test_a_commit_under_a_code_another_procedure_committed_is_no_silent_success(desk: Desk):
    case = await build(desk, permanent_registration)
    code = case.code
    # A stay register recorded a notification under this code (its claim only, as a race would leave it).
    await desk.pool.execute("INSERT INTO residence_changes (dossier_code, procedure, summary)"
                            " VALUES ($1, 'StayNotification', '{}')", code)
    handle = await desk.start(case.raw)
    await desk.approve(code)
    await desk.pay(code)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    error = application_error(failed.value)
    assert error.type == DOSSIER_CODE_TAKEN and "StayNotification" in error.message
    assert await desk.pool.fetchval("SELECT count(*) FROM permanent_residences WHERE dossier_code = $1", code) == 0
