"""The head's sign-off on the time-skipping server: an officer's approval is a proposal, the unit head signs it (the
result names the signer) or returns it (the officer decides again); the dossier refuses a sign-off from the
proposer, from another unit, or without the API's signature."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pypdf import PdfReader
from temporalio.client import WorkflowUpdateFailedError

from domain.models import (
    DecisionKind,
    DossierState,
    OfficerDecision,
    Position,
    Signer,
    SignOff,
    SignOffKind,
    TrailAction,
)
from tests.factories import Desk, procedure_desk, unit_head
from tests.integration.test_procedures import build, residence_confirmation
from workflows.lifecycle import SIGN_OFF_REFUSED


@pytest.fixture(scope="module")
async def desk(database_url: str, pool: asyncpg.Pool, tmp_root: Path) -> AsyncIterator[Desk]:
    async with procedure_desk(database_url, pool, tmp_root / "documents") as running:
        yield running


async def refusal(desk: Desk, code: str, sign_off: SignOff) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await desk.dossiers.sign_off(code, await desk.signed_sign_off(code, sign_off))
    cause = refused.value.cause
    assert getattr(cause, "type", None) == SIGN_OFF_REFUSED
    return str(cause)


async def proposed(desk: Desk) -> tuple[str, str]:
    """A residence confirmation (CT07) the officer approved: waiting for the head; its code and the proposer."""
    case = await build(desk, residence_confirmation)
    await desk.start(case.raw)
    await desk.decide(case.code, DecisionKind.APPROVE, reason="Đủ điều kiện xác nhận")
    status = await desk.wait_state(case.code, DossierState.AWAITING_SIGN_OFF)
    assert status.assigned_officer is not None
    return case.code, status.assigned_officer


async def test_the_head_signs_and_the_result_names_the_signer(desk: Desk) -> None:
    code, officer = await proposed(desk)
    head = await unit_head(desk.pool, "CA-00070")
    receipt = await desk.sign_off(code)
    assert receipt.decision == SignOffKind.SIGN
    outcome = await desk.result(code)
    assert outcome.state == DossierState.COMPLETED
    assert (outcome.decided_by, outcome.signed_by) == (officer, head)
    trail = (await desk.status(code)).trail
    assert [(e.actor, e.action) for e in trail if e.action in (TrailAction.PROPOSED, TrailAction.SIGNED_OFF)] == [
        (officer, TrailAction.PROPOSED), (head.officer_id, TrailAction.SIGNED_OFF)]
    assert TrailAction.APPROVED not in [e.action for e in trail]
    audited = await desk.pool.fetch("SELECT actor, action FROM audit_events WHERE dossier_code = $1"
                                    " AND action IN ('proposed', 'signed_off') ORDER BY event_key", code)
    assert [tuple(r) for r in audited] == [(officer, "proposed"), (head.officer_id, "signed_off")]
    path = await desk.pool.fetchval("SELECT path FROM documents WHERE dossier_code = $1 AND kind = 'CT07'", code)
    text = " ".join(PdfReader(io.BytesIO(Path(path).read_bytes())).pages[0].extract_text().split())
    assert f"TRƯỞNG CÔNG AN PHƯỜNG HOÀN KIẾM (Ký, ghi rõ họ tên, đóng dấu) {head.full_name}" in text
    assert officer not in text


async def test_a_returned_proposal_goes_back_to_the_officer(desk: Desk) -> None:
    code, officer = await proposed(desk)
    await desk.sign_off(code, SignOffKind.RETURN, reason="Thiếu xác minh nơi ở hiện tại")
    status = await desk.wait_state(code, DossierState.AWAITING_DECISION)
    returned = [e for e in status.trail if e.action == TrailAction.RETURNED]
    assert len(returned) == 1 and officer in returned[0].detail and "Thiếu xác minh" in returned[0].detail
    assert await desk.pool.fetchval("SELECT status FROM dossiers WHERE dossier_code = $1", code) \
        == "awaiting_decision"
    await desk.approve(code)  # proposed again, then signed
    assert (await desk.result(code)).state == DossierState.COMPLETED
    actions = [e.action for e in (await desk.status(code)).trail]
    assert actions.count(TrailAction.PROPOSED) == 2 and actions.count(TrailAction.SIGNED_OFF) == 1


async def test_the_dossier_refuses_a_sign_off_it_cannot_trust(desk: Desk) -> None:
    code, officer = await proposed(desk)
    head = await unit_head(desk.pool, "CA-00070")
    proposer = Signer(officer_id=officer, full_name="Người Đề Xuất", position=Position.DEPUTY_HEAD,
                      unit_code="CA-00070")
    assert "cannot sign" in await refusal(desk, code, SignOff(signer=proposer, decision=SignOffKind.SIGN))
    elsewhere = head.model_copy(update={"officer_id": "CB-00073-00", "unit_code": "CA-00073"})
    assert "not of CA-00070" in await refusal(desk, code, SignOff(signer=elsewhere, decision=SignOffKind.SIGN))
    # Straight to Temporal, past the API: not signed, so refused before it enters history.
    unsigned = SignOff(signer=head, decision=SignOffKind.SIGN)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await desk.dossiers.handle(code).execute_update("sign_off", unsigned)
    assert "not signed" in str(refused.value.cause)
    status = await desk.status(code)
    assert status.state == DossierState.AWAITING_SIGN_OFF
    assert TrailAction.SIGNED_OFF not in [e.action for e in status.trail]
    # While the proposal waits, the officer cannot decide again.
    with pytest.raises(WorkflowUpdateFailedError) as decided:
        await desk.dossiers.decide(code, await desk.signed(code, OfficerDecision(
            officer_id=officer, decision=DecisionKind.REJECT, reason="Đổi ý")))
    assert "not waiting for an officer's decision" in str(decided.value.cause)
    await desk.sign_off(code)
    assert (await desk.result(code)).signed_by == head

