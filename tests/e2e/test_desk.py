"""The officers' desk in a real browser: sign in through the provider, find a dossier, decide it."""

from __future__ import annotations

from playwright.async_api import Page, expect

from domain.kinds import Procedure
from domain.models import DossierState
from domain.procedures.catalogue import PROCEDURES
from tests.e2e.desk import OFFICER, DeskStack, screenshot, sign_in, submitted_dossier, wait_state
from tests.factories import pay


async def test_an_officer_signs_in_finds_a_dossier_approves_it_and_the_citizen_gets_the_result(
        page: Page, desk_stack: DeskStack):
    code = await submitted_dossier(desk_stack)
    await sign_in(page, desk_stack, OFFICER)
    await expect(page.get_by_role("heading", name="Hàng đợi hồ sơ của đơn vị")).to_be_visible()
    await page.get_by_label("Tìm theo mã hồ sơ hoặc tên người nộp").fill(code)
    await page.get_by_role("button", name="Lọc").click()
    await expect(page.get_by_role("row")).to_have_count(2)  # the header and the one dossier
    await screenshot(page, desk_stack, "queue")

    await page.get_by_role("link", name=code).click()
    await expect(page.get_by_role("heading", name=f"Hồ sơ {code}")).to_be_visible()
    await expect(page.get_by_text("Chờ cán bộ xử lý", exact=True)).to_be_visible()
    await screenshot(page, desk_stack, "dossier")
    await page.get_by_role("button", name="Phê duyệt hồ sơ").click()
    await expect(page.get_by_role("status")).to_have_text("Đã phê duyệt hồ sơ.")
    await expect(page.get_by_role("button", name="Phê duyệt hồ sơ")).to_have_count(0)

    status = await desk_stack.dossiers.status(code)
    assert status.state == DossierState.AWAITING_PAYMENT
    assert any(entry.actor == OFFICER and entry.action == "approved" for entry in status.trail)
    await pay(desk_stack.dossiers, desk_stack.pool, code)
    await wait_state(desk_stack, code, DossierState.COMPLETED)
    async with desk_stack.api() as api:
        view = (await api.get(f"/v1/dossiers/{code}")).json()
    results = PROCEDURES[Procedure.PERMANENT_RESIDENCE_REGISTRATION].results
    assert {document["kind"] for document in view["documents"]} >= set(results)
