"""The officers' desk in a real browser: sign in through the provider, find a dossier, decide it; the unit head
signs the officer's proposal and the citizen's result names the signer."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
from playwright.async_api import Browser, Page, expect
from pypdf import PdfReader

from domain.documents import DRAFT_MARK
from domain.kinds import Procedure
from domain.models import DossierState, TrailAction
from domain.procedures.catalogue import PROCEDURES
from tests.e2e.desk import (
    OFFICER,
    SUPERVISOR,
    VIEWPORT,
    DeskStack,
    form_token,
    other_unit_officer,
    screenshot,
    sign_in,
    submitted_dossier,
    wait_state,
)
from tests.factories import DEMO_UNIT, pay, unit_head


async def reads(stack: DeskStack, code: str) -> list[tuple[str, str, str]]:
    rows = await stack.pool.fetch("SELECT officer_id, channel, operation FROM personal_data_reads"
                                  " WHERE dossier_code = $1 ORDER BY read_id", code)
    return [(row["officer_id"], row["channel"], row["operation"]) for row in rows]


async def opened_draft(page: Page, link: str) -> str:
    """The text of the draft PDF the page's link opens, fetched with the browser's own session."""
    href = await page.get_by_role("link", name=link).get_attribute("href")
    assert href is not None
    answer = await page.request.get(page.url.split("/desk/")[0] + href)
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    return " ".join(PdfReader(io.BytesIO(await answer.body())).pages[0].extract_text().split())


async def test_an_officer_signs_in_finds_a_dossier_approves_it_and_the_citizen_gets_the_result(
        page: Page, browser: Browser, desk_stack: DeskStack):
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
    recorded = await reads(desk_stack, code)
    # The queue pages that listed it (with the applicant's name), then the dossier page.
    assert recorded[-1] == (OFFICER, "desk", "desk_dossier") and set(recorded[:-1]) == {(OFFICER, "desk", "queue")}
    applicant = (await desk_stack.dossiers.status(code)).submission["applicant"]["full_name"]  # type: ignore[index]
    draft = await opened_draft(page, "Dự thảo CT08")
    assert DRAFT_MARK in draft and applicant in draft and "Mã xác thực" not in draft
    assert (await reads(desk_stack, code))[-1] == (OFFICER, "desk", "desk_draft")
    await page.get_by_role("button", name="Phê duyệt hồ sơ").click()
    await expect(page.get_by_role("status")).to_have_text("Đã phê duyệt hồ sơ.")
    await expect(page.get_by_role("button", name="Phê duyệt hồ sơ")).to_have_count(0)
    await expect(page.get_by_text("Chờ lãnh đạo ký duyệt", exact=True)).to_be_visible()

    # The approval is a proposal: the unit head signs it in a browser of their own.
    status = await desk_stack.dossiers.status(code)
    assert status.state == DossierState.AWAITING_SIGN_OFF
    assert any(entry.actor == OFFICER and entry.action == TrailAction.PROPOSED for entry in status.trail)
    head = await unit_head(desk_stack.pool, DEMO_UNIT)
    context = await browser.new_context(viewport=VIEWPORT, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    try:
        as_head = await context.new_page()
        await sign_in(as_head, desk_stack, SUPERVISOR, start="/desk/sign-offs")
        await expect(as_head.get_by_role("heading", name="Hồ sơ chờ ký duyệt")).to_be_visible()
        await as_head.get_by_role("link", name=code).click()
        await expect(as_head.get_by_role("heading", name=f"Ký duyệt hồ sơ {code}")).to_be_visible()
        await expect(as_head.get_by_label("Phần ký trên kết quả")).to_contain_text(head.full_name)
        signed_draft = await opened_draft(as_head, "Dự thảo CT08")
        assert DRAFT_MARK in signed_draft and f"(Dự thảo: chưa ký, chưa đóng dấu) {head.full_name}" in signed_draft
        await screenshot(as_head, desk_stack, "sign-off")
        await as_head.get_by_role("button", name="Ký duyệt", exact=True).click()
        await expect(as_head.get_by_role("status")).to_contain_text("Đã ký duyệt")
    finally:
        await context.close()

    await wait_state(desk_stack.dossiers, code, DossierState.AWAITING_PAYMENT)
    await pay(desk_stack.dossiers, desk_stack.pool, code)
    await wait_state(desk_stack.dossiers, code, DossierState.COMPLETED)
    async with desk_stack.api() as api:
        view = (await api.get(f"/v1/dossiers/{code}")).json()
    results = PROCEDURES[Procedure.PERMANENT_RESIDENCE_REGISTRATION].results
    assert {document["kind"] for document in view["documents"]} >= set(results)
    # The citizen's result names the head who signed it, with the title.
    path = await desk_stack.pool.fetchval("SELECT path FROM documents WHERE dossier_code = $1 AND kind = 'CT08'", code)
    text = " ".join(PdfReader(io.BytesIO(Path(path).read_bytes())).pages[0].extract_text().split())
    assert f"TRƯỞNG CÔNG AN PHƯỜNG HOÀN KIẾM (Ký, ghi rõ họ tên, đóng dấu) {head.full_name}" in text


async def test_an_officer_of_another_unit_sees_neither_the_dossier_nor_a_way_to_decide_it(
        page: Page, desk_stack: DeskStack):
    code = await submitted_dossier(desk_stack)
    applicant = (await desk_stack.dossiers.status(code)).submission["applicant"]["full_name"]  # type: ignore[index]
    await sign_in(page, desk_stack, await other_unit_officer(desk_stack))
    await page.get_by_label("Tìm theo mã hồ sơ hoặc tên người nộp").fill(code)
    await page.get_by_role("button", name="Lọc").click()
    await expect(page.get_by_text("Không có hồ sơ nào khớp bộ lọc.")).to_be_visible()

    answer = await page.goto(desk_stack.url(f"/desk/dossiers/{code}"))
    assert answer is not None and answer.status == 404
    await expect(page.get_by_role("heading", name="Không tìm thấy hồ sơ")).to_be_visible()
    await expect(page.get_by_role("button")).to_have_text(["Đăng xuất"])  # no decision of any kind
    assert applicant not in await page.content()
    await screenshot(page, desk_stack, "not-found")
    pdf = await page.request.get(desk_stack.url(f"/desk/dossiers/{code}/documents/CT04"))
    assert pdf.status == 404 and pdf.headers["content-type"].startswith("text/html")

    # A decision sent anyway, with this officer's own valid form token, is refused and changes nothing.
    await page.goto(desk_stack.url("/desk/queue"))
    refused = await page.request.post(desk_stack.url(f"/desk/dossiers/{code}/decision"),
                                      form={"csrf": await form_token(page), "decision": "approve"},
                                      headers={"Origin": desk_stack.base_url})
    assert refused.status == 404 and applicant not in await refused.text()
    assert await reads(desk_stack, code) == []  # a refused read is none
    assert (await desk_stack.dossiers.status(code)).state == DossierState.AWAITING_DECISION


async def test_a_form_without_the_sessions_token_or_from_elsewhere_is_refused_and_changes_nothing(
        page: Page, desk_stack: DeskStack):
    code = await submitted_dossier(desk_stack)
    await sign_in(page, desk_stack, OFFICER, start=f"/desk/dossiers/{code}")
    token = await form_token(page)
    decision = desk_stack.url(f"/desk/dossiers/{code}/decision")
    attempts: list[tuple[dict[str, str | float | bool], dict[str, str]]] = [
        ({"csrf": "not-the-token", "decision": "approve"}, {"Origin": desk_stack.base_url}),
        ({"decision": "approve"}, {"Origin": desk_stack.base_url}),
        ({"csrf": token, "decision": "approve"}, {"Origin": "http://attacker.example"}),
        ({"csrf": token, "decision": "approve"}, {"Referer": "http://attacker.example/desk/queue"}),
    ]
    for form, headers in attempts:
        refused = await page.request.post(decision, form=form, headers=headers, max_redirects=0)
        assert refused.status == 403, (form, headers)
        assert "Biểu mẫu không được chấp nhận" in await refused.text()
    assert (await desk_stack.dossiers.status(code)).state == DossierState.AWAITING_DECISION

    await page.set_content(await refused.text())
    await screenshot(page, desk_stack, "csrf-refused")


async def test_an_expired_session_decides_nothing_and_asks_to_sign_in_again(page: Page, desk_stack: DeskStack):
    code = await submitted_dossier(desk_stack)
    await sign_in(page, desk_stack, OFFICER, start=f"/desk/dossiers/{code}")
    # The officer left the page open past the idle limit.
    await desk_stack.pool.execute("UPDATE desk_sessions SET idle_expires_at = now() - interval '1 second'")
    await page.get_by_role("button", name="Phê duyệt hồ sơ").click()
    await expect(page.get_by_role("heading", name="Phiên làm việc đã kết thúc")).to_be_visible()
    await expect(page.get_by_role("link", name="Đăng nhập")).to_be_visible()
    await screenshot(page, desk_stack, "session-ended")
    assert (await desk_stack.dossiers.status(code)).state == DossierState.AWAITING_DECISION

    # Past its absolute expiry a session is gone too, however recently it was used.
    await sign_in(page, desk_stack, OFFICER, start=f"/desk/dossiers/{code}")
    await desk_stack.pool.execute("UPDATE desk_sessions SET expires_at = now() - interval '1 second'"
                                  " WHERE idle_expires_at > now()")
    answer = await page.request.get(desk_stack.url("/desk/queue"), max_redirects=0)
    assert answer.status == 303 and answer.headers["location"] == "/desk/sign-in?next=%2Fdesk%2Fqueue"


async def test_signing_out_ends_the_session(page: Page, desk_stack: DeskStack):
    await sign_in(page, desk_stack, OFFICER)
    cookie = next(c for c in await page.context.cookies() if c["name"] == "__Host-cutru-desk")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    await page.get_by_role("button", name="Đăng xuất").click()
    await expect(page.get_by_role("heading", name="Đã đăng xuất")).to_be_visible()
    await screenshot(page, desk_stack, "signed-out")
    assert not [c for c in await page.context.cookies() if c["name"] == "__Host-cutru-desk"]
    # The old cookie is worth nothing: its session is deleted.
    async with httpx.AsyncClient(base_url=desk_stack.base_url) as replayed:
        answer = await replayed.get("/desk/queue", headers={"Cookie": f"{cookie['name']}={cookie['value']}"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/desk/sign-in")
    # Signing in again takes the password again, although the provider still holds its own session.
    await page.get_by_role("link", name="Đăng nhập lại").click()
    await expect(page.get_by_label("Mật khẩu / Password")).to_be_visible()
    await screenshot(page, desk_stack, "sign-in")


async def test_a_rejection_names_its_legal_ground_and_a_supplement_request_its_papers(
        page: Page, desk_stack: DeskStack):
    rejected, incomplete = await asyncio.gather(submitted_dossier(desk_stack), submitted_dossier(desk_stack))
    await sign_in(page, desk_stack, OFFICER, start=f"/desk/dossiers/{rejected}")
    await page.get_by_role("button", name="Từ chối hồ sơ").click()  # no ground picked: the browser asks for one
    assert (await desk_stack.dossiers.status(rejected)).state == DossierState.AWAITING_DECISION
    await page.get_by_label("Hồ sơ không đủ điều kiện đăng ký thường trú theo quy định").check()
    await page.get_by_label("Ghi chú thêm cho công dân (không bắt buộc)").fill("Chỗ ở đang có tranh chấp.")
    await page.get_by_role("button", name="Từ chối hồ sơ").click()
    await expect(page.get_by_role("status")).to_have_text("Đã từ chối hồ sơ; công dân nhận phiếu từ chối (CT06).")
    await wait_state(desk_stack.dossiers, rejected, DossierState.REFUSED)
    refusals = (await desk_stack.dossiers.status(rejected)).refusals
    basis = PROCEDURES[Procedure.PERMANENT_RESIDENCE_REGISTRATION].legal_basis
    assert [r.message for r in refusals] == [
        f"Hồ sơ không đủ điều kiện đăng ký thường trú theo quy định (căn cứ: {basis}). Chỗ ở đang có tranh chấp."]

    await page.goto(desk_stack.url(f"/desk/dossiers/{incomplete}"))
    await page.get_by_label("Giấy tờ, tài liệu chứng minh chỗ ở hợp pháp").check()
    await page.get_by_label("Giấy tờ khác (mỗi dòng một giấy tờ)").fill("Bản sao sổ đỏ\n\nBiên lai điện nước")
    await page.get_by_role("button", name="Gửi yêu cầu bổ sung").click()
    await expect(page.get_by_role("status")).to_contain_text("Đã yêu cầu bổ sung")
    await wait_state(desk_stack.dossiers, incomplete, DossierState.AWAITING_SUPPLEMENT)
    trail = (await desk_stack.dossiers.status(incomplete)).trail
    requested = next(entry for entry in trail if entry.action == "supplement_requested")
    for item in ("Giấy tờ, tài liệu chứng minh chỗ ở hợp pháp", "Bản sao sổ đỏ", "Biên lai điện nước"):
        assert item in requested.detail


async def test_an_officer_taken_off_the_roster_is_out_at_the_next_page(page: Page, desk_stack: DeskStack):
    officer = await other_unit_officer(desk_stack)
    await sign_in(page, desk_stack, officer)
    await desk_stack.pool.execute("UPDATE officers SET active = false WHERE officer_id = $1", officer)
    try:
        answer = await page.request.get(desk_stack.url("/desk/queue"), max_redirects=0)
        assert answer.status == 303 and answer.headers["location"].startswith("/desk/sign-in")
    finally:
        await desk_stack.pool.execute("UPDATE officers SET active = true WHERE officer_id = $1", officer)
    # The session is gone, not only refused while the officer was inactive.
    answer = await page.request.get(desk_stack.url("/desk/queue"), max_redirects=0)
    assert answer.status == 303
