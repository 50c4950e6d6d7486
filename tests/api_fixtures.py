"""The API in process for tests: the session's Temporal and database, a worker on the test's task queue, and the
real local OIDC provider verifying the tokens.

    async def test_x(api_client: httpx.AsyncClient, portal_token: str):
        response = await api_client.get("/v1/dossiers/HS-X", headers=bearer(portal_token))

Fixtures: ``api_settings``, ``api_app`` (lifespan entered), ``api_client`` (httpx over ASGI), ``portal_token``
(client credentials of ``cutru-portal``: role portal, every unit and procedure). ``bearer(token)`` makes the
header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.worker import Worker

from cutru.api.app import create_app
from cutru.api.settings import ApiSettings
from cutru.platform.config import Settings
from cutru.platform.storage import AttachmentSettings
from tests.oidc import OidcProvider, client_credentials_token

__all__ = ["api_app", "api_client", "api_settings", "bearer", "portal_token"]


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
