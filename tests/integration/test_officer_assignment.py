"""The officer a complete dossier is assigned to (``ASSIGN_OFFICER``, run by ``accept_dossier``): the least-loaded
active officer of its unit, and found by reading that unit's open dossiers only, however many the country holds.

Each test works in a transaction it rolls back, on a unit of its own, so the session's database is left as it was.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from activities.dossier import ASSIGN_OFFICER

UNIT = "CA-TEST-ASSIGN"
DEADLINE = datetime(2027, 1, 15, 10, tzinfo=UTC)


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            await connection.execute(
                "INSERT INTO police_units (unit_code, name, province_code, commune_code)"
                " VALUES ($1, 'Công an Phường Thử', '01', 'TEST-ASSIGN')", UNIT)
            await connection.executemany(
                "INSERT INTO officers (officer_id, full_name, unit_code, role, active) VALUES ($1, $2, $3, $4, $5)",
                [("CB-T-1", "Nguyễn Văn Một", UNIT, "officer", True),
                 ("CB-T-2", "Trần Thị Hai", UNIT, "officer", True),
                 ("CB-T-3", "Lê Văn Ba", UNIT, "officer", False),  # on leave: never assigned
                 ("CB-T-0", "Phạm Văn Trưởng", UNIT, "supervisor", True)])  # supervises: never assigned
            yield connection
        finally:
            await transaction.rollback()


async def add_dossiers(conn: asyncpg.Connection, prefix: str, count: int, *, unit: str = UNIT,
                       status: str = "awaiting_decision", officer: str | None = None) -> None:
    await conn.execute(
        "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
        " received_at, assigned_officer)"
        " SELECT $1 || g, 'PermanentResidenceRegistration', $2, $3, '001190000001', 'Người Thử', now(), $4"
        " FROM generate_series(1, $5) g", prefix, status, unit, officer, count)


async def assign(conn: asyncpg.Connection, code: str) -> str:
    await add_dossiers(conn, code, 1, status="received")
    officer: str = await conn.fetchval(ASSIGN_OFFICER, f"{code}1", UNIT, DEADLINE)
    return officer


async def test_the_officer_with_fewest_waiting_dossiers_is_assigned(conn: asyncpg.Connection) -> None:
    await add_dossiers(conn, "HS-T-A", 1, officer="CB-T-1")
    await add_dossiers(conn, "HS-T-B", 2, officer="CB-T-2")
    await add_dossiers(conn, "HS-T-C", 5, status="completed", officer="CB-T-1")  # closed ones weigh nothing
    assert await assign(conn, "HS-T-NEW-1-") == "CB-T-1"
    assert await assign(conn, "HS-T-NEW-2-") == "CB-T-1"  # 2 each now: the tie goes to the first officer
    assert await assign(conn, "HS-T-NEW-3-") == "CB-T-2"
    row = await conn.fetchrow("SELECT status, deadline FROM dossiers WHERE dossier_code = 'HS-T-NEW-3-1'")
    assert (row["status"], row["deadline"]) == ("awaiting_decision", DEADLINE)
    # A retried activity keeps its first choice, even when another officer has become less loaded since.
    await conn.execute("UPDATE dossiers SET status = 'completed' WHERE assigned_officer = 'CB-T-1'")
    assert await conn.fetchval(ASSIGN_OFFICER, "HS-T-NEW-3-1", UNIT, DEADLINE) == "CB-T-2"


async def test_assigning_reads_only_the_units_open_dossiers(conn: asyncpg.Connection) -> None:
    # Open dossiers of other units and closed ones of this unit: what the country holds beside this unit's queue.
    await add_dossiers(conn, "HS-T-ELSEWHERE-", 20_000, unit="CA-00070")
    await add_dossiers(conn, "HS-T-CLOSED-", 20_000, status="completed", officer="CB-T-2")
    await add_dossiers(conn, "HS-T-OPEN-", 3, officer="CB-T-2")
    await add_dossiers(conn, "HS-T-NEW-", 1, status="received")
    await conn.execute("ANALYZE dossiers")
    plan = json.loads(await conn.fetchval(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + ASSIGN_OFFICER, "HS-T-NEW-1", UNIT, DEADLINE))[0]["Plan"]
    blocks = plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]
    # A few index pages and the rows themselves; a scan of the other 40,000 rows would take hundreds of pages.
    assert blocks < 60, json.dumps(plan, indent=1)
    assert await conn.fetchval("SELECT assigned_officer FROM dossiers WHERE dossier_code = 'HS-T-NEW-1'") == "CB-T-1"
    assert DEADLINE - timedelta(days=1) < await conn.fetchval(
        "SELECT deadline FROM dossiers WHERE dossier_code = 'HS-T-NEW-1'")
