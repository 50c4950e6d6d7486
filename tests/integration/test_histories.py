"""Recorded histories of every procedure replay against the current code, so that an incompatible change to a
workflow fails the suite before it can break running dossiers.

To re-record (after an intended, patched change): ``CUTRU_RECORD_HISTORIES=1 make test`` rewrites
``tests/histories/`` from the scenarios below; commit the files.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio.worker import Replayer

from cutru.clients.audit import load_history, replay_many
from cutru.platform.codec import replay_converter
from cutru.platform.signing import new_token_id, sign_now
from domain.attachments import AttachmentKind
from domain.calendar import local_date
from domain.kinds import Procedure
from domain.models import (
    AttachmentRef,
    ChecklistAnswer,
    Closure,
    DecisionKind,
    DossierState,
    OfficerDecision,
    SignOffKind,
    Supplement,
    TrailAction,
    Withdrawal,
)
from domain.procedures.deletion import CitizenFiling
from tests.factories import (
    DECISION_KEYS,
    PAYLOAD_KEYS,
    Desk,
    attachment,
    dossier_code,
    new_person,
    new_place,
    procedure_desk,
    registration,
    unit_id,
)
from tests.integration.test_procedures import HAPPY, Case, build, complete, temporary_deletion
from tests.integration.test_supplement_checklist import CHECKLIST as CHECKLIST_ITEMS
from workflows.procedures import ALL_WORKFLOWS
from workflows.sandbox import workflow_runner

HISTORY_DIR = Path(__file__).resolve().parent.parent / "histories"
RECORDING = bool(os.environ.get("CUTRU_RECORD_HISTORIES"))


async def permanent_registration(conn: asyncpg.Connection, now: datetime) -> Case:
    person = await new_person(conn)
    place = await new_place(conn, owner_id=person.personal_id)
    return Case(raw=registration(person, place) | {"received_at": now.isoformat()})


SCENARIOS = {Procedure.PERMANENT_RESIDENCE_REGISTRATION: permanent_registration, **HAPPY}
# The label of the history recorded by a supplement round and a polled fee, timings from the worker.
SUPPLEMENTED = f"{Procedure.PERMANENT_RESIDENCE_REGISTRATION.value}-supplemented-worker-timings"
# The checked messages (workflow.patched signed-decisions, checked-withdrawal, checked-citizen-filing).
CHECKED_MESSAGES = f"{Procedure.PERMANENT_RESIDENCE_REGISTRATION.value}-checked-messages"
CHECKED_FILING = f"{Procedure.TEMPORARY_RESIDENCE_DELETION.value}-checked-filing"
# The head's sign-off (workflow.patched head-sign-off): a proposal returned, proposed again, signed.
HEAD_SIGN_OFF = f"{Procedure.PERMANENT_RESIDENCE_REGISTRATION.value}-head-sign-off"
# A CT05 checklist answered item by item (workflow.patched supplement-checklist).
CHECKLIST = f"{Procedure.TEMPORARY_RESIDENCE_DELETION.value}-supplement-checklist"
# An operator's close while the fee waits (workflow.patched close-with-reason): the order cancelled at the gateway.
CLOSED = f"{Procedure.PERMANENT_RESIDENCE_REGISTRATION.value}-closed-by-operator"


@pytest.fixture(scope="module")
async def desk(database_url: str, pool: asyncpg.Pool, tmp_root: Path) -> AsyncIterator[Desk]:
    async with procedure_desk(database_url, pool, tmp_root / "documents") as running:
        yield running


async def test_every_procedure_completes_and_refuses(desk: Desk):
    """The scenarios behind the recorded histories: one completed and one refused dossier per procedure."""
    for procedure, builder in SCENARIOS.items():
        happy = await build(desk, builder)
        assert (await complete(desk, happy)).state == DossierState.COMPLETED, procedure
        refused = await build(desk, builder)
        refused.raw["applicant"]["full_name"] += " Anh"  # not the name in the population database
        assert (await (await desk.start(refused.raw)).result()).state == DossierState.REFUSED, procedure
        if RECORDING:
            for case, label in ((happy, "completed"), (refused, "refused")):
                history = await desk.env.client.get_workflow_handle(case.code).fetch_history()
                (HISTORY_DIR / f"{case.code}@{procedure.value}-{label}.json").write_text(history.to_json())


async def test_a_dossier_through_a_supplement_round_and_a_fee_poll(desk: Desk):
    """The scenario behind the history of the worker's timings (returned by ``accept_dossier``, not carried in the
    submission): a supplement round, then a fee that the gateway confirms only after a poll or two."""
    case = await build(desk, permanent_registration)
    code = case.code
    await desk.start(case.raw)
    await desk.decide(code, DecisionKind.REQUEST_SUPPLEMENT, missing_items=("Giấy chứng nhận quyền sở hữu nhà",))
    await desk.wait_state(code, DossierState.AWAITING_SUPPLEMENT)
    await desk.dossiers.supplement(code, Supplement(provided_items=("Giấy chứng nhận quyền sở hữu nhà",)))
    await desk.approve(code)
    await desk.wait_state(code, DossierState.AWAITING_PAYMENT)
    # FAST polls the gateway every second: two polls, in the test server's time, skipped.
    await desk.sleep(timedelta(seconds=2.5))
    await desk.pay(code)
    await desk.wait_state(code, DossierState.COMPLETED)
    assert (await desk.result(code)).state == DossierState.COMPLETED
    trail = [entry.action for entry in (await desk.status(code)).trail]
    assert trail == [TrailAction.RECEIVED, TrailAction.ACCEPTED, TrailAction.SUPPLEMENT_REQUESTED,
                     TrailAction.SUPPLEMENTED, TrailAction.PROPOSED, TrailAction.SIGNED_OFF, TrailAction.FEE_PAID,
                     TrailAction.COMPLETED]
    if RECORDING:
        history = await desk.env.client.get_workflow_handle(code).fetch_history()
        (HISTORY_DIR / f"{code}@{SUPPLEMENTED}.json").write_text(history.to_json())


async def trail_holds(desk: Desk, code: str, action: TrailAction, count: int = 1) -> None:
    for _ in range(400):
        if [e.action for e in (await desk.status(code)).trail].count(action) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{code}: never {count} × {action.value}")


async def test_checked_decision_signals_and_withdrawals(desk: Desk):
    """The scenario behind the history of the checked messages: an unsigned decision signal refused, a signed one
    taken, a withdrawal by someone else refused, the applicant's taken."""
    case = await build(desk, permanent_registration)
    code = case.code
    await desk.start(case.raw)
    officer = (await desk.wait_state(code, DossierState.AWAITING_DECISION)).assigned_officer or "CB-00070-01"
    request = OfficerDecision(officer_id=officer, decision=DecisionKind.REQUEST_SUPPLEMENT,
                              missing_items=("Giấy chứng nhận quyền sở hữu nhà",))
    handle = desk.dossiers.handle(code)
    await handle.signal("officer_decision", request.model_dump(mode="json"))
    await trail_holds(desk, code, TrailAction.DECISION_REFUSED)
    await handle.signal("officer_decision", (await desk.signed(code, request)).model_dump(mode="json"))
    await desk.wait_state(code, DossierState.AWAITING_SUPPLEMENT)
    await desk.dossiers.withdraw(code, Withdrawal(reason="Đổi ý", applicant_id=unit_id()))
    await trail_holds(desk, code, TrailAction.WITHDRAWAL_REFUSED)
    await desk.dossiers.withdraw(code, Withdrawal(reason="Đổi ý", applicant_id=case.raw["applicant"]["personal_id"]))
    assert (await desk.result(code)).state == DossierState.WITHDRAWN
    assert [e.action for e in (await desk.status(code)).trail] == [
        TrailAction.RECEIVED, TrailAction.ACCEPTED, TrailAction.DECISION_REFUSED, TrailAction.SUPPLEMENT_REQUESTED,
        TrailAction.WITHDRAWAL_REFUSED, TrailAction.WITHDRAWN]
    if RECORDING:
        history = await desk.env.client.get_workflow_handle(code).fetch_history()
        (HISTORY_DIR / f"{code}@{CHECKED_MESSAGES}.json").write_text(history.to_json())


async def test_a_notice_cancelled_by_a_checked_filing(desk: Desk):
    """The scenario behind the history of a checked ``citizen_filed``: a made-up code refused, the person's own
    deletion taken."""
    case = await build(desk, temporary_deletion)
    now = await desk.now()
    notice = {**case.raw, "dossier_code": dossier_code(), "details": {**case.raw["details"], "police_notice": {
        "notice_number": "15/TB-CAP", "notified_on": local_date(now).isoformat(), "officer_id": "CB-00070-01"}}}
    code = notice["dossier_code"]
    await desk.start(notice)
    await desk.wait_state(code, DossierState.AWAITING_FILING)
    await desk.start(case.raw)
    await desk.wait_state(case.code, DossierState.AWAITING_DECISION)  # in the read model
    handle = desk.dossiers.handle(code)
    await handle.signal("citizen_filed", CitizenFiling(dossier_code="HS-MADE-UP-000001"))
    await trail_holds(desk, code, TrailAction.FILING_REFUSED)
    await desk.dossiers.citizen_filed(code, CitizenFiling(dossier_code=case.code))
    assert (await desk.result(code)).state == DossierState.CANCELLED
    if RECORDING:
        history = await desk.env.client.get_workflow_handle(code).fetch_history()
        (HISTORY_DIR / f"{code}@{CHECKED_FILING}.json").write_text(history.to_json())


async def test_a_proposal_returned_then_signed(desk: Desk):
    """The scenario behind the history of the head's sign-off: the officer's approval returned by the head with a
    reason, approved again, signed, paid."""
    case = await build(desk, permanent_registration)
    code = case.code
    await desk.start(case.raw)
    await desk.decide(code, DecisionKind.APPROVE)
    await desk.sign_off(code, SignOffKind.RETURN, reason="Cần xác minh lại diện tích nhà ở")
    await desk.approve(code)
    await desk.pay(code)
    assert (await desk.result(code)).state == DossierState.COMPLETED
    assert [e.action for e in (await desk.status(code)).trail] == [
        TrailAction.RECEIVED, TrailAction.ACCEPTED, TrailAction.PROPOSED, TrailAction.RETURNED, TrailAction.PROPOSED,
        TrailAction.SIGNED_OFF, TrailAction.FEE_PAID, TrailAction.COMPLETED]
    if RECORDING:
        history = await desk.env.client.get_workflow_handle(code).fetch_history()
        (HISTORY_DIR / f"{code}@{HEAD_SIGN_OFF}.json").write_text(history.to_json())


async def test_a_supplement_checklist_answered_item_by_item(desk: Desk):
    """The scenario behind the history of a CT05 checklist: two items, answered in two signals."""
    case = await build(desk, temporary_deletion)
    code = case.code
    await desk.start(case.raw)
    await desk.decide(code, DecisionKind.REQUEST_SUPPLEMENT, missing_items=tuple(i.item for i in CHECKLIST_ITEMS),
                      checklist=CHECKLIST_ITEMS)
    await desk.wait_state(code, DossierState.AWAITING_SUPPLEMENT)
    for item, kind in enumerate((AttachmentKind.DEATH_CERTIFICATE, AttachmentKind.OTHER)):
        paper = AttachmentRef.model_validate(attachment(kind.value))
        await desk.dossiers.supplement(code, Supplement(answers=(ChecklistAnswer(item=item, attachment=paper),)))
    await desk.approve(code)
    assert (await desk.result(code)).state == DossierState.COMPLETED
    if RECORDING:
        history = await desk.env.client.get_workflow_handle(code).fetch_history()
        (HISTORY_DIR / f"{code}@{CHECKLIST}.json").write_text(history.to_json())


async def test_an_operator_closes_a_dossier_waiting_for_its_fee(desk: Desk):
    """The scenario behind the history of an operator's close: approved, the fee requested, closed with a reason
    before it is paid; the order is cancelled at the gateway, so the citizen can no longer pay it."""
    case = await build(desk, permanent_registration)
    code = case.code
    await desk.start(case.raw)
    await desk.approve(code)
    await desk.wait_state(code, DossierState.AWAITING_PAYMENT)
    closure = Closure(operator_id="ops-on-call", reason="Hồ sơ nộp nhầm đơn vị, công dân nộp lại")
    closed = await desk.dossiers.close(code, sign_now(DECISION_KEYS, closure, code, new_token_id(),
                                                              now=await desk.now()))
    assert closed.state == DossierState.CANCELLED
    assert closed.trail[-1].actor == "ops-on-call" and closed.trail[-1].detail == f"closed: {closure.reason}"
    assert await desk.pool.fetchval("SELECT status FROM payments WHERE dossier_code = $1", code) == "cancelled"
    if RECORDING:
        history = await desk.env.client.get_workflow_handle(code).fetch_history()
        (HISTORY_DIR / f"{code}@{CLOSED}.json").write_text(history.to_json())


async def test_recorded_histories_replay_against_the_current_code():
    files = sorted(HISTORY_DIR.glob("*.json"))
    labels = {path.stem.split("@")[1] for path in files}
    expected = {f"{p.value}-{outcome}" for p in Procedure for outcome in ("completed", "refused")} | {
        SUPPLEMENTED, CHECKED_MESSAGES, CHECKED_FILING, HEAD_SIGN_OFF, CHECKLIST, CLOSED}
    assert expected <= labels, f"missing recorded histories: {sorted(expected - labels)}"
    summary, reports = await replay_many((load_history(p) for p in files), replay_converter(PAYLOAD_KEYS))
    failures = [f"{r.workflow_id}: {r.failure}" for r in reports if not r.deterministic]
    assert summary.ok == summary.replayed == len(files), failures


async def test_recorded_histories_replay_with_the_workers_runner_too():
    """The worker runs workflow code without the sandbox (fast); the audit replay above re-imports it in the
    sandbox (strict). Both must accept every recorded history."""
    replayer = Replayer(workflows=list(ALL_WORKFLOWS), data_converter=replay_converter(PAYLOAD_KEYS),
                        workflow_runner=workflow_runner())
    for path in sorted(HISTORY_DIR.glob("*.json")):
        await replayer.replay_workflow(load_history(path))
