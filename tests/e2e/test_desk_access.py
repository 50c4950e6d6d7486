"""The desk for everyone on the team (WCAG 2.1 AA basics): Vietnamese as the page language, a skip link first in
the keyboard order, a label on every control, a visible focus ring, no sideways scrolling at 1366×768 nor on a
tablet."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.desk import OFFICER, TABLET, DeskStack, screenshot, sign_in, submitted_dossier

UNLABELLED = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(control => control.labels.length === 0).map(control => control.name)"""
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
FOCUS_RING = "(style => `${style.outlineStyle} ${style.outlineWidth}`)(getComputedStyle(document.activeElement))"


async def test_every_control_is_labelled_and_reached_by_keyboard_with_a_visible_focus(
        page: Page, desk_stack: DeskStack):
    code = await submitted_dossier(desk_stack)
    await sign_in(page, desk_stack, OFFICER)
    for path in ("/desk/queue", f"/desk/dossiers/{code}"):
        await page.goto(desk_stack.url(path))
        assert await page.get_attribute("html", "lang") == "vi"
        assert await page.evaluate(UNLABELLED) == [], path
        assert await page.evaluate(OVERFLOW) <= 0, path

        await page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Bỏ qua, tới nội dung chính")
        await expect(skip).to_be_focused()
        assert await page.evaluate(FOCUS_RING) == "solid 3px"
        await page.keyboard.press("Enter")
        await expect(page.locator("main")).to_be_focused()

    # From the search box, the keyboard goes through the filters in the order they read.
    await page.goto(desk_stack.url("/desk/queue"))
    await page.get_by_label("Tìm theo mã hồ sơ hoặc tên người nộp").focus()
    order = []
    for _ in range(4):
        await page.keyboard.press("Tab")
        order.append(await page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
    assert order == ["procedure", "state", "mine", "Lọc"]
    assert await page.evaluate(FOCUS_RING) == "solid 3px"


async def test_the_pages_fit_a_tablet(page: Page, desk_stack: DeskStack):
    code = await submitted_dossier(desk_stack)
    await page.set_viewport_size(TABLET)
    await sign_in(page, desk_stack, OFFICER)
    assert await page.evaluate(OVERFLOW) <= 0
    await screenshot(page, desk_stack, "queue-tablet")
    await page.goto(desk_stack.url(f"/desk/dossiers/{code}"))
    assert await page.evaluate(OVERFLOW) <= 0
    await screenshot(page, desk_stack, "dossier-tablet")
