"""The papers a citizen attached, on the officer's dossier page in chromium: listed by kind and file name, each a
link that opens the file as uploaded."""

from __future__ import annotations

from playwright.async_api import Page, expect

from domain.models import DossierState
from tests.attachment_files import pdf
from tests.e2e.desk import OFFICER, DeskStack, sign_in, wait_state
from tests.factories import new_person, new_place, registration


async def test_the_dossier_page_links_each_attached_paper(page: Page, desk_stack: DeskStack):
    deed = pdf(b"BT (Giay chung nhan) Tj ET")
    async with desk_stack.pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = registration(person, place)
    async with desk_stack.api() as api:
        uploaded = await api.post("/v1/attachments", params={"file_name": "so-do.pdf"}, content=deed,
                                  headers={"Content-Type": "application/pdf"})
        assert uploaded.status_code == 201, uploaded.text
        receipt = uploaded.json()
        submission["attachments"] = [{"kind": "title_deed", **{key: receipt[key] for key in (
            "sha256", "file_name", "media_type", "size_bytes")}}]
        assert (await api.post("/v1/dossiers", json=submission)).status_code == 201
    code = submission["dossier_code"]
    await wait_state(desk_stack.dossiers, code, DossierState.AWAITING_DECISION)
    await sign_in(page, desk_stack, OFFICER, start=f"/desk/dossiers/{code}")
    link = page.get_by_role("link", name="Giấy chứng nhận quyền sở hữu nhà ở, quyền sử dụng đất: so-do.pdf")
    await expect(link).to_be_visible()
    href = await link.get_attribute("href")
    assert href == f"/desk/dossiers/{code}/attachments/{receipt['sha256']}"
    opened = await page.request.get(desk_stack.url(href))  # with the officer's session
    assert opened.ok and await opened.body() == deed
    assert opened.headers["content-type"] == "application/pdf"
