"""Counter intake and the statistics page in a real browser: an officer files a citizen's dossier at the counter
(a forgotten field is shown next to it, what was typed is kept), the dossier is recorded as assisted and theirs; a
supervisor sees the unit's figures as charts with their tables and downloads the CSV."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.desk import OFFICER, SUPERVISOR, DeskStack, screenshot, sign_in
from tests.factories import new_person
from tests.integration.test_permanent_registration import wait_for


async def test_an_officer_files_a_dossier_at_the_counter(page: Page, desk_stack: DeskStack) -> None:
    async with desk_stack.pool.acquire() as conn:
        person = await new_person(conn, full_name="Lê Thị Quầy")
    await sign_in(page, desk_stack, OFFICER, start="/desk/intake")
    await page.get_by_label("Thủ tục").select_option("ResidenceConfirmation")
    await page.get_by_label("Họ, chữ đệm và tên").fill(person.full_name)
    await page.get_by_label("Số định danh cá nhân").fill(person.personal_id)
    await page.get_by_label("Ngày sinh").fill(person.birth_date.isoformat())
    await page.get_by_label("Giới tính").select_option(person.sex)
    await page.get_by_label("Mục đích xác nhận").fill("Bổ sung hồ sơ xin việc")
    await page.get_by_label("Nơi nhận").fill("vneid:" + person.personal_id[-4:])
    await page.get_by_role("button", name="Nộp hồ sơ").click()  # the citizen's pledge is not ticked

    await expect(page.get_by_role("alert")).to_contain_text("Hồ sơ chưa được nộp")
    pledge = page.get_by_label("Công dân cam đoan")
    await expect(pledge).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#declaration_truthful-error")).to_be_visible()
    await expect(page.get_by_label("Họ, chữ đệm và tên")).to_have_value(person.full_name)
    await screenshot(page, desk_stack, "intake-error")

    await pledge.check()
    await page.get_by_role("button", name="Nộp hồ sơ").click()
    await page.wait_for_url("**/desk/intake?filed=*")
    heading = await page.get_by_role("heading", level=1).inner_text()
    code = heading.removeprefix("Đã nộp hồ sơ ").strip()
    assert code.startswith("TQ.00070-"), heading

    async def recorded() -> bool:
        return await desk_stack.pool.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = $1", code) == 1

    await wait_for(recorded)
    row = await desk_stack.pool.fetchrow("SELECT channel, filed_by, applicant_id FROM dossiers"
                                         " WHERE dossier_code = $1", code)
    assert dict(row) == {"channel": "assisted", "filed_by": OFFICER, "applicant_id": person.personal_id}
    await screenshot(page, desk_stack, "intake-filed")


async def test_a_supervisor_reads_the_statistics_as_charts_and_tables(page: Page, desk_stack: DeskStack) -> None:
    await sign_in(page, desk_stack, SUPERVISOR, start="/desk/statistics")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Thống kê hồ sơ")
    charts = page.get_by_role("img")
    await expect(charts).to_have_count(4)
    await expect(page.get_by_role("table", name="Hồ sơ tiếp nhận theo kênh nộp")).to_contain_text("Hỗ trợ")
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Tải về CSV (Excel)").click()
    saved = await (await download.value).path()
    assert saved is not None and saved.read_bytes().startswith("\ufeffNhóm,Mã,Tên".encode())
    await screenshot(page, desk_stack, "statistics")
