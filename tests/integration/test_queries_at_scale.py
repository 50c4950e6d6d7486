"""The hot reads touch their own rows only, however many the country holds: each statement runs beside tens of
thousands of rows that are not its own (other units, other addresses, finished dossiers) and must read no more
pages than a few index lookups need. A scan of those rows, which grows with the country's data (about 10^8 read-model
rows a year with the stay notifications), takes hundreds of pages here and fails the test.

Each test works in a transaction it rolls back, so the session's database is left as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from activities.dossier import ASSIGN_OFFICER
from activities.facts import APPLICANT_SQL, RESIDENCE_SQL
from cutru.platform.metrics import OPEN_STATES, OVERDUE_BY_UNIT
from tests.factories import (
    DEMO_COMMUNE,
    DEMO_PROVINCE,
    DEMO_UNIT,
    TEST_UNIT,
    add_dossiers,
    add_unit_with_officers,
    buffers_touched,
    new_person,
    new_place,
)

OTHERS = 20_000  # rows that are not the statement's own, per kind
FEW_PAGES = 60  # what a handful of index lookups and their rows read


async def test_assigning_an_officer_reads_only_the_units_open_dossiers(rolled_back: asyncpg.Connection) -> None:
    conn = rolled_back
    await add_unit_with_officers(conn)
    await add_dossiers(conn, "HS-T-ELSEWHERE-", OTHERS, unit=DEMO_UNIT)  # waiting in another unit
    await add_dossiers(conn, "HS-T-CLOSED-", OTHERS, status="completed", officer="CB-T-2")
    await add_dossiers(conn, "HS-T-OPEN-", 3, officer="CB-T-2")
    await add_dossiers(conn, "HS-T-NEW-", 1, status="received")
    await conn.execute("ANALYZE dossiers")
    deadline = datetime(2027, 1, 15, 10, tzinfo=UTC)
    assert await buffers_touched(conn, ASSIGN_OFFICER, "HS-T-NEW-1", TEST_UNIT, deadline) < FEW_PAGES
    assert await conn.fetchval("SELECT assigned_officer FROM dossiers WHERE dossier_code = 'HS-T-NEW-1'") == "CB-T-1"


async def test_the_residence_at_an_address_is_found_without_reading_the_commune(
        rolled_back: asyncpg.Connection) -> None:
    conn = rolled_back
    head = await new_person(conn)
    place = await new_place(conn, owner_id=head.personal_id, head_id=head.personal_id)
    # Other residences of the same commune, each with a household: a ward's worth and more.
    await conn.execute(
        "WITH r AS (INSERT INTO residences (province_code, commune_code, address_line, floor_area_m2, owner_id)"
        "  SELECT $1, $2, 'Số ' || g || ' phố Thử', 40, $3 FROM generate_series(1, $4) g RETURNING residence_id)"
        " INSERT INTO households (residence_id, head_id) SELECT residence_id, $3 FROM r",
        DEMO_PROVINCE, DEMO_COMMUNE, head.personal_id, OTHERS)
    await conn.execute("ANALYZE residences")
    await conn.execute("ANALYZE households")
    assert await buffers_touched(conn, RESIDENCE_SQL, DEMO_COMMUNE, place.address_line.upper()) < FEW_PAGES
    row = await conn.fetchrow(RESIDENCE_SQL, DEMO_COMMUNE, place.address_line.upper())
    assert (row["residence_id"], row["household_id"]) == (place.residence_id, place.household_id)
    # The same lookup as the eligibility check and the commit run it, beside the applicant.
    applicant = (head.personal_id, True, DEMO_COMMUNE, place.address_line.upper(), None)
    assert await buffers_touched(conn, APPLICANT_SQL, *applicant) < FEW_PAGES
    row = await conn.fetchrow(APPLICANT_SQL, *applicant)
    assert (row["full_name"], row["residence_id"], row["household_id"]) == (
        head.full_name, place.residence_id, place.household_id)


async def test_the_overdue_gauge_reads_only_open_overdue_dossiers(rolled_back: asyncpg.Connection) -> None:
    conn = rolled_back
    await add_dossiers(conn, "HS-T-LATE-DONE-", OTHERS, status="completed", overdue=True)  # finished late
    await add_dossiers(conn, "HS-T-ON-TIME-", OTHERS)
    await add_dossiers(conn, "HS-T-LATE-", 4, overdue=True)
    await conn.execute("ANALYZE dossiers")
    assert await buffers_touched(conn, OVERDUE_BY_UNIT, list(OPEN_STATES)) < FEW_PAGES
    counts = {row["unit_code"]: row["overdue"] for row in await conn.fetch(OVERDUE_BY_UNIT, list(OPEN_STATES))}
    assert counts.get(TEST_UNIT) == 4
