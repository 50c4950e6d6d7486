"""The synthetic population: deterministic, consistent, and loadable into a freshly migrated database.

Needs the PostgreSQL server at 127.0.0.1:5432 (or the server of ``DATABASE_URL``); every database made here is
dropped at the end.
"""

from __future__ import annotations

import os
import unicodedata
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from cutru_local.samples import sample_applicants
from cutru_local.seed import (
    DEMO_COMMUNE_CODE,
    DEMO_OFFICER_ID,
    DEMO_SUPERVISOR_ID,
    DEMO_UNIT_CODE,
    FEE_EXEMPTION_REASONS,
    REFERENCE_DATE,
    SEEDED_TABLES,
    SeedRefused,
    SeedReport,
    seed,
)

from domain.admin_units import commune, police_unit_name
from domain.identity import personal_id_problems

PEOPLE = 5_000
MIGRATIONS = Path(__file__).resolve().parents[2] / "cutru" / "platform" / "db" / "migrations"
REF = REFERENCE_DATE


def _server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
    return "postgresql://postgres@127.0.0.1:5432/postgres"


class _Databases:
    """Creates uniquely named, migrated databases and drops them all at the end."""

    def __init__(self, admin: asyncpg.Connection) -> None:
        self.admin = admin
        self.names: list[str] = []

    async def new(self, *, migrated: bool = True) -> str:
        name = f"cutru_seedtest_{uuid.uuid4().hex[:10]}"
        await self.admin.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        url = urlunsplit(urlsplit(_server_url())._replace(path=f"/{name}"))
        if not migrated:
            return url
        conn = await asyncpg.connect(url)
        try:
            for path in sorted(MIGRATIONS.glob("*.sql")):
                await conn.execute(path.read_text(encoding="utf-8"))
        finally:
            await conn.close()
        return url


@pytest.fixture(scope="module")
async def databases() -> AsyncIterator[_Databases]:
    admin = await asyncpg.connect(_server_url())
    dbs = _Databases(admin)
    try:
        yield dbs
    finally:
        for name in dbs.names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
async def seeded(databases: _Databases) -> tuple[str, SeedReport]:
    url = await databases.new()
    report = await seed(url, people=PEOPLE, seed=11, progress=False)
    return url, report


@pytest.fixture
async def conn(seeded: tuple[str, SeedReport]) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(seeded[0])
    yield c
    await c.close()


async def _checksums(url: str) -> dict[str, str]:
    c = await asyncpg.connect(url)
    try:
        return {
            t: await c.fetchval(f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x")
            for t in SEEDED_TABLES
        }
    finally:
        await c.close()


async def test_same_seed_gives_identical_rows_and_reset_reloads(
    databases: _Databases, seeded: tuple[str, SeedReport]
) -> None:
    url, report = seeded
    other = await databases.new()
    again = await seed(other, people=PEOPLE, seed=11, progress=False)
    first = await _checksums(url)
    assert await _checksums(other) == first
    assert again.model_dump(exclude={"generate_seconds", "load_seconds", "total_seconds"}) == report.model_dump(
        exclude={"generate_seconds", "load_seconds", "total_seconds"}
    )

    # A populated database is refused unless a reset is asked for.
    with pytest.raises(SeedRefused, match="--reset"):
        await seed(other, people=PEOPLE, seed=11, progress=False)
    await seed(other, people=PEOPLE, seed=12, progress=False, reset_first=True)
    assert (await _checksums(other))["people"] != first["people"]
    await seed(other, people=PEOPLE, seed=11, progress=False, reset_first=True)
    assert await _checksums(other) == first


async def test_refuses_a_database_without_the_schema(databases: _Databases) -> None:
    with pytest.raises(SeedRefused, match="cutru.platform.db.migrate"):
        await seed(await databases.new(migrated=False), people=10, progress=False)


async def test_report_matches_the_database(conn: asyncpg.Connection, seeded: tuple[str, SeedReport]) -> None:
    report = seeded[1]
    counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in SEEDED_TABLES}
    assert counts["people"] == report.people == PEOPLE
    assert counts["police_units"] == report.police_units == report.communes == 34 * 3 + 1
    assert counts["officers"] == report.officers == report.police_units * 4
    assert counts["households"] == report.households
    assert counts["household_members"] == report.household_members
    assert counts["residences"] == report.residences
    assert counts["permanent_residences"] == report.permanent_residences
    assert counts["temporary_residences"] == report.temporary_residences
    assert await conn.fetchval("SELECT count(*) FROM people WHERE status = 'dead'") == report.dead
    assert await conn.fetchval("SELECT count(*) FROM residences WHERE barred_reason IS NOT NULL") == (
        report.barred_residences
    )
    assert report.total_seconds < 30


async def test_every_personal_id_agrees_with_birth_date_and_sex(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch("SELECT personal_id, birth_date, sex, full_name FROM people")
    bad = {r["personal_id"]: personal_id_problems(r["personal_id"], r["birth_date"], r["sex"]) for r in rows}
    assert {pid: p for pid, p in bad.items() if p} == {}
    for r in rows:
        assert unicodedata.is_normalized("NFC", r["full_name"])
        assert len(r["full_name"].split()) >= 3


async def test_population_is_realistic(conn: asyncpg.Connection) -> None:
    ages = await conn.fetchrow(
        "SELECT min(age($1::date, birth_date)) AS youngest, max(age($1::date, birth_date)) AS oldest,"
        " avg(extract(year FROM age($1::date, birth_date))) AS mean FROM people",
        REF,
    )
    assert ages["youngest"] < timedelta(days=365) and ages["oldest"] <= timedelta(days=96 * 366)
    assert 25 <= ages["mean"] <= 40
    shares = await conn.fetchrow(
        "SELECT avg((status = 'dead')::int) AS dead, avg((NOT full_civil_capacity)::int) AS incapable,"
        " avg((fee_exemption IS NOT NULL)::int) AS exempt, avg((full_name LIKE 'Nguyễn %')::int) AS nguyen"
        " FROM people"
    )
    assert 0.001 < shares["dead"] < 0.02
    assert 0.0005 < shares["incapable"] < 0.02
    assert 0.005 < shares["exempt"] < 0.05
    assert 0.30 < shares["nguyen"] < 0.46
    codes = {
        r[0] for r in await conn.fetch("SELECT DISTINCT fee_exemption FROM people WHERE fee_exemption IS NOT NULL")
    }
    assert codes <= set(FEE_EXEMPTION_REASONS)
    barred = await conn.fetchval("SELECT avg((barred_reason IS NOT NULL)::int) FROM residences")
    assert 0.002 < barred < 0.03


async def test_each_household_has_exactly_one_head(conn: asyncpg.Connection) -> None:
    wrong = await conn.fetchval(
        "SELECT count(*) FROM households h WHERE (SELECT count(*) FROM household_members m"
        " WHERE m.household_id = h.household_id AND m.relation_to_head = 'head') <> 1"
        " OR NOT EXISTS (SELECT 1 FROM household_members m WHERE m.household_id = h.household_id"
        " AND m.personal_id = h.head_id AND m.relation_to_head = 'head')"
    )
    assert wrong == 0
    dead_heads = await conn.fetchval(
        "SELECT count(*) FROM households h JOIN people p ON p.personal_id = h.head_id WHERE p.status <> 'alive'"
    )
    assert dead_heads == 0


async def test_every_member_has_an_active_permanent_residence_at_home(conn: asyncpg.Connection) -> None:
    missing = await conn.fetchval(
        "SELECT count(*) FROM household_members m JOIN households h USING (household_id)"
        " WHERE NOT EXISTS (SELECT 1 FROM permanent_residences pr WHERE pr.personal_id = m.personal_id"
        " AND pr.status = 'active' AND pr.residence_id = h.residence_id)"
    )
    assert missing == 0
    # Conversely, an active permanent residence means membership of the household living there.
    stray = await conn.fetchval(
        "SELECT count(*) FROM permanent_residences pr WHERE pr.status = 'active' AND NOT EXISTS"
        " (SELECT 1 FROM household_members m WHERE m.personal_id = pr.personal_id)"
    )
    assert stray == 0
    bad_dates = await conn.fetchval(
        "SELECT count(*) FROM permanent_residences pr JOIN people p USING (personal_id)"
        " WHERE pr.valid_from < p.birth_date OR pr.valid_from > $1 OR pr.valid_to < pr.valid_from"
        " OR (pr.status = 'active') <> (pr.valid_to IS NULL)",
        REF,
    )
    assert bad_dates == 0


async def test_minors_live_with_a_parent(conn: asyncpg.Connection) -> None:
    minors = await conn.fetch(
        "SELECT m.personal_id, m.household_id, m.relation_to_head, p.birth_date FROM household_members m"
        " JOIN people p USING (personal_id) WHERE p.birth_date > ($1::date - interval '18 years')::date",
        REF,
    )
    assert minors
    assert {m["relation_to_head"] for m in minors} <= {"child", "grandchild"}
    orphaned = await conn.fetchval(
        "SELECT count(*) FROM household_members m JOIN people p USING (personal_id)"
        " WHERE p.birth_date > ($1::date - interval '18 years')::date AND NOT EXISTS ("
        "  SELECT 1 FROM household_members x JOIN people q ON q.personal_id = x.personal_id"
        "  WHERE x.household_id = m.household_id AND q.birth_date < p.birth_date - interval '15 years'"
        "  AND x.relation_to_head = ANY(CASE m.relation_to_head WHEN 'child' THEN ARRAY['head', 'spouse']"
        "                                ELSE ARRAY['child', 'child_in_law'] END))",
        REF,
    )
    assert orphaned == 0


async def test_temporary_residences(conn: asyncpg.Connection, seeded: tuple[str, SeedReport]) -> None:
    report = seeded[1]
    assert 0.01 * PEOPLE < report.temporary_active < 0.06 * PEOPLE
    assert report.temporary_expiring_soon > 0
    rows = await conn.fetch("SELECT * FROM temporary_residences")
    for r in rows:
        assert r["valid_from"] < r["valid_to"] <= r["valid_from"] + timedelta(days=730)
        if r["status"] == "active":
            assert r["valid_from"] <= REF < r["valid_to"]
        else:
            assert r["status"] == "ended" and r["valid_to"] < REF
    expiring = sum(r["status"] == "active" and r["valid_to"] <= REF + timedelta(days=15) for r in rows)
    assert expiring == report.temporary_expiring_soon
    # Temporary residence is registered outside the commune of permanent residence (Điều 27).
    same_commune = await conn.fetchval(
        "SELECT count(*) FROM temporary_residences t"
        " JOIN residences tr ON tr.residence_id = t.residence_id"
        " JOIN permanent_residences pr ON pr.personal_id = t.personal_id AND pr.status = 'active'"
        " JOIN residences prr ON prr.residence_id = pr.residence_id"
        " WHERE t.status = 'active' AND tr.commune_code = prr.commune_code"
    )
    assert same_commune == 0


async def test_units_officers_and_addresses_are_consistent(conn: asyncpg.Connection) -> None:
    units = await conn.fetch("SELECT * FROM police_units")
    for u in units:
        c = commune(u["commune_code"])
        assert c is not None and c.province_code == u["province_code"]
        assert u["unit_code"] == f"CA-{c.code}" and u["name"] == police_unit_name(c.code)
    roles = await conn.fetch(
        "SELECT unit_code, count(*) FILTER (WHERE role = 'supervisor') AS s,"
        " count(*) FILTER (WHERE role = 'officer') AS o FROM officers GROUP BY unit_code"
    )
    assert len(roles) == len(units)
    assert all(r["s"] == 1 and r["o"] == 3 for r in roles)
    demo = await conn.fetch("SELECT officer_id, role FROM officers WHERE unit_code = $1 ORDER BY 1", DEMO_UNIT_CODE)
    assert [(r["officer_id"], r["role"]) for r in demo][:2] == [
        (DEMO_SUPERVISOR_ID, "supervisor"),
        (DEMO_OFFICER_ID, "officer"),
    ]
    # Every residence lies in a seeded commune, with that commune's province.
    misplaced = await conn.fetchval(
        "SELECT count(*) FROM residences r LEFT JOIN police_units u ON u.commune_code = r.commune_code"
        " WHERE u.unit_code IS NULL OR u.province_code <> r.province_code"
    )
    assert misplaced == 0
    duplicates = await conn.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM residences GROUP BY commune_code, address_line HAVING count(*) > 1) d"
    )
    assert duplicates == 0
    demo_people = await conn.fetchval(
        "SELECT count(*) FROM household_members m JOIN households h USING (household_id)"
        " JOIN residences r USING (residence_id) WHERE r.commune_code = $1",
        DEMO_COMMUNE_CODE,
    )
    assert demo_people > PEOPLE / 103


async def test_referential_integrity(conn: asyncpg.Connection) -> None:
    # Foreign keys already hold; these are the references the schema cannot express.
    orphans = await conn.fetchval(
        "SELECT (SELECT count(*) FROM officers o LEFT JOIN police_units u USING (unit_code) WHERE u.unit_code IS NULL)"
        " + (SELECT count(*) FROM household_members m JOIN households h USING (household_id)"
        "    JOIN people p ON p.personal_id = m.personal_id WHERE p.status = 'dead' AND m.relation_to_head = 'head')"
        " + (SELECT count(*) FROM temporary_residences t JOIN people p USING (personal_id) WHERE p.status = 'dead'"
        "    AND t.status = 'active')"
    )
    assert orphans == 0


async def test_id_sequences_continue_after_the_seeded_ids(conn: asyncpg.Connection) -> None:
    # Rows inserted later without explicit ids (as the activities do) must not collide with the seeded ones.
    tx = conn.transaction()
    await tx.start()
    try:
        owner = await conn.fetchval("SELECT personal_id FROM people ORDER BY personal_id LIMIT 1")
        rid = await conn.fetchval(
            "INSERT INTO residences (province_code, commune_code, address_line, floor_area_m2, owner_id)"
            " VALUES ('01', '00070', 'Số 1, phố Tràng Tiền', 50, $1) RETURNING residence_id",
            owner,
        )
        assert rid == await conn.fetchval("SELECT max(residence_id) FROM residences")
        await conn.execute("INSERT INTO households (residence_id, head_id) VALUES ($1, $2)", rid, owner)
        for table in ("permanent_residences", "temporary_residences"):
            await conn.execute(
                f"INSERT INTO {table} (personal_id, residence_id, valid_from, valid_to, status)"
                " VALUES ($1, $2, $3, $4, 'ended')",
                owner,
                rid,
                date(2020, 1, 1),
                date(2021, 1, 1),
            )
    finally:
        await tx.rollback()


async def test_sample_applicants(conn: asyncpg.Connection) -> None:
    samples = await sample_applicants(conn, 12, commune_code=DEMO_COMMUNE_CODE, as_of=REF)
    assert len(samples) == 12
    assert len({s.personal_id for s in samples}) == len({s.target_residence_id for s in samples}) == 12
    assert samples == await sample_applicants(conn, 12, commune_code=DEMO_COMMUNE_CODE, as_of=REF)
    for s in samples:
        assert s.commune_code == DEMO_COMMUNE_CODE and s.unit_code == DEMO_UNIT_CODE
        assert s.supervisor_id == DEMO_SUPERVISOR_ID and s.officer_id.startswith("CB-00070-0")
        assert s.officer_id != DEMO_SUPERVISOR_ID
        assert s.target_residence_id != s.current_residence_id
        facts = await conn.fetchrow(
            "SELECT p.status, p.full_civil_capacity, p.birth_date, r.barred_reason, r.commune_code, r.owner_id,"
            "  o.status AS owner_status, o.full_civil_capacity AS owner_capable,"
            "  (SELECT count(*) FROM households h WHERE h.residence_id = r.residence_id) AS households"
            " FROM people p, residences r JOIN people o ON o.personal_id = r.owner_id"
            " WHERE p.personal_id = $1 AND r.residence_id = $2",
            s.personal_id,
            s.target_residence_id,
        )
        assert facts["status"] == "alive" and facts["full_civil_capacity"]
        assert facts["birth_date"] <= date(REF.year - 18, REF.month, REF.day)
        assert facts["barred_reason"] is None and facts["commune_code"] == DEMO_COMMUNE_CODE
        assert facts["households"] == 0
        assert facts["owner_status"] == "alive" and facts["owner_capable"]
        assert (s.basis == "own_residence") == (facts["owner_id"] == s.personal_id)

    own = await sample_applicants(conn, 3, basis="own_residence", as_of=REF)
    assert own and all(s.basis == "own_residence" and s.target_owner_id == s.personal_id for s in own)
