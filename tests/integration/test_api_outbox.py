"""The intake outbox (cutru/api/outbox.py): a submission is answered once PostgreSQL holds it, encrypted, and started
after: Temporal out of reach still gets 201 and the dossier runs once it is back; a dossier whose fast path never
ran (the API killed right after the commit) or failed is started by the sweeper, of one replica or another, once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from chaos.network import BlackHole
from cutru.api.outbox import IntakeOutbox
from cutru.api.settings import ApiSettings
from cutru.platform.config import Settings
from domain.models import SubmissionBase
from tests.api_fixtures import bearer
from tests.cli import cutru_env
from tests.factories import PAYLOAD_KEYS
from tests.integration.test_api import wait_started, workflow_count
from tests.integration.test_permanent_registration import own_residence_dossier, wait_for
from tests.oidc import OidcProvider, client_credentials_token, free_port


async def a_submission(pool: asyncpg.Pool) -> dict[str, Any]:
    raw: dict[str, Any] = await own_residence_dossier(pool)
    return json.loads(json.dumps(raw, default=str))


async def intake_row(pool: asyncpg.Pool, code: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT key_id, payload, started_at, attempts, last_error FROM dossier_intake"
                               " WHERE dossier_code = $1", code)


async def wait_listed(pool: asyncpg.Pool, code: str) -> None:
    async def listed() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = $1", code))

    await wait_for(listed, timeout=60)


# ---------------------------------------------------------------------------------------------- Temporal away


@pytest.fixture
async def temporal_hole(settings: Settings) -> AsyncIterator[BlackHole]:
    host, _, port = settings.temporal_address.rpartition(":")
    proxy = BlackHole(host, int(port))
    await proxy.start()
    try:
        yield proxy
    finally:
        proxy.heal()
        await proxy.close()


@pytest.fixture
def api_settings(settings: Settings, oidc_provider: OidcProvider, temporal_hole: BlackHole) -> ApiSettings:
    """The API reaching Temporal through a proxy that can drop every packet (open but where a test drops it)."""
    assert temporal_hole.server is not None
    port = temporal_hole.server.sockets[0].getsockname()[1]
    return ApiSettings(core=settings.model_copy(update={"temporal_address": f"127.0.0.1:{port}"}),
                       oidc=oidc_provider.settings)


async def test_temporal_out_of_reach_the_dossier_is_recorded_and_runs_once_it_is_back(
        temporal_hole: BlackHole, api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool,
        client: Client):
    submission = await a_submission(pool)
    code = submission["dossier_code"]
    temporal_hole.drop()
    answer = await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))
    assert answer.status_code == 201, answer.text
    assert answer.json()["already_submitted"] is False
    again = await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))
    assert again.status_code == 200 and again.json()["already_submitted"] is True, again.text

    # Recorded, encrypted with the payload key, and not started: nothing reached the engine.
    row = await intake_row(pool, code)
    assert row is not None and row["started_at"] is None
    person = submission["applicant"]
    assert person["personal_id"].encode() not in row["payload"]
    assert person["full_name"].encode() not in row["payload"]
    recorded = json.loads(PAYLOAD_KEYS.decrypt(row["key_id"], row["payload"]))
    assert recorded["applicant"]["personal_id"] == person["personal_id"]
    assert await workflow_count(client, code) == 0

    temporal_hole.heal()
    await wait_listed(pool, code)
    await wait_started(pool, code)
    row = await intake_row(pool, code)
    assert row is None or row["payload"] is None  # the personal data goes once the workflow has it
    assert await workflow_count(client, code) == 1
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE dossier_code = $1 AND action = 'received'",
                               code) == 1


# ---------------------------------------------------------------------------------------------- the sweeper


async def test_an_api_process_killed_after_its_answer_leaves_the_dossier_to_another_replica(
        settings: Settings, oidc_provider: OidcProvider, tmp_path: Path, api_app: FastAPI, pool: asyncpg.Pool,
        client: Client):
    """``cutru api`` answers 201 while its start is held on the way to Temporal, and is killed: the start is lost
    with it (the proxy drops what it held), and the other replica (the app in process, on the same task queue)
    starts the dossier once the row's lease has run out."""
    host, _, port = settings.temporal_address.rpartition(":")
    hole = BlackHole(host, int(port))
    env = cutru_env(settings.model_copy(update={"temporal_address": f"127.0.0.1:{await hole.start()}"}), tmp_path,
                    **oidc_provider.environment())
    base = f"http://127.0.0.1:{free_port()}"
    with (tmp_path / "api.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "cutru.api", "--port", base.rpartition(":")[2]], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            async def ready() -> bool:
                assert process.poll() is None, (tmp_path / "api.log").read_text()
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(ready, timeout=60)
            submission = await a_submission(pool)
            code = submission["dossier_code"]
            hole.drop()
            answer = await http.post("/v1/dossiers", json=submission,
                                     headers=bearer(client_credentials_token(oidc_provider)))
            assert answer.status_code == 201, answer.text
    finally:
        process.kill()
        process.wait(timeout=15)
        await hole.close()  # what it held of the killed process's start is gone with it
    assert await workflow_count(client, code) == 0
    await wait_started(pool, code)
    await wait_listed(pool, code)
    row = await intake_row(pool, code)
    assert row is None or row["attempts"] == 1  # the other replica's start, the only one
    assert await workflow_count(client, code) == 1
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE dossier_code = $1 AND action = 'received'",
                               code) == 1


async def test_a_dossier_whose_fast_path_never_ran_is_started_by_a_sweeper_once(
        api_app: FastAPI, api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool, client: Client,
        monkeypatch: pytest.MonkeyPatch):
    """As if the API process died right after the commit: no fast path, and its lease runs out at once. Two more
    replicas sweep beside the app's own; each dossier still gets one workflow and one receipt."""
    state = api_app.state.api
    monkeypatch.setattr(state.outbox, "start_soon", lambda submission: None)
    monkeypatch.setattr(state.outbox, "fast_path_lease", timedelta(0))
    submissions = [await a_submission(pool) for _ in range(4)]
    for submission in submissions:
        answer = await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))
        assert answer.status_code == 201, answer.text
    replicas = [IntakeOutbox.of(state.pool, state.dossiers) for _ in range(2)]
    sweeping = [asyncio.create_task(replica.run()) for replica in replicas]
    try:
        for submission in submissions:
            await wait_started(pool, submission["dossier_code"])
    finally:
        for task in sweeping:
            task.cancel()
        await asyncio.gather(*sweeping, return_exceptions=True)
    for submission in submissions:
        code = submission["dossier_code"]
        await wait_listed(pool, code)
        assert await workflow_count(client, code) == 1
        assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE dossier_code = $1"
                                   " AND action = 'received'", code) == 1


async def test_a_failed_fast_path_is_recorded_and_the_sweeper_starts_the_dossier(
        api_app: FastAPI, api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool, client: Client,
        monkeypatch: pytest.MonkeyPatch):
    state = api_app.state.api
    submit = state.dossiers.submit
    calls: list[str] = []

    async def unavailable_once(raw: SubmissionBase) -> Any:
        calls.append(raw.dossier_code)
        if len(calls) == 1:
            raise RPCError("the engine is away", RPCStatusCode.UNAVAILABLE, b"")
        return await submit(raw)

    monkeypatch.setattr(state.dossiers, "submit", unavailable_once)
    submission = await a_submission(pool)
    code = submission["dossier_code"]
    answer = await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))
    assert answer.status_code == 201, answer.text

    await wait_started(pool, code)
    row = await intake_row(pool, code)
    assert row is not None and row["attempts"] == 2 and row["payload"] is None  # the failed one, then the start
    await wait_listed(pool, code)
    assert calls == [code, code]
    assert await workflow_count(client, code) == 1


async def test_the_started_rows_go_once_the_read_model_holds_them(
        api_app: FastAPI, api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool):
    submission = await a_submission(pool)
    code = submission["dossier_code"]
    assert (await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))).status_code == 201
    await wait_started(pool, code)
    await wait_listed(pool, code)
    await api_app.state.api.outbox.prune()
    assert await intake_row(pool, code) is None
    # The read model answers for the code from then on.
    again = await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))
    assert again.status_code == 200 and again.json()["already_submitted"] is True
    assert await intake_row(pool, code) is None
