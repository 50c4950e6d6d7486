"""The officer's desk: login, work queue order, validator refusals, the signal path's audit, reassignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from cutru.clients.client import DossierClient
from cutru.clients.officer import OfficerDesk, OfficerError
from cutru.platform.config import Settings
from domain.models import DecisionKind, DossierState
from tests.cli import cutru_env, run_cutru
from tests.integration.test_permanent_registration import own_residence_dossier, wait_for, wait_state

QUEUE_UNIT = "CA-00073"  # Phường Cửa Nam: a unit only this module files read-model rows for


@pytest.fixture
def dossiers(client, settings: Settings, worker) -> DossierClient:  # type: ignore[no-untyped-def]
    return DossierClient(client, settings.task_queue)


async def test_login_refuses_unknown_and_inactive_officers(dossiers: DossierClient, pool: asyncpg.Pool):
    with pytest.raises(OfficerError, match="unknown officer CB-99999-09"):
        await OfficerDesk.login(dossiers, pool, "CB-99999-09")
    await pool.execute("UPDATE officers SET active = false WHERE officer_id = 'CB-00070-03'")
    try:
        with pytest.raises(OfficerError, match="inactive"):
            await OfficerDesk.login(dossiers, pool, "CB-00070-03")
    finally:
        await pool.execute("UPDATE officers SET active = true WHERE officer_id = 'CB-00070-03'")


@pytest.fixture
async def queue_unit(pool: asyncpg.Pool) -> str:
    await pool.execute("INSERT INTO police_units (unit_code, name, province_code, commune_code)"
                       " VALUES ($1, 'Công an Phường Cửa Nam', '01', '00073') ON CONFLICT DO NOTHING", QUEUE_UNIT)
    await pool.execute("INSERT INTO officers (officer_id, full_name, unit_code, role) VALUES"
                       " ('CB-00073-91', 'Lê Văn Tám', $1, 'officer'), ('CB-00073-90', 'Đỗ Thị Hoa', $1, 'supervisor')"
                       " ON CONFLICT DO NOTHING", QUEUE_UNIT)
    return QUEUE_UNIT


async def test_work_queue_puts_overdue_first_then_nearest_deadline(
    dossiers: DossierClient, pool: asyncpg.Pool, queue_unit: str
):
    now = datetime.now(UTC)
    rows = [  # code, status, deadline in days, overdue
        ("HS-Q-LATER", "awaiting_decision", 5, False),
        ("HS-Q-OVERDUE-OLD", "awaiting_decision", -3, True),
        ("HS-Q-SOON", "awaiting_supplement", 1, False),
        ("HS-Q-OVERDUE-NEW", "awaiting_decision", -1, True),
        ("HS-Q-DONE", "completed", 0, False),
    ]
    for code, status, days, overdue in rows:
        await pool.execute(
            "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
            " received_at, deadline, overdue) VALUES ($1, 'PermanentResidenceRegistration', $2, $3, '001190000001',"
            " 'Nguyễn Văn A', $4, $5, $6) ON CONFLICT DO NOTHING",
            code, status, QUEUE_UNIT, now - timedelta(days=10), now + timedelta(days=days), overdue,
        )
    desk = await OfficerDesk.login(dossiers, pool, "CB-00073-91")
    assert [item.dossier_code for item in await desk.queue()] == [
        "HS-Q-OVERDUE-OLD", "HS-Q-OVERDUE-NEW", "HS-Q-SOON", "HS-Q-LATER"
    ]
    supervisor = await OfficerDesk.login(dossiers, pool, "CB-00073-90")
    assert [item.dossier_code for item in await supervisor.escalations()] == ["HS-Q-OVERDUE-OLD", "HS-Q-OVERDUE-NEW"]
    with pytest.raises(OfficerError, match="is not a supervisor"):
        await desk.escalations()


async def test_desk_decisions_and_refusals(dossiers: DossierClient, pool: asyncpg.Pool, queue_unit: str):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    desk = await OfficerDesk.login(dossiers, pool, "CB-00070-02")
    shown = await desk.show(code)
    assert shown.submission and shown.submission["applicant"]["full_name"] == "Nguyễn Thị Ánh Tuyết"
    assert shown.findings and shown.deadline is not None
    assert code in [item.dossier_code for item in await desk.queue()]
    with pytest.raises(OfficerError, match="a rejection needs a reason"):
        await desk.decide(code, DecisionKind.REJECT)
    stranger = await OfficerDesk.login(dossiers, pool, "CB-00073-91")
    with pytest.raises(OfficerError, match="belongs to CA-00070, not to your unit CA-00073"):
        await stranger.show(code)
    with pytest.raises(OfficerError, match="is not an officer of CA-00070"):
        await stranger.decide(code, DecisionKind.APPROVE)
    receipt = await desk.decide(code, DecisionKind.REJECT, reason="Hồ sơ giả mạo giấy tờ")
    assert receipt.accepted
    with pytest.raises(OfficerError, match="not waiting for an officer's decision"):
        await desk.decide(code, DecisionKind.APPROVE)
    assert (await dossiers.result(code)).state == DossierState.REFUSED


async def test_inactive_officer_is_refused_by_the_update_validator(dossiers: DossierClient, pool: asyncpg.Pool):
    await pool.execute("UPDATE officers SET active = false WHERE officer_id = 'CB-00070-03'")
    try:
        submission = await own_residence_dossier(pool)
        code = submission["dossier_code"]
        await dossiers.submit(submission)
        await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    finally:
        await pool.execute("UPDATE officers SET active = true WHERE officer_id = 'CB-00070-03'")
    desk = await OfficerDesk.login(dossiers, pool, "CB-00070-03")  # reactivated in the database…
    with pytest.raises(OfficerError, match="inactive and cannot decide"):  # …but not on this dossier's roster
        await desk.decide(code, DecisionKind.APPROVE)


async def test_invalid_signal_is_audited_as_refused_and_never_acted_on(dossiers: DossierClient, pool: asyncpg.Pool):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    handle = dossiers.handle(code)
    await handle.signal("officer_decision", {"officer_id": "CB-00070-01", "decision": "reject"})
    await handle.signal("officer_decision", {"officer_id": "CB-00072-01", "decision": "approve"})

    async def two_refusals() -> bool:
        count = await pool.fetchval("SELECT count(*) FROM audit_events WHERE dossier_code = $1"
                                    " AND action = 'decision_refused'", code)
        return bool(count == 2)

    await wait_for(two_refusals)
    details = [r["details"] for r in await pool.fetch(
        "SELECT details::text FROM audit_events WHERE dossier_code = $1 AND action = 'decision_refused'"
        # The trail's order: each signal's entry is written by an activity of its own, and those can finish in
        # either order.
        " ORDER BY event_key", code)]
    assert "a rejection needs a reason" in details[0]
    assert "is not an officer of CA-00070" in details[1]
    assert (await dossiers.status(code)).state == DossierState.AWAITING_DECISION
    await dossiers.handle(code).terminate("test over")


async def test_supervisor_reassigns_and_sees_escalations(dossiers: DossierClient, pool: asyncpg.Pool):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    before = (await dossiers.status(code)).assigned_officer
    target = "CB-00070-02" if before != "CB-00070-02" else "CB-00070-01"
    officer = await OfficerDesk.login(dossiers, pool, "CB-00070-01")
    with pytest.raises(OfficerError, match="is not a supervisor"):
        await officer.reassign(code, target, "cân bằng công việc")
    supervisor = await OfficerDesk.login(dossiers, pool, "CB-00070-00")
    with pytest.raises(OfficerError, match="is not an active officer of CA-00070"):
        await supervisor.reassign(code, "CB-00072-01", "sai đơn vị")
    status = await supervisor.reassign(code, target, "cân bằng công việc")
    assert status.assigned_officer == target

    async def read_model_follows() -> bool:
        return bool(await pool.fetchval("SELECT assigned_officer FROM dossiers WHERE dossier_code = $1", code)
                    == target)

    await wait_for(read_model_follows)
    assert [e.action for e in (await dossiers.status(code)).trail][-1] == "reassigned"
    await dossiers.handle(code).terminate("test over")


def test_cli_refuses_unknown_officer_with_a_clear_message(settings: Settings, tmp_path: Path):
    done = run_cutru(cutru_env(settings, tmp_path), "officer", "--officer", "CB-99999-09", "queue")
    assert done.returncode == 3
    assert "unknown officer CB-99999-09" in done.stderr
