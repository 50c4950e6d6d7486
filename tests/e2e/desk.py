"""End-to-end helpers for the web desk in a real browser (Debian's chromium driven by Playwright).

Fixtures (tests/e2e/conftest.py registers them for every test under tests/e2e):

- ``desk_stack`` (session): the API (with the desk) served by uvicorn on a free loopback port, a worker on a task
  queue of its own, the session's Temporal dev server, PostgreSQL database and OIDC provider. One for the session.
- ``browser`` (session): headless chromium. ``page`` (per test): a fresh browser context (no cookies) and a page.

Helpers:

- ``sign_in(page, stack, username)``: through the provider's login form, back on the desk's queue.
- ``submitted_dossier(stack)``: a permanent-residence registration of the demo unit submitted through the API as
  the portal does, returned once it waits for an officer's decision; ``wait_state(stack.dossiers, code, state)``.
- ``other_unit_officer(stack)``: an officer of another unit; ``form_token(page)``: the page's CSRF token.
- ``screenshot(page, name)``: ``page.png`` into ``$CUTRU_DESK_SCREENSHOTS`` (``make e2e`` sets docs/desk), else
  into the session's temporary directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from playwright.async_api import Page, ViewportSize

from cutru.clients.client import DossierClient
from domain.models import DossierState
from tests.api_fixtures import bearer
from tests.factories import DEMO_UNIT, new_person, new_place, registration
from tests.integration.test_permanent_registration import wait_state
from tests.oidc import OidcProvider, client_credentials_token

ENV_SCREENSHOTS = "CUTRU_DESK_SCREENSHOTS"
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}
TABLET: ViewportSize = {"width": 820, "height": 1180}

# The seeded demo unit's officers (cutru_local.seed): an officer, another officer, the supervisor.
OFFICER, OTHER_OFFICER, SUPERVISOR = f"CB-{DEMO_UNIT[3:]}-02", f"CB-{DEMO_UNIT[3:]}-01", f"CB-{DEMO_UNIT[3:]}-00"


@dataclass(frozen=True)
class DeskStack:
    base_url: str
    provider: OidcProvider
    pool: asyncpg.Pool
    dossiers: DossierClient
    screenshots: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def api(self) -> httpx.AsyncClient:
        """The API as the portal's backend calls it (client credentials)."""
        return httpx.AsyncClient(base_url=self.base_url, timeout=30.0,
                                 headers=bearer(client_credentials_token(self.provider)))


async def submitted_dossier(stack: DeskStack, **details: Any) -> str:
    """A new applicant registering at a new place they own, through ``POST /v1/dossiers``; waits for the officer."""
    async with stack.pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = registration(person, place, **details)
    async with stack.api() as api:
        answer = await api.post("/v1/dossiers", json=submission,
                                headers={"Idempotency-Key": submission["dossier_code"]})
    assert answer.status_code == 201, answer.text
    code: str = submission["dossier_code"]
    await wait_state(stack.dossiers, code, DossierState.AWAITING_DECISION)
    return code


async def sign_in(page: Page, stack: DeskStack, username: str, *, start: str = "/desk/queue") -> None:
    """Open ``start`` signed out, go through the provider's login form, land back on ``start``."""
    await page.goto(stack.url(start))
    await page.get_by_label("Mã cán bộ / Username").fill(username)
    await page.get_by_label("Mật khẩu / Password").fill(stack.provider.password)
    await page.get_by_role("button", name="Đăng nhập / Sign in").click()
    await page.wait_for_url(stack.url(start) + "**")


async def other_unit_officer(stack: DeskStack) -> str:
    """An active officer of a seeded unit other than the demo unit's."""
    officer: str | None = await stack.pool.fetchval(
        "SELECT officer_id FROM officers WHERE unit_code <> $1 AND role = 'officer' AND active"
        " ORDER BY unit_code, officer_id LIMIT 1", DEMO_UNIT)
    assert officer is not None, "the seed has a single police unit"
    return officer


async def form_token(page: Page) -> str:
    """The session's form token, as every desk page carries it (the sign-out form)."""
    token = await page.locator("input[name=csrf]").first.get_attribute("value")
    assert token
    return token


async def screenshot(page: Page, stack: DeskStack, name: str) -> Path:
    path = stack.screenshots / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def screenshot_dir(default: Path) -> Path:
    chosen = Path(os.environ.get(ENV_SCREENSHOTS) or default)
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen
