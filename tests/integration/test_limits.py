"""Temporal's limits: a long-lived dossier's history, and the size of every payload.

Temporal terminates a workflow whose history passes 50,000 events or 50 MB (it warns from 10,000 events / 10 MB)
and refuses any payload over 2 MB. A dossier can live for months (a supplement round may last 30 days, the fee 3
days, reminders and escalation come on their own), so its history must stay far below the warning levels, and
documents are stored by reference (path + SHA-256 in PostgreSQL), never inside payloads.

On the time-skipping test server with a real worker and the real database: one dossier goes through reminders and
escalation, 30 supplement rounds and two days of fee polling at the production interval; the test measures events
per round and per poll and projects the worst cases. A refused dossier made of huge strings must not echo them.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.payment import LocalPaymentGateway
from cutru.platform.codec import data_converter
from cutru.platform.config import SEARCH_ATTRIBUTES, Settings
from cutru.platform.signing import new_token_id, sign_now
from domain.models import (
    DecisionKind,
    DossierState,
    DossierStatus,
    OfficerDecision,
    PaymentConfirmation,
    SignOff,
    SignOffKind,
    Supplement,
)
from tests.factories import DECISION_KEYS, PAYLOAD_KEYS, new_person, new_place, registration, unit_head
from worker import build_worker
from workflows.lifecycle import DossierLifecycle

pytestmark = pytest.mark.timeout(240)

EVENT_LIMIT, EVENT_WARNING = 50_000, 10_000
SIZE_LIMIT, SIZE_WARNING = 50 * 2**20, 10 * 2**20
PAYLOAD_LIMIT = 2 * 2**20
SMALL_PAYLOAD = 64 * 2**10
ROUNDS = 30
_INDEXED = {"Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
            "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
            "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL}


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=data_converter(PAYLOAD_KEYS))
    try:
        # The test server refuses unknown search attributes, as a real server does.
        await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={name: _INDEXED[kind] for name, kind in SEARCH_ATTRIBUTES.items()}))
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def task_queue(env: WorkflowEnvironment, database_url: str, pool: asyncpg.Pool,
                     tmp_root: Path) -> AsyncIterator[str]:
    # The production timings (the default): 3-day fee window polled every 10 minutes, 30-day supplement rounds.
    settings = Settings(task_queue=f"tq-limits-{uuid.uuid4().hex[:8]}", database_url=database_url,
                        document_dir=tmp_root / "documents")
    async with build_worker(env.client, settings, pool):
        yield settings.task_queue


def _payloads(message: Message) -> Iterator[Payload]:
    """Every payload inside a protobuf message (event attributes nest them at various depths)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            yield from _payloads(value)
            continue
        items = value.values() if hasattr(value, "items") else value  # a map, or a repeated field
        for item in items:
            if isinstance(item, Message):
                yield from _payloads(item)


class HistoryMeasure:
    def __init__(self, events: list[HistoryEvent]) -> None:
        self.events = len(events)
        self.size = sum(e.ByteSize() for e in events)
        sized = [(p.ByteSize(), EventType.Name(e.event_type)) for e in events for p in _payloads(e)]
        self.largest_payload, self.largest_event_type = max(sized, default=(0, "none"))
        self.produced = [(p.ByteSize(), e.event_type) for e in events for p in _payloads(e)
                         if e.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]

    @property
    def largest_produced(self) -> int:
        """The largest payload the workflow and its activities wrote (the start input excluded)."""
        return max((size for size, _ in self.produced), default=0)


async def _measure(handle: WorkflowHandle[Any, Any]) -> HistoryMeasure:
    return HistoryMeasure([event async for event in handle.fetch_history_events()])


async def _until(handle: WorkflowHandle[Any, Any], check: Callable[[DossierStatus], bool],
                 timeout: float = 30.0) -> DossierStatus:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = await handle.query(DossierLifecycle.status)
        if check(status):
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"dossier stayed {status.state.value}")
        await asyncio.sleep(0.05)


async def test_a_long_dossier_stays_far_below_the_history_limits(
        env: WorkflowEnvironment, task_queue: str, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = registration(person, place)
    submission["received_at"] = (await env.get_current_time()).isoformat()
    code = submission["dossier_code"]
    handle = await env.client.start_workflow("PermanentResidenceRegistration", submission, id=code,
                                             task_queue=task_queue)
    waiting = await _until(handle, lambda s: s.state == DossierState.AWAITING_DECISION)
    officer = waiting.assigned_officer or "CB-00070-01"
    accepted = await _measure(handle)

    # Nobody decides: the reminder, then the escalation when the deadline passes.
    await env.sleep(timedelta(days=20))
    overdue = await _until(handle, lambda s: s.overdue)
    assert {"reminder_sent", "escalated"} <= {e.action for e in overdue.trail}
    escalated = await _measure(handle)

    async def signed(decision: OfficerDecision) -> OfficerDecision:  # at the test server's time, ahead of ours
        return sign_now(DECISION_KEYS, decision, code, new_token_id(), now=await env.get_current_time())

    for _ in range(ROUNDS):
        await handle.execute_update(DossierLifecycle.decide, await signed(OfficerDecision(
            officer_id=officer, decision=DecisionKind.REQUEST_SUPPLEMENT, missing_items=("Giấy tờ chỗ ở hợp pháp",))))
        await _until(handle, lambda s: s.state == DossierState.AWAITING_SUPPLEMENT)
        await env.sleep(timedelta(days=2))  # the citizen takes two days; the clock is stopped meanwhile
        await handle.signal(DossierLifecycle.supplement, Supplement(provided_items=("Giấy tờ chỗ ở hợp pháp",)))
        await _until(handle, lambda s: s.state == DossierState.AWAITING_DECISION)
    rounds = await _measure(handle)

    await handle.execute_update(DossierLifecycle.decide, await signed(OfficerDecision(
        officer_id=officer, decision=DecisionKind.APPROVE)))
    await _until(handle, lambda s: s.state == DossierState.AWAITING_SIGN_OFF)
    head = await unit_head(pool, "CA-00070")
    await handle.execute_update(DossierLifecycle.sign_off, sign_now(
        DECISION_KEYS, SignOff(signer=head, decision=SignOffKind.SIGN), code, new_token_id(),
        now=await env.get_current_time()))
    await _until(handle, lambda s: s.state == DossierState.AWAITING_PAYMENT)
    unpaid = await _measure(handle)
    await env.sleep(timedelta(days=2))  # two days unpaid: polled every 10 minutes
    polled = await _measure(handle)
    polls = (polled.events - unpaid.events)
    order = await LocalPaymentGateway(pool).pay(code)
    await handle.signal(DossierLifecycle.payment_confirmed,
                        PaymentConfirmation(order_id=order.order_id, amount_vnd=order.amount_vnd))
    outcome = await handle.result()
    assert outcome["state"] == DossierState.COMPLETED.value
    final = await _measure(handle)

    per_round = (rounds.events - escalated.events) / ROUNDS
    per_poll = polls / (2 * 24 * 6)
    fee_window = per_poll * 3 * 24 * 6  # the whole 3-day fee window unpaid
    worst_default = escalated.events + ROUNDS * per_round + fee_window + (final.events - polled.events)
    print(f"\nhistory: accepted {accepted.events} events; reminder+escalation +{escalated.events - accepted.events}; "
          f"{per_round:.1f} events per supplement round; {per_poll:.2f} events per fee poll "
          f"({fee_window:.0f} for an unpaid 3-day window); final {final.events} events, {final.size:,} bytes; "
          f"largest payload {final.largest_payload:,} bytes; rounds to the 10k warning: "
          f"{(EVENT_WARNING - fee_window - escalated.events) / per_round:.0f}, to the 50k limit: "
          f"{(EVENT_LIMIT - fee_window - escalated.events) / per_round:.0f}; worst case with the default timings "
          f"(escalated, {ROUNDS} rounds, the fee window unpaid to its end): {worst_default:.0f} events; a 30-day "
          f"fee window would alone make {per_poll * 30 * 24 * 6:.0f}")
    assert final.events < EVENT_WARNING / 2 and final.size < SIZE_WARNING / 10
    assert per_round <= 50, f"{per_round} events per supplement round"
    assert worst_default < EVENT_WARNING, f"{worst_default:.0f} events with the default timings"
    assert final.largest_payload < SMALL_PAYLOAD, (
        f"largest payload {final.largest_payload:,} bytes in {final.largest_event_type}")


async def test_a_refused_dossier_of_huge_strings_does_not_echo_them(env: WorkflowEnvironment, task_queue: str) -> None:
    """1.5 MB of input (below the 2 MB payload limit): the refusal must name the fields, not repeat them."""
    code = f"HS-HUGE-{uuid.uuid4().hex[:8].upper()}"
    raw: dict[str, Any] = {
        "procedure": "PermanentResidenceRegistration", "dossier_code": code,
        "received_at": (await env.get_current_time()).isoformat(),
        "applicant": {"personal_id": "1" * 12, "full_name": "Ệ" * 200_000, "birth_date": "1990-01-01",
                      "sex": "female"},
        "police_unit": "CA-00070", "declaration_truthful": True,
        "delivery": {"method": "electronic", "destination": "x" * 300_000},
        "details": {"basis": "own_residence", "residence": {"province_code": "01", "commune_code": "00070",
                                                            "address_line": "'; DROP TABLE people; --" * 10_000}},
        "k" * 150_000: "unknown field with a long name",
        "consents": [{"role": "owner", "authority_name": "y" * 1_000} for _ in range(5)],
    }
    handle = await env.client.start_workflow("PermanentResidenceRegistration", raw, id=code, task_queue=task_queue)
    outcome = await handle.result()
    assert outcome["state"] == DossierState.REFUSED.value
    measure = await _measure(handle)
    print(f"\nrefused huge dossier: input {measure.largest_payload:,} bytes, largest payload written afterwards "
          f"{measure.largest_produced:,} bytes, {measure.events} events")
    assert measure.largest_payload < PAYLOAD_LIMIT
    assert measure.largest_produced < SMALL_PAYLOAD, (
        f"the refusal echoes the input: a {measure.largest_produced:,}-byte payload after the start")
