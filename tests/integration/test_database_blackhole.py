"""A database behind a network that drops packets: no refusal, no reset, no answer. A TCP proxy between the pool and
PostgreSQL holds every byte while black-holed and delivers it once healed (as TCP's retransmissions would); the
sessions' bounds (cutru.platform.config.DatabaseOptions) must turn the silence into errors within the configured
timeouts, and a dossier in flight must still reach its result once the network heals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from chaos.network import BlackHole, through
from cutru.api.settings import ApiSettings
from cutru.clients.client import DossierClient
from cutru.platform.config import DatabaseOptions, Settings
from domain.models import DecisionKind, DossierState, OfficerDecision
from tests.api_fixtures import bearer
from tests.factories import head_signs, pay
from tests.integration.test_permanent_registration import own_residence_dossier, wait_for, wait_state
from tests.oidc import OidcProvider
from worker import build_worker, database_pool
from workflows.lifecycle import ACTIVITY_TIMEOUT, LOCAL_RETRY

# Short bounds, so the test waits seconds, not the production defaults.
OPTIONS = DatabaseOptions(connect_timeout=timedelta(seconds=2), statement_timeout=timedelta(seconds=1),
                          command_timeout=timedelta(seconds=2), lock_timeout=timedelta(seconds=1),
                          idle_in_transaction_timeout=timedelta(seconds=5), keepalive_idle=timedelta(seconds=2))
BOUND = OPTIONS.client_timeout.total_seconds()
SLACK = 2.0  # the event loop's and the machine's own delays on a loaded 2-core machine


@pytest.fixture
async def hole(database_url: str) -> AsyncIterator[tuple[BlackHole, str]]:
    parts = urlsplit(database_url)
    proxy = BlackHole(parts.hostname or "127.0.0.1", parts.port or 5432)
    port = await proxy.start()
    try:
        yield proxy, through(database_url, port)
    finally:
        proxy.heal()
        await proxy.close()


async def timed(awaitable: Awaitable[object]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        await awaitable
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        return time.monotonic() - started, error
    return time.monotonic() - started, None


async def test_a_statement_into_the_black_hole_fails_within_its_bound(hole: tuple[BlackHole, str]):
    proxy, url = hole
    pool = await database_pool(url, 2, OPTIONS)
    try:
        assert await pool.fetchval("SELECT 1") == 1
        proxy.drop()
        started = time.monotonic()
        async with pool.acquire() as conn:
            elapsed, error = await timed(conn.fetchval("SELECT 1"))
            assert isinstance(error, TimeoutError), error
            assert elapsed < BOUND + SLACK, f"a statement held {elapsed:.1f} s, bound {BOUND} s"
        # Giving the connection back waits for the cancel request, which the silence swallows as well: bounded by
        # the same timeout, after which the connection is dropped.
        held = time.monotonic() - started
        assert held < 2 * BOUND + SLACK, f"the connection was held {held:.1f} s"
        # A new connection into the silence: the connect timeout, not a hang.
        elapsed, error = await timed(asyncpg.connect(url, timeout=OPTIONS.connect_timeout.total_seconds()))
        assert isinstance(error, TimeoutError), error
        assert elapsed < OPTIONS.connect_timeout.total_seconds() + SLACK
        proxy.heal()
        # The broken connection was dropped; the pool serves again.
        assert await pool.fetchval("SELECT 2") == 2
    finally:
        proxy.heal()
        await asyncio.wait_for(pool.close(), 30)


async def test_the_server_cancels_a_slow_statement_itself(hole: tuple[BlackHole, str]):
    """A reachable server enforces statement_timeout and says so, before the client's own bound."""
    _, url = hole
    pool = await database_pool(url, 1, OPTIONS)
    try:
        elapsed, error = await timed(pool.fetchval("SELECT pg_sleep(10)"))
        assert isinstance(error, asyncpg.QueryCanceledError), error
        assert "statement timeout" in str(error)
        assert elapsed < BOUND
    finally:
        await pool.close()


@pytest.fixture
def api_settings(settings: Settings, oidc_provider: OidcProvider, hole: tuple[BlackHole, str]) -> ApiSettings:
    """The API with its pool through the proxy."""
    core = settings.model_copy(update={"database_url": hole[1], "database": OPTIONS})
    return ApiSettings(core=core, oidc=oidc_provider.settings)


async def test_the_api_answers_503_while_its_database_is_black_holed(
        api_client: httpx.AsyncClient, portal_token: str, hole: tuple[BlackHole, str]):
    proxy, _ = hole
    assert (await api_client.get("/v1/dossiers", headers=bearer(portal_token))).status_code == 200
    proxy.drop()
    started = time.monotonic()
    answer = await api_client.get("/v1/dossiers", headers=bearer(portal_token))
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json" and "retry-after" in answer.headers
    assert time.monotonic() - started < 2 * BOUND + SLACK
    proxy.heal()
    # What the hole left mid-statement (that request's connection, the intake sweeper's claim) ends at its own
    # bound; then the API serves again, without a restart.
    async def serves() -> bool:
        return (await api_client.get("/v1/dossiers", headers=bearer(portal_token))).status_code == 200

    await wait_for(serves, timeout=2 * BOUND + SLACK)


@pytest.fixture
async def proxied_worker(client: Client, settings: Settings,
                         hole: tuple[BlackHole, str]) -> AsyncIterator[Worker]:
    pool = await database_pool(hole[1], 4, OPTIONS)
    try:
        async with build_worker(client, settings, pool) as running:
            yield running
    finally:
        hole[0].heal()
        await asyncio.wait_for(pool.close(), 30)


async def test_a_dossier_in_flight_completes_after_the_black_hole_heals(
        client: Client, settings: Settings, pool: asyncpg.Pool, hole: tuple[BlackHole, str],
        proxied_worker: Worker):
    proxy, _ = hole
    dossiers = DossierClient(client, settings.task_queue)
    code = (submission := await own_residence_dossier(pool))["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    officer = (await dossiers.status(code)).assigned_officer
    assert officer is not None

    proxy.drop()
    # The decision's steps (its audit row, the read model, the payment order) meet the black hole; the update may
    # be answered only with the workflow task that runs them, so it is awaited after the heal.
    decided = asyncio.create_task(
        dossiers.decide(code, OfficerDecision(officer_id=officer, decision=DecisionKind.APPROVE)))
    handle = client.get_workflow_handle(code)

    async def failing_and_retried() -> bool:
        """An attempt that failed on a timeout and is being retried: a hung attempt would stay on its first."""
        async for event in handle.fetch_history_events():
            marker = event.marker_recorded_event_attributes
            if event.HasField("marker_recorded_event_attributes") and marker.HasField("failure"):
                return True
        description = await handle.describe()
        return any(activity.attempt > 1 for activity in description.raw_description.pending_activities)

    # The decision's first step is a local one (the proposal's trail entry, before the head signs): its attempts,
    # each bounded, and their backoff pass before its failure is recorded. Attempts held by the silence would each
    # last their start-to-close timeout, far longer.
    backoff = sum(LOCAL_RETRY.initial_interval.total_seconds() * LOCAL_RETRY.backoff_coefficient ** attempt
                  for attempt in range(LOCAL_RETRY.maximum_attempts - 1))
    bounded = LOCAL_RETRY.maximum_attempts * 2 * BOUND + backoff
    assert bounded < LOCAL_RETRY.maximum_attempts * ACTIVITY_TIMEOUT.total_seconds()
    await wait_for(failing_and_retried, timeout=bounded)
    proxy.heal()
    assert (await decided).accepted
    await head_signs(dossiers, pool, code)

    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, code)
    outcome = await dossiers.result(code)
    assert outcome.state == DossierState.COMPLETED
    actions = [r["action"] for r in await pool.fetch(
        "SELECT action FROM audit_events WHERE dossier_code = $1 ORDER BY event_id", code)]
    assert actions == ["received", "accepted", "proposed", "signed_off", "fee_paid", "completed"]
