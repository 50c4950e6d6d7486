"""The supervisor's and the auditor's desk in a real browser: a supervisor sees an escalation in the inbox and
reassigns the dossier; an auditor reads a dossier's trail, and the read is recorded and shown."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.e2e.desk import OFFICER, OTHER_OFFICER, SUPERVISOR, DeskStack, screenshot, sign_in, submitted_dossier

AUDITOR = "KT-AUDITOR-01"


async def test_a_supervisor_is_told_of_an_escalation_and_reassigns_the_dossier(page: Page, desk_stack: DeskStack):
    code = await submitted_dossier(desk_stack)
    # Due within the hour, and escalated to the supervisor as the workflow's reminder activity does.
    await desk_stack.pool.execute("UPDATE dossiers SET deadline = now() + interval '1 hour' WHERE dossier_code = $1",
                                  code)
    await desk_stack.pool.execute("INSERT INTO desk_notices (officer_id, dossier_code, kind, due)"
                                  " SELECT $2, dossier_code, 'escalation', deadline FROM dossiers"
                                  " WHERE dossier_code = $1", code, SUPERVISOR)
    assigned = (await desk_stack.dossiers.status(code)).assigned_officer
    target = OTHER_OFFICER if assigned == OFFICER else OFFICER

    await sign_in(page, desk_stack, SUPERVISOR, start="/desk/inbox")
    inbox = page.locator("#inbox-link")
    await expect(inbox).to_contain_text(re.compile(r"Hộp thư \d+"))
    await expect(page.get_by_role("row").filter(has_text=code)).to_contain_text("Quá hạn, đã báo lãnh đạo")
    await screenshot(page, desk_stack, "inbox")
    unread = int((await inbox.locator(".badge").inner_text()).strip())
    await page.get_by_role("button", name="Đánh dấu các mục đã chọn là đã đọc").click()
    await expect(page.locator("#inbox-link .badge")).to_have_count(0)
    assert unread >= 1

    await page.get_by_role("link", name="Giám sát đơn vị").click()
    await expect(page.get_by_role("heading", name=re.compile("Giám sát đơn vị"))).to_be_visible()
    await expect(page.locator("#on-time-rate")).to_contain_text("Từ")
    row = page.get_by_role("row").filter(has_text=code)
    await row.get_by_label("Giao cho").select_option(target)
    await row.get_by_label("Lý do").fill("Cân bằng công việc trong đơn vị")
    await screenshot(page, desk_stack, "supervise")
    await row.get_by_role("button", name="Phân công lại").click()
    await expect(page.get_by_role("status")).to_have_text(f"Đã phân công lại hồ sơ {code}.")
    assert (await desk_stack.dossiers.status(code)).assigned_officer == target


async def test_an_auditor_reads_the_trail_and_the_read_is_recorded(page: Page, desk_stack: DeskStack):
    code = await submitted_dossier(desk_stack)
    await sign_in(page, desk_stack, AUDITOR, start=f"/desk/audit/dossiers/{code}")
    await expect(page.get_by_role("heading", name=re.compile(f"Nhật ký hồ sơ {code}"))).to_be_visible()
    await expect(page.locator(".trail li").first).to_contain_text("Tiếp nhận hồ sơ")
    trail = await page.locator(".trail").inner_text()
    assert "Hẹn trả kết quả:" in trail and "appointment" not in trail  # the details in Vietnamese too
    # The page lists who read the dossier's personal data, this read included.
    reads = page.locator("#reads-table tbody tr").filter(has_text=AUDITOR)
    await expect(reads).to_have_count(1)
    await expect(reads).to_contain_text("Bàn làm việc")
    await expect(reads).to_contain_text("Kiểm tra viên")
    await screenshot(page, desk_stack, "audit-trail")
    recorded = await desk_stack.pool.fetch(
        "SELECT subject, channel, operation FROM personal_data_reads WHERE dossier_code = $1", code)
    assert [tuple(r) for r in recorded] == [(AUDITOR, "desk", "audit_trail")]

    await page.get_by_role("link", name="Phát lại lịch sử và kiểm tra tính xác định").click()
    await expect(page.get_by_role("status")).to_contain_text("Phát lại khớp với mã nguồn hiện hành")
    replayed = await page.locator("main").inner_text()
    assert "Nộp hồ sơ" in replayed and "Hẹn trả kết quả:" in replayed
    assert "submitted" not in replayed and "appointment" not in replayed and ", unit " not in replayed
    await page.get_by_role("link", name="Kiểm tra hồ sơ").click()
    await expect(page.get_by_role("heading", name="Tra cứu hồ sơ đã kết thúc")).to_be_visible()
    await screenshot(page, desk_stack, "audit-search")
