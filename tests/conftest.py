"""Session fixtures: a real Temporal dev server, a real PostgreSQL database of its own, a seeded population.

PostgreSQL: the server of ``DATABASE_URL`` (any database on it) or 127.0.0.1:5432 when reachable, else a local
cluster (``cutru_local.postgres``, the one way every part of the project starts its own). Each run creates its own
database and drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cutru_local.postgres import server_url, with_database
from cutru_local.seed import seed
from cutru_local.stack import DEV_SERVER_DYNAMIC_CONFIG, temporal_binary
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.dossier import DossierActivities
from activities.payment import LocalPaymentGateway
from cutru.platform.codec import data_converter
from cutru.platform.config import SEARCH_ATTRIBUTES, Settings
from cutru.platform.db.migrate import migrate
from tests.factories import FAST, KEY_ENVIRONMENT, PAYLOAD_KEYS
from worker import build_worker, database_pool

# Encryption and decision keys are required by every worker and writing client: the session's own, for the processes
# the tests start as well.
os.environ.update(KEY_ENVIRONMENT)

# The real OIDC provider and its tokens, and an in-process API on the session's services, for any test.
pytest_plugins = ["tests.oidc", "tests.api_fixtures"]

SEED_PEOPLE = 3_000
SEARCH_ATTRIBUTE_KINDS: dict[str, Callable[[str], SearchAttributeKey[Any]]] = {
    "Keyword": SearchAttributeKey.for_keyword,
    "Datetime": SearchAttributeKey.for_datetime,
    "Bool": SearchAttributeKey.for_bool,
}


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cutru")


@pytest.fixture(scope="session")
async def database_url(tmp_root: Path) -> AsyncIterator[str]:
    server, _, cluster = server_url(tmp_root / "postgres")
    name = f"cutru_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server, name)
    try:
        await migrate(url)
        await seed(url, people=SEED_PEOPLE, seed=7, progress=False)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if cluster is not None:
            cluster.remove()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await database_pool(database_url, generic_plans=True)  # the worker's pool settings
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        # A deleted execution goes at once, not after the server's check (about 30 s) that its close reached
        # visibility: the after-retention tests delete closed dossiers and wait for them to be gone.
        dev_server_extra_args=[*DEV_SERVER_DYNAMIC_CONFIG,
                               "--dynamic-config-value", "history.transferProcessorEnsureCloseBeforeDelete=false"],
        data_converter=data_converter(PAYLOAD_KEYS),
        search_attributes=[SEARCH_ATTRIBUTE_KINDS[kind](name) for name, kind in SEARCH_ATTRIBUTES.items()],
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def client(temporal: WorkflowEnvironment) -> Client:
    return temporal.client


@pytest.fixture
def settings(temporal: WorkflowEnvironment, database_url: str, tmp_root: Path) -> Settings:
    """A fresh task queue per test so that no test's worker picks up another's tasks."""
    return Settings(
        temporal_address=temporal.client.service_client.config.target_host,
        namespace=temporal.client.namespace,
        task_queue=f"tq-{uuid.uuid4().hex[:8]}",
        database_url=database_url,
        document_dir=tmp_root / "documents",
        processing=FAST,
    )


@pytest.fixture
async def worker(client: Client, settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Worker]:
    async with build_worker(client, settings, pool) as running:
        yield running


@pytest.fixture
async def rolled_back(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction that is rolled back at the end: bulk rows leave the session's database
    as it was."""
    async with pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture
def activities(pool: asyncpg.Pool, tmp_root: Path) -> DossierActivities:
    return DossierActivities(pool=pool, gateway=LocalPaymentGateway(pool), document_dir=tmp_root / "documents")

