"""The API in process for tests: the session's Temporal and database, a worker on the test's task queue, and the
real local OIDC provider verifying the tokens.

    async def test_x(api_client: httpx.AsyncClient, portal_token: str):
        response = await api_client.get("/v1/dossiers/HS-X", headers=bearer(portal_token))

Fixtures: ``api_settings``, ``api_app`` (lifespan entered), ``api_client`` (httpx over ASGI), ``portal_token``
(client credentials of ``cutru-portal``: role portal, every unit and procedure), ``api_process`` (``cutru api`` as a
process over real HTTP, one for the session). ``bearer(token)`` makes the header.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.worker import Worker

from cutru.api.app import create_app
from cutru.api.settings import ApiSettings
from cutru.platform.config import Settings
from cutru.platform.storage import AttachmentSettings
from tests.cli import cutru_env
from tests.factories import FAST
from tests.oidc import OidcProvider, client_credentials_token, free_port

__all__ = ["api_app", "api_client", "api_process", "api_settings", "bearer", "portal_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_settings(settings: Settings, oidc_provider: OidcProvider, tmp_path: Path) -> ApiSettings:
    """Attachments in the test's own directory, at most 1 MiB each. Every request of the in-process client comes
    from one address: no limit on the public verification's."""
    return ApiSettings(core=settings, oidc=oidc_provider.settings, max_body_bytes=64 * 1024, max_batch=50,
                       verify_rate_per_minute=0,
                       attachments=AttachmentSettings(store=(tmp_path / "attachments").as_uri(), max_bytes=2**20))


@pytest.fixture
async def api_app(api_settings: ApiSettings, worker: Worker) -> AsyncIterator[FastAPI]:
    app = create_app(api_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api_client(api_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cutru.test", timeout=30.0) as client:
        yield client


@pytest.fixture
def portal_token(oidc_provider: OidcProvider) -> str:
    return client_credentials_token(oidc_provider)


@pytest.fixture(scope="session")
def api_process(client: Client, database_url: str, oidc_provider: OidcProvider,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``cutru api`` on a free port, shared by the session (a process start costs seconds). It reaches a dossier by
    its code, whatever the task queue of the test that started it; its own queue has no worker, so nothing is
    submitted through it."""
    home = tmp_path_factory.mktemp("api-process")
    settings = Settings(temporal_address=client.service_client.config.target_host, namespace=client.namespace,
                        task_queue=f"tq-api-{uuid.uuid4().hex[:8]}", database_url=database_url,
                        document_dir=home / "documents", processing=FAST)
    port = free_port()
    env = cutru_env(settings, home, **oidc_provider.environment())
    # Its logs go to a file: a pipe nobody reads would fill and stall the server.
    log = (home / "api.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "cutru.api", "--port", str(port)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (home / "api.log").read_text()
            try:
                if httpx.get(f"{base}/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the API did not come up in 30 s"
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
