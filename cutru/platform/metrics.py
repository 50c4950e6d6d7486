"""Business metrics of the dossiers, exported on the worker's Temporal SDK Prometheus endpoint.

One endpoint per worker serves both the SDK's own metrics (``temporal_*``) and cutru's (``cutru_*``), because
cutru's are created on the SDK runtime's metric meter rather than on a second registry and HTTP server.

=====================================  =======  ===================  ============================================
metric (as scraped)                    type     labels               counted when
=====================================  =======  ===================  ============================================
``cutru_dossiers_started_total``       counter  procedure            an activity writes a ``received`` trail
                                                                     entry, or records stays at once
``cutru_dossiers_finished_total``      counter  procedure, status    an activity writes a closing trail entry or
                                                                     decides at once (status = final state)
``cutru_fees_collected_vnd_total``     counter  procedure            the closing entry of a completed dossier
                                                                     is written with its fee paid (VND)
``cutru_activity_failures_total``      counter  activity             any activity attempt raises
``cutru_dossiers_overdue``             gauge    unit                 refreshed from the ``dossiers`` read model
=====================================  =======  ===================  ============================================

The SDK's Prometheus exporter appends nothing to counter names by default (``PrometheusConfig.
counters_total_suffix=False``, which is why its own counters read ``temporal_workflow_completed``), so the
``_total`` suffix is part of the names given here; turning that option on would double it.

Counting happens in an activity interceptor, not in the workflows: workflow code must stay deterministic and is
replayed, and the activities belong to other modules. It reads what the activity's typed input and result say
happened (the trail entries it writes, ``TrailAction``; the outcomes it decided), never the activity's name, so
renaming or regrouping activities changes no count; the procedure is the dossier workflow's type. Activities run
at least once, so a worker that dies after an activity succeeded but before Temporal recorded it counts that
dossier twice; rates and totals are accurate to that rare duplicate. A submission refused as invalid before any
activity runs is counted as finished (refused) without having been counted as started.

Every replica reports the same database-wide overdue gauge; dashboards and alerts take ``max by (unit)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.contracts import DeliveryRequest, ImmediateResult, StayBatchResult, WritesTrail
from cutru.platform.logging import core_logging, get_logger
from domain.kinds import Procedure
from domain.models import DossierState, TrailAction

if TYPE_CHECKING:
    import asyncpg

DOSSIERS_STARTED = "cutru_dossiers_started_total"
DOSSIERS_FINISHED = "cutru_dossiers_finished_total"
DOSSIERS_OVERDUE = "cutru_dossiers_overdue"
FEES_COLLECTED = "cutru_fees_collected_vnd_total"
ACTIVITY_FAILURES = "cutru_activity_failures_total"

OVERDUE_REFRESH = timedelta(seconds=15)
OPEN_STATES = tuple(state.value for state in DossierState if not state.final)

# Only dossiers still being processed count: a dossier finished late keeps overdue = true in the read model
# but no longer needs anyone's attention. The flag (set by the workflow when its legal clock runs out) is used
# rather than ``deadline < now()`` because the read model's deadline is stale while a supplement stops the clock.
OVERDUE_BY_UNIT = (
    "SELECT unit_code, count(*) AS overdue FROM dossiers"
    " WHERE overdue AND status = ANY($1::text[]) GROUP BY unit_code"
)


def prometheus_runtime(port: int, host: str = "0.0.0.0") -> Runtime:
    """A Temporal runtime serving ``http://host:port/metrics``; pass it to ``Client.connect(runtime=...)``."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{host}:{port}"),
                                             logging=core_logging()))


def client_metric_meter(client: Client) -> MetricMeter:
    """The meter of the runtime a client (and therefore its workers) runs on; a no-op meter without metrics."""
    runtime = client.service_client.config.runtime or Runtime.default()
    return runtime.metric_meter


def _label(value: Any) -> str:
    """Enum members are exported by value (``PermanentResidenceRegistration``, ``completed``)."""
    return str(getattr(value, "value", value))


class BusinessMetrics:
    """cutru's metric instruments on one SDK metric meter (a no-op meter makes every call free)."""

    def __init__(self, meter: MetricMeter) -> None:
        self._started = meter.create_counter(DOSSIERS_STARTED, "Dossiers accepted for processing", "dossiers")
        self._finished = meter.create_counter(
            DOSSIERS_FINISHED, "Dossiers that reached a final state (completed, refused, cancelled, withdrawn)",
            "dossiers",
        )
        self._fees = meter.create_counter(FEES_COLLECTED, "Fees collected for completed dossiers", "VND")
        self._failures = meter.create_counter(ACTIVITY_FAILURES, "Activity attempts that raised", "attempts")
        self._overdue = meter.create_gauge(
            DOSSIERS_OVERDUE, "Dossiers in processing past their legal deadline (database-wide)", "dossiers"
        )
        # Units reported at least once, so a unit whose overdue dossiers were all decided drops to 0 instead of
        # keeping its last non-zero value.
        self._overdue_units: set[str] = set()

    def dossier_started(self, procedure: Any) -> None:
        self._started.add(1, {"procedure": _label(procedure)})

    def dossier_finished(self, procedure: Any, status: Any) -> None:
        self._finished.add(1, {"procedure": _label(procedure), "status": _label(status)})

    def fee_collected(self, procedure: Any, amount_vnd: int) -> None:
        if amount_vnd > 0:
            self._fees.add(amount_vnd, {"procedure": _label(procedure)})

    def activity_failed(self, activity_type: str) -> None:
        self._failures.add(1, {"activity": activity_type})

    def set_overdue(self, by_unit: Mapping[str, int]) -> None:
        for unit in self._overdue_units - by_unit.keys():
            self._overdue.set(0, {"unit": unit})
        for unit, count in by_unit.items():
            self._overdue.set(count, {"unit": unit})
        self._overdue_units |= by_unit.keys()


class MetricsInterceptor(Interceptor):
    """Worker interceptor counting dossiers, fees and activity failures from activity inputs and results."""

    def __init__(self, metrics: BusinessMetrics) -> None:
        self._metrics = metrics

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityMetrics(next, self._metrics)


class _ActivityMetrics(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, metrics: BusinessMetrics) -> None:
        super().__init__(next)
        self._metrics = metrics

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        activity_type = activity.info().activity_type
        try:
            result = await self.next.execute_activity(input)
        except Exception:
            # Exception, not BaseException: a cancelled attempt (worker shutdown, workflow cancelled) is not a
            # dependency failing.
            self._metrics.activity_failed(activity_type)
            raise
        self._count_success(activity.info().workflow_type or "", input.args, result)
        return result

    def _count_success(self, workflow_type: str, args: Sequence[Any], result: Any) -> None:
        # isinstance checks only: an input or result of another shape goes uncounted instead of raising here, which
        # would turn a successful attempt into a failed one.
        procedure = _procedure(workflow_type)
        arg = args[0] if args else None
        if isinstance(arg, WritesTrail) and procedure is not None:
            for record in arg.trail_records():
                action = record.entry.action
                if action is TrailAction.RECEIVED:
                    self._metrics.dossier_started(procedure)
                elif action.closes:
                    self._metrics.dossier_finished(procedure, action)
                    if action is TrailAction.COMPLETED and isinstance(arg, DeliveryRequest):
                        self._metrics.fee_collected(procedure, arg.fee_paid_vnd)
        if isinstance(result, ImmediateResult) and procedure is not None:
            # Decided at once: the closing entry is the activity's own.
            self._metrics.dossier_finished(procedure, TrailAction.REFUSED if result.refusals else TrailAction.COMPLETED)
        elif isinstance(result, StayBatchResult):
            # A register's batch: each notification is a dossier received, decided and recorded at once.
            for outcome in result.outcomes:
                self._metrics.dossier_started(Procedure.STAY_NOTIFICATION)
                self._metrics.dossier_finished(Procedure.STAY_NOTIFICATION, outcome.state)


def _procedure(workflow_type: str) -> Procedure | None:
    """A dossier workflow's type is its procedure (``workflows.procedures``); a stay register's is none."""
    try:
        return Procedure(workflow_type)
    except ValueError:
        return None


class OverdueGauge:
    """Refreshes ``cutru_dossiers_overdue{unit}`` from the read model every ``interval``."""

    def __init__(self, pool: asyncpg.Pool, metrics: BusinessMetrics, interval: timedelta = OVERDUE_REFRESH) -> None:
        self._pool = pool
        self._metrics = metrics
        self._interval = interval

    async def refresh(self) -> dict[str, int]:
        rows = await self._pool.fetch(OVERDUE_BY_UNIT, list(OPEN_STATES), timeout=self._interval.total_seconds())
        by_unit = {row["unit_code"]: int(row["overdue"]) for row in rows}
        self._metrics.set_overdue(by_unit)
        return by_unit

    async def run(self) -> None:
        """Refresh until cancelled. A failed refresh keeps the last values and is retried at the next tick:
        the gauge is auxiliary and must never stop the worker that carries it."""
        log = get_logger(component="overdue-gauge")
        while True:
            try:
                await self.refresh()
            except Exception:
                log.warning("overdue gauge refresh failed", exc_info=True)
            await asyncio.sleep(self._interval.total_seconds())
