"""The desk's end-to-end fixtures: one served API + worker per session, one chromium, a fresh context per test
(tests/e2e/desk.py describes them)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from temporalio.client import Client

from cutru.api.app import create_app
from cutru.api.settings import ApiSettings
from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from cutru.platform.storage import AttachmentSettings
from tests.e2e.desk import VIEWPORT, DeskStack, screenshot_dir
from tests.factories import FAST
from tests.oidc import OidcProvider, free_port
from worker import build_worker

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
async def desk_stack(client: Client, database_url: str, pool: asyncpg.Pool, oidc_provider: OidcProvider,
                     tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DeskStack]:
    settings = Settings(
        temporal_address=client.service_client.config.target_host, namespace=client.namespace,
        task_queue=f"tq-e2e-{uuid.uuid4().hex[:8]}", database_url=database_url,
        document_dir=tmp_path_factory.mktemp("e2e-documents"), processing=FAST,
    )
    port = free_port()
    attachments = AttachmentSettings(store=tmp_path_factory.mktemp("e2e-attachments").as_uri())
    app = create_app(ApiSettings(core=settings, oidc=oidc_provider.settings, attachments=attachments))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=1))
    async with build_worker(client, settings, pool):
        serving = asyncio.create_task(server.serve())
        while not server.started:
            assert not serving.done(), "the API did not start"
            await asyncio.sleep(0.05)
        try:
            yield DeskStack(f"http://127.0.0.1:{port}", oidc_provider, pool,
                            DossierClient(client, settings.task_queue),
                            screenshot_dir(tmp_path_factory.mktemp("desk-screenshots")))
        finally:
            server.should_exit = True
            await serving


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed (apt-get install chromium)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=VIEWPORT, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    opened = await context.new_page()
    yield opened
    await context.close()

