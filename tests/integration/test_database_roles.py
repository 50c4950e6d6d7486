"""The database roles of migration 0007: the workers, the API and reporting each hold only what they use, and the
audit trail is append-only by permission for both roles that write dossiers — and a dossier still goes from the
API's submission to its delivered result with the API acting as cutru_api and the worker as cutru_worker."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.worker import Worker

from cutru.api.settings import ApiSettings
from cutru.clients.client import DossierClient
from cutru.platform.config import DatabaseOptions, Settings
from cutru.platform.db.migrate import MIGRATIONS_DIR, migration_files
from domain.models import DecisionKind, DossierState, OfficerDecision
from domain.procedures.catalogue import PROCEDURES
from tests.api_fixtures import bearer
from tests.factories import FAST, Desk, head_signs, pay, time_skipping_env
from tests.integration.test_permanent_registration import own_residence_dossier, wait_state
from tests.integration.test_procedures_examples import run_all_examples
from tests.oidc import OidcProvider
from worker import build_worker, database_pool

ROLES = ("cutru_worker", "cutru_api", "cutru_reporting")
WRITERS = ("cutru_worker", "cutru_api")
# Tables only the API uses: the workers hold no privilege on them.
API_ONLY = {"api_idempotency", "payment_transactions", "personal_data_reads", "desk_sign_ins", "desk_sessions",
            "attachments", "dossier_attachments", "attachment_findings", "dossier_intake"}
# Tables of the migration machinery, read by no process but reporting.
OWNER_ONLY = {"schema_migrations"}
AUDIT_ROW = ("INSERT INTO audit_events (dossier_code, event_key, actor, action) VALUES ($1, $2, 'test', 'probe')"
             " RETURNING event_id")


@pytest.fixture
async def as_owner(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the owner inside a transaction that is rolled back: each probe below takes a role with SET
    LOCAL ROLE inside a savepoint of its own, so one refusal does not end the rest."""
    async with pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            yield connection
        finally:
            await transaction.rollback()


async def attempt(conn: asyncpg.Connection, role: str, statement: str, *args: Any) -> Any:
    async with conn.transaction():
        await conn.execute(f"SET LOCAL ROLE {role}")
        return await conn.fetchval(statement, *args)


async def an_audit_row(conn: asyncpg.Connection) -> int:
    event_id: int = await conn.fetchval(AUDIT_ROW, f"HS-ROLES-{uuid.uuid4().hex[:8]}", "probe")
    return event_id


async def test_the_group_roles_exist_and_cannot_log_in(pool: asyncpg.Pool):
    rows = await pool.fetch("SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1)", list(ROLES))
    assert {r["rolname"]: r["rolcanlogin"] for r in rows} == dict.fromkeys(ROLES, False)


@pytest.mark.parametrize("role", WRITERS)
async def test_the_roles_that_write_dossiers_append_to_the_audit_trail_and_change_nothing(
        as_owner: asyncpg.Connection, role: str):
    code = f"HS-ROLES-{uuid.uuid4().hex[:8]}"
    event_id = await attempt(as_owner, role, AUDIT_ROW, code, "appended")
    assert await attempt(as_owner, role, "SELECT action FROM audit_events WHERE event_id = $1", event_id) == "probe"
    # Refused by permission, before the append-only trigger would be reached.
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await attempt(as_owner, role, "UPDATE audit_events SET action = 'rewritten' WHERE event_id = $1", event_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await attempt(as_owner, role, "DELETE FROM audit_events WHERE event_id = $1", event_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await attempt(as_owner, role, "TRUNCATE audit_events")
    assert await as_owner.fetchval("SELECT action FROM audit_events WHERE event_id = $1", event_id) == "probe"


async def test_reporting_reads_everything_and_writes_nothing(as_owner: asyncpg.Connection):
    event_id = await an_audit_row(as_owner)
    assert await attempt(as_owner, "cutru_reporting", "SELECT count(*) FROM audit_events WHERE event_id = $1",
                         event_id) == 1
    assert await attempt(as_owner, "cutru_reporting", "SELECT count(*) FROM people") > 0
    for statement in ("INSERT INTO audit_events (dossier_code, event_key, actor, action) VALUES ('x', 'y', 'z', 'w')",
                      "UPDATE dossiers SET status = status", "DELETE FROM people WHERE false",
                      "INSERT INTO api_idempotency (subject, idempotency_key, request_sha256) VALUES ('s', 'k', 'h')"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await attempt(as_owner, "cutru_reporting", statement)
    # Every table, not only those tried: no write privilege of any kind, SELECT on each.
    writable = await as_owner.fetch(
        "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
        " WHERE grantee = 'cutru_reporting' AND table_schema = 'public' AND privilege_type <> 'SELECT'")
    assert [tuple(r) for r in writable] == []
    assert await _unreadable(as_owner, "cutru_reporting") == set()


@pytest.mark.parametrize("role", ["cutru_api", "cutru_codec"])
async def test_the_reads_of_personal_data_are_appended_and_never_changed(as_owner: asyncpg.Connection, role: str):
    subject = f"probe-{uuid.uuid4().hex[:8]}"
    # Without RETURNING: the codec server may not read the table back.
    await attempt(as_owner, role, "INSERT INTO personal_data_reads (dossier_code, subject, roles, channel, operation)"
                  " VALUES ('HS-ROLES', $1, '{auditor}', 'api', 'probe')", subject)
    await as_owner.execute("RESET ROLE")  # the successful insert's SET LOCAL ROLE outlives its savepoint
    read_id = await as_owner.fetchval("SELECT read_id FROM personal_data_reads WHERE subject = $1", subject)
    for statement in ("UPDATE personal_data_reads SET subject = 'someone else' WHERE read_id = $1",
                      "DELETE FROM personal_data_reads WHERE read_id = $1"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await attempt(as_owner, role, statement, read_id)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        async with as_owner.transaction():  # the owner, whom the trigger refuses
            await as_owner.execute("DELETE FROM personal_data_reads WHERE read_id = $1", read_id)
    # The codec server records and reads nothing back, not even a dossier.
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await attempt(as_owner, "cutru_codec", "SELECT count(*) FROM dossiers")


async def test_the_desk_marks_notices_read_and_changes_nothing_else(as_owner: asyncpg.Connection):
    officer = await as_owner.fetchval("SELECT officer_id FROM officers LIMIT 1")
    notice_id = await as_owner.fetchval("INSERT INTO desk_notices (officer_id, dossier_code, kind, due)"
                                        " VALUES ($1, 'HS-ROLES', 'reminder', now()) RETURNING notice_id", officer)
    await attempt(as_owner, "cutru_api", "UPDATE desk_notices SET read_at = now() WHERE notice_id = $1", notice_id)
    await as_owner.execute("RESET ROLE")
    for statement in ("UPDATE desk_notices SET officer_id = officer_id WHERE notice_id = $1",
                      "DELETE FROM desk_notices WHERE notice_id = $1"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await attempt(as_owner, "cutru_api", statement, notice_id)


async def test_the_worker_has_no_business_with_the_apis_tables(as_owner: asyncpg.Connection):
    for statement in ("SELECT count(*) FROM api_idempotency", "DELETE FROM api_idempotency WHERE false",
                      "SELECT count(*) FROM payment_transactions"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await attempt(as_owner, "cutru_worker", statement)


async def test_the_api_reads_no_personal_register_and_writes_no_record(as_owner: asyncpg.Connection):
    for statement in ("SELECT count(*) FROM people", "SELECT count(*) FROM permanent_residences",
                      "UPDATE dossiers SET status = status WHERE false", "UPDATE payments SET status = 'paid'"
                      " WHERE false", "INSERT INTO deliveries (dossier_code, method, destination, documents)"
                      " VALUES ('x', 'electronic', 'y', '{}')"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await attempt(as_owner, "cutru_api", statement)
    # What it does write: its idempotency keys (claim, answer, release).
    subject, key = f"roles-{uuid.uuid4().hex[:8]}", "key"
    await attempt(as_owner, "cutru_api", "INSERT INTO api_idempotency (subject, idempotency_key, request_sha256)"
                  " VALUES ($1, $2, repeat('0', 64))", subject, key)
    await attempt(as_owner, "cutru_api", "UPDATE api_idempotency SET status_code = 201 WHERE subject = $1", subject)
    await attempt(as_owner, "cutru_api", "DELETE FROM api_idempotency WHERE subject = $1", subject)
    # The intake outbox: a submission recorded, claimed, started (its payload dropped), removed.
    code = f"HS-ROLES-{uuid.uuid4().hex[:8]}"
    await attempt(as_owner, "cutru_api", "INSERT INTO dossier_intake (dossier_code, procedure, unit_code, task_queue,"
                  " key_id, payload, next_attempt_at) VALUES ($1, 'ResidenceConfirmation', 'CA-00070', 'q', 'k',"
                  " '\\x00', now())", code)
    await attempt(as_owner, "cutru_api", "SELECT dossier_code FROM dossier_intake WHERE dossier_code = $1"
                  " FOR UPDATE SKIP LOCKED", code)
    await attempt(as_owner, "cutru_api", "UPDATE dossier_intake SET started_at = now(), payload = NULL, key_id = NULL"
                  " WHERE dossier_code = $1", code)
    await attempt(as_owner, "cutru_api", "DELETE FROM dossier_intake WHERE dossier_code = $1", code)
    # The IPN's lock on the payment order, and its record of the gateway's transaction.
    await attempt(as_owner, "cutru_api", "SELECT dossier_code FROM payments WHERE false FOR UPDATE")
    assert await attempt(as_owner, "cutru_api", "INSERT INTO payment_transactions (transaction_no, order_id,"
                         " dossier_code, amount_vnd, response_code, transaction_status, paid_at, order_status)"
                         " SELECT 'T-roles', order_id, dossier_code, 0, '00', '00', now(), status FROM payments"
                         " WHERE false RETURNING transaction_no") is None


async def test_every_table_is_granted_to_the_worker_or_said_to_be_the_apis(as_owner: asyncpg.Connection):
    """A table a later migration adds must be granted to the roles that use it (the tests run as the owner, so a
    missing grant would only show in production): this names the ones the worker cannot read."""
    assert await _unreadable(as_owner, "cutru_worker") == API_ONLY | OWNER_ONLY


async def _unreadable(conn: asyncpg.Connection, role: str) -> set[str]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT has_table_privilege($1, c.oid, 'SELECT')",
        role)
    return {r["relname"] for r in rows}


async def test_the_roles_migration_runs_again_over_existing_roles(as_owner: asyncpg.Connection):
    """The roles are the server's, shared by every database on it: a second database's migration (here the same
    file again, in the rolled-back transaction) finds them and grants the same."""
    sql = (MIGRATIONS_DIR / "0007_roles.sql").read_text(encoding="utf-8")
    # What later migrations create, they grant themselves: a second 0007 alone leaves their tables to them.
    later = {table for path in migration_files() if path.name > "0007"
             for table in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", path.read_text(encoding="utf-8"))}
    before = await _grants(as_owner, later)
    await as_owner.execute(sql)
    assert await _grants(as_owner, later) == before


async def _grants(conn: asyncpg.Connection, leaving: set[str]) -> list[tuple[str, str, str]]:
    rows = await conn.fetch(
        "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants"
        " WHERE grantee = ANY($1) AND NOT table_name = ANY($2) ORDER BY 1, 2, 3", list(ROLES), list(leaving))
    return [(r["grantee"], r["table_name"], r["privilege_type"]) for r in rows]


# ------------------------------------------------------------------------ a dossier end to end under the roles


@pytest.fixture
async def worker(client: Client, settings: Settings, database_url: str) -> AsyncIterator[Worker]:
    """The test's worker acting as cutru_worker (the session's pool acts as the owner)."""
    pool = await database_pool(database_url, 4, DatabaseOptions(role="cutru_worker"))
    try:
        assert await pool.fetchval("SELECT current_user") == "cutru_worker"
        async with build_worker(client, settings, pool) as running:
            yield running
    finally:
        await pool.close()


@pytest.fixture
def api_settings(settings: Settings, oidc_provider: OidcProvider) -> ApiSettings:
    core = settings.model_copy(update={"database": DatabaseOptions(role="cutru_api")})
    return ApiSettings(core=core, oidc=oidc_provider.settings)


async def test_a_dossier_goes_through_with_the_api_and_the_worker_in_their_roles(
        api_app: FastAPI, api_client: httpx.AsyncClient, portal_token: str, client: Client, settings: Settings,
        pool: asyncpg.Pool):
    assert await api_app.state.api.pool.fetchval("SELECT current_user") == "cutru_api"
    submission = json.loads(json.dumps(await own_residence_dossier(pool), default=str))
    code = submission["dossier_code"]
    headers = bearer(portal_token) | {"Idempotency-Key": str(uuid.uuid4())}
    submitted = await api_client.post("/v1/dossiers", json=submission, headers=headers)
    assert submitted.status_code == 201, submitted.text

    dossiers = DossierClient(client, settings.task_queue)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    officer = (await dossiers.status(code)).assigned_officer
    assert officer is not None
    await dossiers.decide(code, OfficerDecision(officer_id=officer, decision=DecisionKind.APPROVE))
    await head_signs(dossiers, pool, code)
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, code)
    assert (await dossiers.result(code)).state == DossierState.COMPLETED

    status = await api_client.get(f"/v1/dossiers/{code}", headers=bearer(portal_token))
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "completed"
    actions = [r["action"] for r in await pool.fetch(
        "SELECT action FROM audit_events WHERE dossier_code = $1 ORDER BY event_id", code)]
    assert actions == ["received", "accepted", "proposed", "signed_off", "fee_paid", "completed"]


async def test_every_example_procedure_completes_with_the_worker_in_its_role(
        database_url: str, pool: asyncpg.Pool, tmp_root: Path):
    """All eleven procedures, each through its whole record plan, with the worker's pool acting as cutru_worker
    (the world the examples need is prepared by the owner)."""
    worker_pool = await database_pool(database_url, 4, DatabaseOptions(role="cutru_worker"))
    try:
        async with time_skipping_env() as env:
            settings = Settings(task_queue=f"tq-{uuid.uuid4().hex[:8]}", database_url=database_url,
                                document_dir=tmp_root / "documents", processing=FAST)
            with env.auto_time_skipping_disabled():
                async with build_worker(env.client, settings, worker_pool):
                    outcomes = await run_all_examples(Desk(env, settings, pool))
    finally:
        await worker_pool.close()
    assert len(outcomes) == len(PROCEDURES)
