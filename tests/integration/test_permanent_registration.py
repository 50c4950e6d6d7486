"""Permanent-residence registration end to end, on the real Temporal dev server and real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from domain.models import DecisionKind, DossierState, OfficerDecision, Supplement
from tests.factories import DEMO_UNIT, head_signs, new_person, new_place, pay, registration

OFFICER = "CB-00070-01"


@pytest.fixture
def dossiers(client, settings: Settings, worker) -> DossierClient:  # type: ignore[no-untyped-def]
    return DossierClient(client, settings.task_queue)


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


WORKFLOW_TASK_EVENTS = {EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
                        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED}


async def acted_events(handle: WorkflowHandle[Any, Any]) -> int:
    """Events of the history other than workflow tasks. A refused update never enters the history, but the server
    may keep the workflow task its validator ran on, depending on how the dossier's earlier tasks were split."""
    return sum(e.event_type not in WORKFLOW_TASK_EVENTS for e in (await handle.fetch_history()).events)


async def idle(handle: WorkflowHandle[Any, Any]) -> bool:
    """No workflow task and no activity pending: the workflow has done with every message it was sent."""
    raw = (await handle.describe()).raw_description
    return not raw.HasField("pending_workflow_task") and not raw.pending_activities


async def wait_state(dossiers: DossierClient, code: str, state: DossierState) -> None:
    async def reached() -> bool:
        try:
            return (await dossiers.status(code)).state == state
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            return False  # recorded by the API, started just after its answer (cutru/api/outbox.py)

    await wait_for(reached)


async def own_residence_dossier(pool: asyncpg.Pool, **place_kwargs: object) -> dict:  # type: ignore[type-arg]
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id, **place_kwargs)  # type: ignore[arg-type]
    return registration(person, place)


def approve(officer: str = OFFICER) -> OfficerDecision:
    return OfficerDecision(officer_id=officer, decision=DecisionKind.APPROVE)


async def test_registration_goes_from_submission_to_delivered_result(dossiers: DossierClient, pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        person = await new_person(conn)
        old_home = await new_place(conn, owner_id=None, head_id=person.personal_id)
        await conn.execute(
            "INSERT INTO permanent_residences (personal_id, residence_id, valid_from, status)"
            " VALUES ($1, $2, '2010-01-01', 'active')",
            person.personal_id, old_home.residence_id,
        )
        new_home = await new_place(conn, owner_id=person.personal_id)
    submission = registration(person, new_home)
    code = submission["dossier_code"]

    receipt = await dossiers.submit(submission)
    assert not receipt.already_submitted
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    status = await dossiers.status(code)
    assert status.assigned_officer is not None and status.deadline is not None
    assert status.police_unit == DEMO_UNIT and status.fee_vnd == 10_000

    await dossiers.decide(code, approve(status.assigned_officer))
    await head_signs(dossiers, pool, code)
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, code)
    outcome = await dossiers.result(code)

    assert outcome.state == DossierState.COMPLETED
    assert outcome.fee_paid_vnd == 10_000 and outcome.decided_by == status.assigned_officer
    async with pool.acquire() as conn:
        records = await conn.fetch(
            "SELECT residence_id, status, ended_by_dossier FROM permanent_residences WHERE personal_id = $1"
            " ORDER BY record_id", person.personal_id,
        )
        assert [(r["residence_id"], r["status"]) for r in records] == [
            (old_home.residence_id, "ended"), (new_home.residence_id, "active")
        ]
        assert records[0]["ended_by_dossier"] == code
        assert await conn.fetchval("SELECT status FROM payments WHERE dossier_code = $1", code) == "paid"
        assert await conn.fetchval("SELECT documents FROM deliveries WHERE dossier_code = $1", code) == ["CT08"]
        assert await conn.fetchval("SELECT status FROM dossiers WHERE dossier_code = $1", code) == "completed"
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_events WHERE dossier_code = $1 ORDER BY event_id", code)]
        assert actions == ["received", "accepted", "proposed", "signed_off", "fee_paid", "completed"]


async def test_barred_place_is_refused_with_ct06(dossiers: DossierClient, pool: asyncpg.Pool):
    submission = await own_residence_dossier(pool, barred_reason="đất lấn chiếm")
    await dossiers.submit(submission)
    outcome = await dossiers.result(submission["dossier_code"])
    assert outcome.state == DossierState.REFUSED
    assert [r.code for r in outcome.refusals] == ["barred_place"]
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT documents FROM deliveries WHERE dossier_code = $1",
                                  submission["dossier_code"])
        assert row["documents"] == ["CT06"]
        assert await conn.fetchval("SELECT count(*) FROM payments WHERE dossier_code = $1",
                                   submission["dossier_code"]) == 0


async def test_unknown_applicant_is_refused(dossiers: DossierClient, pool: asyncpg.Pool):
    submission = await own_residence_dossier(pool)
    async with pool.acquire() as conn:
        ghost = await new_person(conn)
        await conn.execute("UPDATE people SET status = 'dead' WHERE personal_id = $1", ghost.personal_id)
    submission["applicant"]["personal_id"] = ghost.personal_id
    await dossiers.submit(submission)
    outcome = await dossiers.result(submission["dossier_code"])
    assert outcome.state == DossierState.REFUSED
    assert "identity_deceased" in [r.code for r in outcome.refusals]


async def test_officer_rejects_with_reason(dossiers: DossierClient, pool: asyncpg.Pool):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    await dossiers.decide(code, OfficerDecision(officer_id=OFFICER, decision=DecisionKind.REJECT,
                                                reason="Giấy tờ chứng minh chỗ ở không hợp lệ"))
    outcome = await dossiers.result(code)
    assert outcome.state == DossierState.REFUSED
    assert outcome.refusals[0].message == "Giấy tờ chứng minh chỗ ở không hợp lệ"


async def test_supplement_round_then_approval(dossiers: DossierClient, pool: asyncpg.Pool):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    await dossiers.decide(code, OfficerDecision(officer_id=OFFICER, decision=DecisionKind.REQUEST_SUPPLEMENT,
                                                missing_items=("giấy chứng nhận quyền sở hữu nhà",)))
    await wait_state(dossiers, code, DossierState.AWAITING_SUPPLEMENT)
    await dossiers.supplement(code, Supplement(provided_items=("giấy chứng nhận quyền sở hữu nhà",)))
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    await dossiers.decide(code, approve())
    await head_signs(dossiers, pool, code)
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, code)
    outcome = await dossiers.result(code)
    assert outcome.state == DossierState.COMPLETED
    actions = [e.action for e in (await dossiers.status(code)).trail]
    assert actions[-6:] == ["supplement_requested", "supplemented", "proposed", "signed_off", "fee_paid", "completed"]


@pytest.mark.parametrize(
    ("officer", "expected"),
    [("CB-99999-01", "is not an officer of CA-00070"), ("CB-00071-01", "is not an officer of CA-00070")],
)
async def test_update_validator_refuses_officers_outside_the_unit(
    dossiers: DossierClient, pool: asyncpg.Pool, officer: str, expected: str
):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    await wait_for(lambda: idle(dossiers.handle(code)))
    history_before = await acted_events(dossiers.handle(code))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await dossiers.decide(code, approve(officer))
    assert expected in str(refused.value.cause)
    assert await acted_events(dossiers.handle(code)) == history_before
    assert (await dossiers.status(code)).state == DossierState.AWAITING_DECISION


async def test_update_validator_refuses_decision_the_state_forbids(dossiers: DossierClient, pool: asyncpg.Pool):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    await dossiers.decide(code, approve())
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await dossiers.decide(code, approve())
    assert "not waiting for an officer's decision" in str(refused.value.cause)
    await head_signs(dossiers, pool, code)
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, code)
    assert (await dossiers.result(code)).state == DossierState.COMPLETED


async def test_reject_without_reason_is_refused_by_the_server(dossiers: DossierClient, pool: asyncpg.Pool):
    """A client that skips our models (raw JSON) still cannot reject without a reason."""
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    with pytest.raises(WorkflowUpdateFailedError):
        await dossiers.handle(code).execute_update("decide", {"officer_id": OFFICER, "decision": "reject"})
    assert (await dossiers.status(code)).state == DossierState.AWAITING_DECISION


async def test_duplicate_submission_signals_and_updates_leave_one_effect(
    dossiers: DossierClient, pool: asyncpg.Pool
):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    first, second = await asyncio.gather(dossiers.submit(submission), dossiers.submit(submission))
    assert sorted([first.already_submitted, second.already_submitted]) == [False, True]
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    for _ in range(3):
        await dossiers.signal_decision(code, approve())
    await head_signs(dossiers, pool, code)
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, code)
    await pay(dossiers, pool, code)
    assert (await dossiers.result(code)).state == DossierState.COMPLETED
    assert (await dossiers.submit(submission)).already_submitted
    async with pool.acquire() as conn:
        for table in ("payments", "residence_changes", "deliveries"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE dossier_code = $1", code) == 1
        assert await conn.fetchval(
            "SELECT count(*) FROM permanent_residences WHERE dossier_code = $1", code) == 1
        refused = await conn.fetchval(
            "SELECT count(*) FROM audit_events WHERE dossier_code = $1 AND action = 'decision_refused'", code)
        assert refused == 2


async def test_invalid_input_sent_straight_to_the_workflow_is_a_refused_dossier(client, settings, worker):  # type: ignore[no-untyped-def]
    handle = await client.start_workflow(
        "PermanentResidenceRegistration", {"dossier_code": "HS-BAD-INPUT-1", "applicant": {"personal_id": "12"}},
        id="HS-BAD-INPUT-1", task_queue=settings.task_queue,
    )
    outcome = await handle.result()
    assert outcome["state"] == "refused"
    assert any("applicant.personal_id" in r["message"] for r in outcome["refusals"])
