"""What the metrics interceptor counts for each activity outcome, without a server.

The activity context comes from ``ActivityEnvironment``; the "next" interceptor stands in for the SDK's activity
executor. Export through the SDK's Prometheus endpoint is covered by tests/integration/test_metrics.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.common import MetricMeter
from temporalio.testing import ActivityEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from activities.contracts import (
    CLOSING_KEY,
    AuditRecord,
    DeliveryRequest,
    DocumentRequest,
    IdentityCheck,
    ImmediateCheck,
    ImmediateResult,
)
from cutru.platform.metrics import BusinessMetrics, MetricsInterceptor
from domain.kinds import DocumentKind, Procedure
from domain.models import DossierState, Refusal, TrailAction, TrailEntry

REGISTRATION = Procedure.PERMANENT_RESIDENCE_REGISTRATION
STAY = Procedure.STAY_NOTIFICATION


class Recorder(BusinessMetrics):
    """Records what would be exported, as (call, label values, amount)."""

    def __init__(self) -> None:
        super().__init__(MetricMeter.noop)
        self.calls: list[tuple[str, tuple[str, ...], int]] = []

    def dossier_started(self, procedure: Any) -> None:
        self.calls.append(("started", (str(procedure),), 1))

    def dossier_finished(self, procedure: Any, status: Any) -> None:
        self.calls.append(("finished", (str(procedure), str(status)), 1))

    def fee_collected(self, procedure: Any, amount_vnd: int) -> None:
        self.calls.append(("fee", (str(procedure),), amount_vnd))

    def activity_failed(self, activity_type: str) -> None:
        self.calls.append(("failed", (activity_type,), 1))


class FakeExecutor(ActivityInboundInterceptor):
    """The end of the chain: returns ``result`` or raises ``error`` as the activity would."""

    def __init__(self, result: Any = None, error: BaseException | None = None) -> None:
        self._result = result
        self._error = error

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        if self._error is not None:
            raise self._error
        return self._result


async def run_activity(
    activity_type: str, args: Sequence[Any], *, result: Any = None, error: BaseException | None = None,
    workflow_type: Procedure = REGISTRATION,
) -> tuple[Recorder, Any, BaseException | None]:
    """Run one attempt of a dossier workflow's activity through the interceptor; return what was recorded, the
    result and what was raised."""
    recorder = Recorder()
    chain = MetricsInterceptor(recorder).intercept_activity(FakeExecutor(result, error))
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type=activity_type, workflow_type=workflow_type.value)
    request = ExecuteActivityInput(fn=lambda *_: None, args=args, executor=None, headers={})
    try:
        outcome = await env.run(chain.execute_activity, request)
    except BaseException as raised:  # CancelledError included: the cancellation test needs it
        return recorder, None, raised
    return recorder, outcome, None


def entry(action: TrailAction, key: str = "0000") -> AuditRecord:
    return AuditRecord(dossier_code="HS-1", event_key=CLOSING_KEY if action.closes else f"{key}-{action.value}",
                       entry=TrailEntry(at=datetime.now(UTC), actor="system", action=action))


def identity_check() -> IdentityCheck:
    # model_construct: only the trail entries are read, and a valid header needs a whole dossier.
    return IdentityCheck.model_construct(dossier=SimpleNamespace(), deadline=None,
                                         audit=(entry(TrailAction.RECEIVED),))


def delivery(state: DossierState, fee: int) -> DeliveryRequest:
    return DeliveryRequest(
        final_state=state,
        result=DocumentRequest(dossier_code="HS-1", procedure=REGISTRATION, kinds=(DocumentKind.CT08,),
                               paper=None),
        fee_paid_vnd=fee,
        audit=(entry(TrailAction.APPROVED, "0002"), entry(TrailAction.closing(state))),
    )


async def test_identity_validated_counts_a_started_dossier() -> None:
    recorder, outcome, _ = await run_activity("validate_identity", [identity_check()], result="ok")
    assert outcome == "ok"
    assert recorder.calls == [("started", ("PermanentResidenceRegistration",), 1)]


async def test_completed_delivery_counts_finished_and_fee() -> None:
    recorder, _, _ = await run_activity("deliver_result", [delivery(DossierState.COMPLETED, 10_000)])
    assert recorder.calls == [
        ("finished", ("PermanentResidenceRegistration", "completed"), 1),
        ("fee", ("PermanentResidenceRegistration",), 10_000),
    ]


@pytest.mark.parametrize("state", [DossierState.REFUSED, DossierState.CANCELLED, DossierState.WITHDRAWN])
async def test_other_final_states_count_no_fee(state: DossierState) -> None:
    recorder, _, _ = await run_activity("deliver_result", [delivery(state, 0)])
    assert recorder.calls == [("finished", ("PermanentResidenceRegistration", state.value), 1)]


@pytest.mark.parametrize(
    ("refusals", "status"),
    [((), "completed"), ((Refusal(code="barred_place", message="x"),), "refused")],
)
async def test_immediate_acceptance_starts_and_finishes(refusals: tuple[Refusal, ...], status: str) -> None:
    check = ImmediateCheck.model_construct(submission=SimpleNamespace(), audit=(entry(TrailAction.RECEIVED),))
    recorder, _, _ = await run_activity("accept_immediately", [check], result=ImmediateResult(refusals=refusals),
                                        workflow_type=STAY)
    assert recorder.calls == [("started", ("StayNotification",), 1), ("finished", ("StayNotification", status), 1)]


async def test_a_raising_attempt_is_counted_and_reraised() -> None:
    error = RuntimeError("police unit CA-99999 has no roster")
    recorder, _, raised = await run_activity("accept_dossier", [], error=error)
    assert raised is error
    assert recorder.calls == [("failed", ("accept_dossier",), 1)]


async def test_a_failed_delivery_counts_no_finished_dossier() -> None:
    recorder, _, raised = await run_activity(
        "deliver_result", [delivery(DossierState.COMPLETED, 10_000)], error=ConnectionResetError()
    )
    assert isinstance(raised, ConnectionResetError)
    assert recorder.calls == [("failed", ("deliver_result",), 1)]


async def test_cancellation_is_not_a_failure() -> None:
    recorder, _, raised = await run_activity("check_payment", [], error=asyncio.CancelledError())
    assert isinstance(raised, asyncio.CancelledError)
    assert recorder.calls == []


async def test_an_unexpected_argument_is_neither_counted_nor_failed() -> None:
    recorder, outcome, raised = await run_activity("deliver_result", [{"final_state": "completed"}], result="rcpt")
    assert (outcome, raised) == ("rcpt", None)
    assert recorder.calls == []


@pytest.mark.parametrize("name", ["validate_identity", "deliver_result", "record_event", "renamed_step"])
async def test_the_counts_follow_the_trail_entries_whatever_the_activity_is_named(name: str) -> None:
    """Renaming an activity, or moving a trail entry to another one, changes no count: the interceptor reads the
    typed entries an activity writes, never its name."""
    opened, _, _ = await run_activity(name, [identity_check()])
    assert opened.calls == [("started", ("PermanentResidenceRegistration",), 1)]
    closed, _, _ = await run_activity(name, [delivery(DossierState.COMPLETED, 10_000)])
    assert closed.calls == [("finished", ("PermanentResidenceRegistration", "completed"), 1),
                            ("fee", ("PermanentResidenceRegistration",), 10_000)]


async def test_a_delivery_scheduled_without_its_closing_entry_still_counts() -> None:
    """A request an older worker scheduled carries no closing entry: the one that worker wrote stands in for it."""
    request = delivery(DossierState.REFUSED, 0).model_copy(update={"audit": ()})
    recorder, _, _ = await run_activity("deliver_result", [request])
    assert recorder.calls == [("finished", ("PermanentResidenceRegistration", "refused"), 1)]
