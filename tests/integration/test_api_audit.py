"""The auditors' endpoints: the audit table's trail, the replay verdict, and the streamed history export, within
the units the auditor's token covers."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import asyncpg
import httpx
from cutru_local.postgres import with_database
from fastapi import FastAPI
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import CLOSING_KEY
from cutru.clients.audit import replay
from cutru.platform.codec import ENCODING, replay_converter
from cutru.platform.db.migrate import migrate
from cutru.platform.storage import FileStore
from cutru.service.archive import archive_closed, archive_history
from domain.models import DossierStatus, TrailAction
from tests.api_fixtures import bearer
from tests.factories import PAYLOAD_KEYS, add_dossiers
from tests.integration.test_api import assert_problem
from tests.integration.test_audit import HEAD, OFFICER, completed  # noqa: F401  (the fixture)
from tests.integration.test_permanent_registration import wait_for
from tests.oidc import OidcProvider, login_token, signed_token

AUDITOR = "KT-AUDITOR-01"
AUDIT_PATHS = ("trail", "replay", "history")


def auditor(provider: OidcProvider) -> dict[str, str]:
    return bearer(login_token(provider, AUDITOR))


async def test_the_trail_is_the_audit_tables_in_order(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
        completed: tuple[WorkflowHistory, DossierStatus]):  # noqa: F811
    history, status = completed
    answer = await api_client.get(f"/v1/audit/dossiers/{history.workflow_id}/trail", headers=auditor(oidc_provider))
    assert answer.status_code == 200, answer.text
    trail = answer.json()
    assert trail["dossier_code"] == history.workflow_id and trail["police_unit"] == status.police_unit
    assert [(e["actor"], e["action"]) for e in trail["entries"]] == [
        ("citizen", TrailAction.RECEIVED), ("system", TrailAction.ACCEPTED), (OFFICER, TrailAction.PROPOSED),
        (HEAD, TrailAction.SIGNED_OFF), ("payment-gateway", TrailAction.FEE_PAID), ("system", TrailAction.COMPLETED)]


async def test_the_replay_verdict_and_the_workflows_own_trail(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
        completed: tuple[WorkflowHistory, DossierStatus]):  # noqa: F811
    history, status = completed
    answer = await api_client.get(f"/v1/audit/dossiers/{history.workflow_id}/replay", headers=auditor(oidc_provider))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["deterministic"] is True and report["failure"] is None and report["source"] == "temporal"
    assert report["events"] == len(history.events)
    assert [(e["actor"], e["action"]) for e in report["trail"]] == [(e.actor, e.action) for e in status.trail]
    assert (OFFICER, "update_decide") in [(m["actor"], m["action"]) for m in report["messages"]]


async def test_the_history_export_streams_what_replays(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
        completed: tuple[WorkflowHistory, DossierStatus]):  # noqa: F811
    history, _ = completed
    chunks: list[bytes] = []
    async with api_client.stream("GET", f"/v1/audit/dossiers/{history.workflow_id}/history",
                                 headers=auditor(oidc_provider)) as answer:
        assert answer.status_code == 200 and answer.headers["cutru-history-source"] == "temporal"
        assert answer.headers["content-type"].startswith("application/json")
        assert "content-length" not in answer.headers  # streamed, not built whole
        chunks = [chunk async for chunk in answer.aiter_raw()]
    exported = WorkflowHistory.from_json(history.workflow_id, b"".join(chunks).decode())
    assert [e.event_id for e in exported.events] == [e.event_id for e in history.events]
    # Payloads as stored: encrypted, so the export is useless without the keys and replays with them.
    assert base64.b64encode(ENCODING) in b"".join(chunks)
    report = await replay(exported, replay_converter(PAYLOAD_KEYS))
    assert report.deterministic and [e.action for e in report.trail][-1] == TrailAction.COMPLETED


async def test_an_auditor_reaches_only_the_units_of_the_token(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
        completed: tuple[WorkflowHistory, DossierStatus]):  # noqa: F811
    code = completed[0].workflow_id
    elsewhere = bearer(signed_token(oidc_provider, sub=AUDITOR, client_id="cutru-desk", roles=["auditor"],
                                    police_units=["CA-99999"]))
    officer = bearer(login_token(oidc_provider, OFFICER))
    for path in AUDIT_PATHS:
        assert_problem(await api_client.get(f"/v1/audit/dossiers/{code}/{path}", headers=elsewhere),
                       404, "dossier_not_found")
        assert_problem(await api_client.get(f"/v1/audit/dossiers/{code}/{path}", headers=officer), 403, "forbidden")
        for unknown in ("HS-NO-SUCH-DOSSIER", "X" * 1200):  # the second longer than a workflow id may be
            assert_problem(await api_client.get(f"/v1/audit/dossiers/{unknown}/{path}",
                                                headers=auditor(oidc_provider)), 404, "dossier_not_found")


async def _gone(client: Client, code: str) -> bool:
    try:
        await client.get_workflow_handle(code).describe()
    except RPCError as error:
        assert error.status == RPCStatusCode.NOT_FOUND, error
        return True
    return False


async def test_after_retention_a_closed_dossier_answers_from_the_archive(
        api_client: httpx.AsyncClient, api_app: FastAPI, oidc_provider: OidcProvider, portal_token: str,
        client: Client, completed: tuple[WorkflowHistory, DossierStatus]):  # noqa: F811
    """The dossier closes, its history is exported, then Temporal forgets it (as retention does): the status, the
    trail, the replay verdict and the export still answer, each saying where it comes from."""
    history, status = completed
    code = history.workflow_id
    state = api_app.state.api
    before = (await api_client.get(f"/v1/dossiers/{code}", headers=bearer(portal_token))).json()
    assert (before["source"], before["history"]) == ("read_model", "temporal")

    assert await archive_history(client, state.pool, state.store, code)
    assert await archive_history(client, state.pool, state.store, code)  # again: the same file, one row
    assert await state.pool.fetchval("SELECT count(*) FROM history_archive WHERE dossier_code = $1", code) == 1
    await client.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(
        namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=code)))
    await wait_for(lambda: _gone(client, code))  # the server deletes in the background

    after = (await api_client.get(f"/v1/dossiers/{code}", headers=bearer(portal_token))).json()
    assert (after["status"], after["source"], after["history"]) == ("completed", "read_model", "archive")
    assert [d["kind"] for d in after["documents"]] == [d["kind"] for d in before["documents"]]
    trail = (await api_client.get(f"/v1/audit/dossiers/{code}/trail", headers=auditor(oidc_provider))).json()
    assert trail["source"] == "audit_table" and trail["entries"][-1]["action"] == TrailAction.COMPLETED
    replayed = await api_client.get(f"/v1/audit/dossiers/{code}/replay", headers=auditor(oidc_provider))
    assert replayed.status_code == 200, replayed.text
    report = replayed.json()
    assert (report["source"], report["deterministic"], report["events"]) == ("archive", True, len(history.events))
    assert [(e["actor"], e["action"]) for e in report["trail"]] == [(e.actor, e.action) for e in status.trail]
    async with api_client.stream("GET", f"/v1/audit/dossiers/{code}/history",
                                 headers=auditor(oidc_provider)) as answer:
        assert answer.status_code == 200 and answer.headers["cutru-history-source"] == "archive"
        exported = WorkflowHistory.from_json(code, b"".join([chunk async for chunk in answer.aiter_raw()]).decode())
    assert [e.event_id for e in exported.events] == [e.event_id for e in history.events]


async def test_the_sweep_exports_each_closed_dossier_once(
        client: Client, database_url: str, tmp_path: Path,
        completed: tuple[WorkflowHistory, DossierStatus]):  # noqa: F811
    """On a database of its own (the session's holds every other test's dossiers): the closed dossier's history is
    exported, one with no workflow of its own gets a row without a file, an open one is left alone, and a second
    sweep finds nothing left to do."""
    history, _ = completed
    name = f"cutru_sweep_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(database_url, name)
        await migrate(url)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
        try:
            stay, still_open = "HS-TEST-STAY-BY-REGISTER", "HS-TEST-STILL-OPEN"
            await pool.executemany(
                "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
                " received_at) VALUES ($1, 'StayNotification', $2, 'CA-00070', '001090000001', 'X', now())",
                [(history.workflow_id, "completed"), (stay, "completed"), (still_open, "awaiting_decision")])
            store = FileStore(tmp_path / "store")
            assert await archive_closed(client, pool, store) == 2
            assert await archive_closed(client, pool, store) == 0
            rows = {r["dossier_code"]: r for r in await pool.fetch("SELECT * FROM history_archive")}
            assert set(rows) == {history.workflow_id, stay}
            assert rows[stay]["sha256"] is None
            archived = rows[history.workflow_id]
            assert archived["events"] == len(history.events) and await store.exists(archived["sha256"])
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_lost_workflow_tasks_rows_are_shown_apart_from_the_trail(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, pool: asyncpg.Pool):
    """Rows a lost workflow task wrote stay in the append-only table; superseded (activities.trail), the auditor
    gets them apart, marked, and the trail without them (docs/reliability.md, lost workflow tasks)."""
    prefix = f"HS-LOST-{uuid.uuid4().hex[:8].upper()}-"
    code = prefix + "1"
    async with pool.acquire() as conn:
        await add_dossiers(conn, prefix, 1, status="withdrawn")
        await conn.executemany(
            "INSERT INTO audit_events (dossier_code, event_key, actor, action, details)"
            " VALUES ($1, $2, $3, $4, jsonb_build_object('detail', $5::text, 'at', $6::text))",
            [(code, key, actor, action, detail, f"2026-12-01T0{n}:00:00+00:00")
             for n, (key, actor, action, detail) in enumerate([
                 ("0000-received", "citizen", "received", ""),
                 ("0001-supplement_requested", OFFICER, "supplement_requested", "Sổ hộ khẩu"),
                 ("0001-reassigned", "CB-00070-00", "reassigned", "to CB-00070-02: Cân đối"),
                 (CLOSING_KEY, "citizen", "withdrawn", "Đổi ý")])])
        await conn.execute("INSERT INTO audit_superseded (dossier_code, event_key, reason)"
                           " VALUES ($1, '0001-supplement_requested', 'not_in_history')", code)
    answer = await api_client.get(f"/v1/audit/dossiers/{code}/trail", headers=auditor(oidc_provider))
    assert answer.status_code == 200, answer.text
    trail = answer.json()
    assert [e["action"] for e in trail["entries"]] == ["received", "reassigned", "withdrawn"]
    assert [(e["actor"], e["action"], e["detail"], e["reason"]) for e in trail["superseded"]] == [
        (OFFICER, "supplement_requested", "Sổ hộ khẩu", "not_in_history")]
