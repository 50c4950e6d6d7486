"""CT05 as a checklist, on the time-skipping test server: the clock stops at the request, stays stopped while
items are answered one by one, and runs again by itself when the last item arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from domain.attachments import AttachmentKind
from domain.kinds import DocumentKind
from domain.models import (
    AttachmentRef,
    ChecklistAnswer,
    ChecklistItem,
    DecisionKind,
    DossierState,
    Supplement,
    TrailAction,
)
from tests.factories import Desk, attachment, procedure_desk
from tests.integration.test_procedures import pdf_text, temporary_deletion

CHECKLIST = (
    ChecklistItem(item="Trích lục khai tử của người đề nghị xóa đăng ký", legal_basis="Luật Cư trú 2020, Điều 29",
                  accepted_kinds=(AttachmentKind.DEATH_CERTIFICATE,)),
    ChecklistItem(item="Văn bản chấm dứt hợp đồng thuê nhà", legal_basis="Nghị định 154/2024/NĐ-CP, Điều 9",
                  accepted_kinds=(AttachmentKind.COURT_DECISION, AttachmentKind.OTHER)),
)


@pytest.fixture(scope="module")
async def desk(database_url: str, pool: asyncpg.Pool, tmp_root: Path) -> AsyncIterator[Desk]:
    async with procedure_desk(database_url, pool, tmp_root / "documents") as running:
        yield running


def answer(item: int, kind: AttachmentKind) -> Supplement:
    return Supplement(answers=(ChecklistAnswer(item=item, attachment=AttachmentRef.model_validate(
        attachment(kind.value))),))


async def test_the_clock_resumes_by_itself_when_the_last_item_arrives(desk: Desk, pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        case = await temporary_deletion(conn, await desk.now())
    await desk.start(case.raw)
    before = await desk.wait_state(case.code, DossierState.AWAITING_DECISION)
    await desk.decide(case.code, DecisionKind.REQUEST_SUPPLEMENT, missing_items=tuple(i.item for i in CHECKLIST),
                      checklist=CHECKLIST)
    waiting = await desk.wait_state(case.code, DossierState.AWAITING_SUPPLEMENT)
    assert [entry.answer for entry in waiting.checklist] == [None, None]
    ct05 = await pdf_text(pool, case.code, DocumentKind.CT05)
    assert "Căn cứ: Luật Cư trú 2020, Điều 29" in ct05 and "Trích lục khai tử, giấy báo tử" in ct05

    handle = desk.env.client.get_workflow_handle(case.code)
    await handle.signal("supplement", answer(0, AttachmentKind.DEATH_CERTIFICATE))
    await handle.signal("supplement", answer(1, AttachmentKind.DEATH_CERTIFICATE))  # not a kind item 1 takes
    await desk.sleep(timedelta(seconds=20))  # FAST: 60 s to supplement
    partly = await desk.status(case.code)
    assert partly.state == DossierState.AWAITING_SUPPLEMENT  # the clock stays stopped: item 1 is still missing
    assert [entry.answer is not None for entry in partly.checklist] == [True, False]

    await handle.signal("supplement", answer(1, AttachmentKind.OTHER))
    resumed = await desk.wait_state(case.code, DossierState.AWAITING_DECISION)
    assert resumed.checklist == ()
    supplemented = [entry for entry in resumed.trail if entry.action == TrailAction.SUPPLEMENTED]
    assert len(supplemented) == 1 and "Văn bản chấm dứt hợp đồng thuê nhà: other.pdf" in supplemented[0].detail
    assert supplemented[0].at >= partly.trail[-1].at + timedelta(seconds=20)
    assert resumed.deadline is not None and before.deadline is not None and resumed.deadline >= before.deadline
    await desk.approve(case.code)
    assert (await desk.result(case.code)).state == DossierState.COMPLETED
