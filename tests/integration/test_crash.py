"""A worker killed with SIGKILL mid-dossier: after a restart every dossier completes, each effect exactly once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio.api.enums.v1 import PendingActivityState

from cutru.clients.client import DossierClient
from cutru.platform.config import PROJECT_ROOT, Settings
from domain.models import DecisionKind, DossierState, OfficerDecision
from tests.factories import head_signs, new_person, new_place, pay, registration, worker_env
from tests.integration.test_permanent_registration import wait_for, wait_state
from tests.integration.test_stay_register import hotel_stay, outcome_of

APPROVE = OfficerDecision(officer_id="CB-00070-01", decision=DecisionKind.APPROVE)


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(PROJECT_ROOT / "worker.py")], env=worker_env(settings))


@pytest.fixture
def worker_process(settings: Settings) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes = [start_worker(settings)]
    yield processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


async def test_sigkill_mid_dossier_then_restart(
    client, settings: Settings, pool: asyncpg.Pool, worker_process: list[subprocess.Popen[bytes]], tmp_path: Path  # type: ignore[no-untyped-def]
):
    dossiers = DossierClient(client, settings.task_queue)
    async with pool.acquire() as conn:
        people = [await new_person(conn) for _ in range(2)]
        places = [await new_place(conn, owner_id=p.personal_id) for p in people]
    waiting, busy = (registration(p, place) for p, place in zip(people, places, strict=True))
    for submission in (waiting, busy):
        await dossiers.submit(submission)
        await wait_state(dossiers, submission["dossier_code"], DossierState.AWAITING_DECISION)

    # Hold the records table so that the busy dossier's commit activity is caught in the middle.
    blocker = await pool.acquire()
    lock = blocker.transaction()
    await lock.start()
    await blocker.execute("LOCK TABLE residence_changes IN ACCESS EXCLUSIVE MODE")
    await dossiers.decide(busy["dossier_code"], APPROVE)
    await head_signs(dossiers, pool, busy["dossier_code"])
    await wait_state(dossiers, busy["dossier_code"], DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, busy["dossier_code"])

    async def commit_started() -> bool:
        # A local activity (workflows/lifecycle.py, LOCAL_STEPS) is not listed among pending activities: the worker's
        # statement waiting on the lock shows that the commit is under way.
        return bool(await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND query LIKE '%residence%'"))

    await wait_for(commit_started)
    worker_process[0].send_signal(signal.SIGKILL)
    worker_process[0].wait(timeout=10)
    await lock.rollback()
    await pool.release(blocker)
    worker_process.append(start_worker(settings))

    await dossiers.decide(waiting["dossier_code"], APPROVE)
    await head_signs(dossiers, pool, waiting["dossier_code"])
    await wait_state(dossiers, waiting["dossier_code"], DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, waiting["dossier_code"])
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(dossiers.result(s["dossier_code"]) for s in (waiting, busy))), timeout=60
    )
    assert [o.state for o in outcomes] == [DossierState.COMPLETED, DossierState.COMPLETED]
    async with pool.acquire() as conn:
        for submission in (waiting, busy):
            code = submission["dossier_code"]
            assert await conn.fetchval("SELECT count(*) FROM payments WHERE dossier_code = $1 AND status = 'paid'",
                                       code) == 1
            assert await conn.fetchval("SELECT count(*) FROM permanent_residences WHERE dossier_code = $1", code) == 1
            assert await conn.fetchval("SELECT count(*) FROM residence_changes WHERE dossier_code = $1", code) == 1
            assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE dossier_code = $1", code) == 1


async def test_sigkill_mid_stay_batch_then_restart(
    client, settings: Settings, pool: asyncpg.Pool, worker_process: list[subprocess.Popen[bytes]]  # type: ignore[no-untyped-def]
):
    """A register's batch caught between two notifications: after the restart each is recorded exactly once."""
    dossiers = DossierClient(client, settings.task_queue)
    arrival = datetime.now(UTC) - timedelta(hours=1)
    async with pool.acquire() as conn:
        host = await new_person(conn)
        hotel = await new_place(conn, owner_id=host.personal_id)
        guests = [await new_person(conn) for _ in range(6)]
    raws = [hotel_stay(host, hotel, guest, arrival=arrival) for guest in guests]

    # An uncommitted row with the fourth notification's code: recording it waits on this transaction.
    blocker = await pool.acquire()
    lock = blocker.transaction()
    await lock.start()
    await blocker.execute(
        "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name, received_at)"
        " VALUES ($1, 'StayNotification', 'received', $2, $3, 'x', now())",
        raws[3]["dossier_code"], raws[3]["police_unit"], host.personal_id)
    receipts = [await dossiers.submit(raw) for raw in raws]
    register = dossiers.client.get_workflow_handle(receipts[0].workflow_id)

    async def batch_stuck() -> bool:
        pending = (await register.describe()).raw_description.pending_activities
        started = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        return any(a.activity_type.name == "record_stays" and a.state == started for a in pending)

    await wait_for(batch_stuck)
    await asyncio.sleep(0.5)  # the notifications before the fourth commit meanwhile
    worker_process[0].send_signal(signal.SIGKILL)
    worker_process[0].wait(timeout=10)
    await lock.rollback()
    await pool.release(blocker)
    worker_process.append(start_worker(settings))

    outcomes = [await outcome_of(dossiers, receipt, timeout=60) for receipt in receipts]
    assert [o.state for o in outcomes] == [DossierState.COMPLETED] * len(raws)
    codes = [r.dossier_code for r in receipts]
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT dossier_code, count(*) AS n FROM stay_notifications"
                                " WHERE dossier_code = ANY($1) GROUP BY dossier_code", codes)
        closed = await conn.fetchval("SELECT count(*) FROM audit_events WHERE dossier_code = ANY($1)"
                                     " AND event_key = '9999-closed'", codes)
    assert {row["dossier_code"]: row["n"] for row in rows} == dict.fromkeys(codes, 1)
    assert closed == len(codes)
