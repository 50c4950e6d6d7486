"""The officer a complete dossier is assigned to (``ASSIGN_OFFICER``, run by ``accept_dossier``): the least-loaded
active officer of its unit. What the statement reads at national scale: ``test_queries_at_scale``.

Each test works in a transaction it rolls back, on a unit of its own, so the session's database is left as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from activities.dossier import ASSIGN_OFFICER
from tests.factories import TEST_UNIT, add_dossiers, add_unit_with_officers

DEADLINE = datetime(2027, 1, 15, 10, tzinfo=UTC)


async def assign(conn: asyncpg.Connection, code: str) -> str:
    await add_dossiers(conn, code, 1, status="received")
    officer: str = await conn.fetchval(ASSIGN_OFFICER, f"{code}1", TEST_UNIT, DEADLINE)
    return officer


async def test_the_officer_with_fewest_waiting_dossiers_is_assigned(rolled_back: asyncpg.Connection) -> None:
    conn = rolled_back
    await add_unit_with_officers(conn)  # CB-T-3 is on leave and CB-T-0 supervises: neither is ever assigned
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
    assert await conn.fetchval(ASSIGN_OFFICER, "HS-T-NEW-3-1", TEST_UNIT, DEADLINE) == "CB-T-2"
