"""The floor: what Temporal itself costs for a workflow shaped like a dossier, with no business logic at all.

``FloorWorkflow`` runs ``before`` no-op activities, waits for one update (the officer's decision in a dossier),
then runs ``after`` no-op activities; without ``wait_for_update`` it is the floor of a stay notification. The
driver counts ``before`` and ``after`` from the history of a real dossier, and calls each activity with the same
timeout and retry policy as the lifecycle, so the floor differs from a dossier only by what cutru adds:
search-attribute upserts, timers, database work, PDF rendering, encryption.

The update is sent right after the start and is accepted at once; its handler finishes when the workflow has
reached the waiting point. That is the cheapest way to deliver exactly one update (no polling, no rejected
attempts), which is what a floor should measure.

With ``dossier_shape`` the same no-op workflow also does what a dossier asks of the engine beyond its activities:
it is started with a dossier's four search attributes, records the dossier's version markers where it does, runs as
local activities the steps a dossier runs so, upserts the status where a dossier rests (awaiting the officer,
awaiting the sign-off, and completed), waits for the update with the legal clock's reminder pending (a timer), and
is released by the bench's officer once the work-queue listing shows it waiting, so the update comes on a workflow
task of its own; where a dossier then waits for the head's sign-off (``later_waits``), it waits and is released once
more in the same way. That "shaped floor" is what the engine alone costs for a dossier: cutru against it is the
price of cutru's own work (forms, database, encryption, validation), apart from the shape.

``python -m bench.floor`` runs the floor worker with the same ``Worker`` options (tuning and role included) and
data converter as ``worker.py`` (settings from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, CUTRU_TASK_QUEUE and the
CUTRU_* tuning variables). This module is imported by the workflow sandbox, so it does nothing at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes

from domain.models import DossierState
from workflows.lifecycle import DEADLINE_KEY, LOCAL_RETRY, OVERDUE_KEY, PROCEDURE_KEY, STATUS_KEY, UNIT_KEY

FLOOR_WORKFLOW = "BenchFloor"
# The lifecycle's activity options (workflows/lifecycle.py), so that the floor's activities are scheduled alike.
ACTIVITY_TIMEOUT = timedelta(seconds=10)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1)
)


@dataclass(frozen=True)
class FloorPlan:
    before: int  # activities before the update
    after: int  # activities after it
    wait_for_update: bool = True  # False: the shape of a stay notification, accepted without anyone's decision
    dossier_shape: bool = False  # search attributes, status upserts and the reminder timer of a dossier
    # With dossier_shape: the steps (0-based) that a dossier runs as local activities, and its version marker
    # (workflows/lifecycle.py, LOCAL_STEPS). The plain floor's activities are all regular, as the issue sets it.
    local: tuple[int, ...] = ()
    # With dossier_shape: the steps before which the workflow waits again for a person after the first wait, as a
    # dossier waits for the head's sign-off after the officer's proposal; each wait rests in a status of its own
    # with the reminder pending, and is released by the same update.
    later_waits: tuple[int, ...] = ()
    # With dossier_shape: before which step each of a dossier's version markers (``workflow.patched``) comes.
    versions: tuple[int, ...] = ()


# What a shaped floor workflow shows in visibility: the statuses the bench's officer lists, a unit, a deadline.
SHAPED_PROCEDURE = "BenchFloor"
SHAPED_UNIT = "CA-BENCH"
# The version markers a dossier records (its patches), recorded the same way.
SHAPED_VERSION = "bench-shaped-local-steps"
# The reminder of the legal clock is days away in a dossier: it is started and cancelled, never fired.
REMINDER = timedelta(days=10)


def shaped_search_attributes() -> TypedSearchAttributes:
    """The four attributes a dossier is started with (``workflows.lifecycle.initial_search_attributes``)."""
    return TypedSearchAttributes([
        SearchAttributePair(PROCEDURE_KEY, SHAPED_PROCEDURE),
        SearchAttributePair(STATUS_KEY, DossierState.RECEIVED.value),
        SearchAttributePair(UNIT_KEY, SHAPED_UNIT),
        SearchAttributePair(OVERDUE_KEY, False),
    ])


@activity.defn(name="bench_noop")
async def noop(step: int) -> int:
    return step


@workflow.defn(name=FLOOR_WORKFLOW)
class FloorWorkflow:
    """Messages: update ``release()`` — accepted at once, completes when the workflow has reached its next wait."""

    def __init__(self) -> None:
        self._local: frozenset[int] = frozenset()
        self._versions: list[int] = []
        self._waits_reached = 0
        self._releases = 0

    @workflow.run
    async def run(self, plan: FloorPlan) -> int:
        self._local = frozenset(plan.local) if plan.dossier_shape else frozenset()
        self._versions = list(plan.versions) if plan.dossier_shape else []
        deadline = workflow.now() + REMINDER
        waits = (plan.before, *(plan.later_waits if plan.dossier_shape else ()))
        step = 0
        for number, at in enumerate(waits):
            while step < at:
                await self._step(step)
                step += 1
            self._waits_reached = number + 1
            if plan.dossier_shape:
                self._upsert(DossierState.AWAITING_SIGN_OFF if number else DossierState.AWAITING_DECISION, deadline)
            if plan.wait_for_update:
                await self._released(number + 1, plan.dossier_shape)
        for rest in range(step, plan.before + plan.after):
            await self._step(rest)
        self._mark(plan.before + plan.after)
        if plan.dossier_shape:
            self._upsert(DossierState.COMPLETED, deadline)
        # The update handler may still be returning its result; finish only after it has.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return plan.before + plan.after

    async def _released(self, count: int, reminder: bool) -> None:
        try:
            await workflow.wait_condition(lambda: self._releases >= count, timeout=REMINDER if reminder else None)
        except TimeoutError:  # a reminder that fires (never within a bench) changes nothing here
            await workflow.wait_condition(lambda: self._releases >= count)

    @staticmethod
    def _upsert(status: DossierState, deadline: datetime) -> None:
        """As ``DossierLifecycle._upsert_search_attributes`` does: every attribute, each time."""
        workflow.upsert_search_attributes([
            PROCEDURE_KEY.value_set(SHAPED_PROCEDURE), STATUS_KEY.value_set(status.value),
            OVERDUE_KEY.value_set(False), UNIT_KEY.value_set(SHAPED_UNIT), DEADLINE_KEY.value_set(deadline),
        ])

    def _mark(self, step: int) -> None:
        """The version markers a dossier records before ``step``."""
        while self._versions and self._versions[0] <= step:
            workflow.patched(f"{SHAPED_VERSION}-{len(self._versions)}")
            self._versions.pop(0)

    async def _step(self, step: int) -> None:
        self._mark(step)
        if step in self._local:  # as the lifecycle's local steps are scheduled (DossierLifecycle._internal)
            await workflow.execute_local_activity(noop, step, start_to_close_timeout=ACTIVITY_TIMEOUT,
                                                  retry_policy=LOCAL_RETRY)
        else:
            await workflow.execute_activity(noop, step, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)

    @workflow.update
    async def release(self) -> None:
        await workflow.wait_condition(lambda: self._waits_reached > self._releases)
        self._releases += 1


async def _serve() -> None:
    import asyncio
    import signal

    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    from cutru.platform.config import load_settings
    from cutru.platform.temporal import connect, worker_tuning
    from cutru.platform.warm import warm_up
    from workflows.sandbox import workflow_runner

    settings = load_settings()
    # The same connection and pydantic JSON as worker.py, without the payload codec: encryption is part of what
    # cutru adds, and the bare engine is measured without it.
    client = await connect(settings, converter=pydantic_data_converter)
    role = settings.worker_role
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[FloorWorkflow] if role != "activities" else [],
        workflow_runner=workflow_runner(),
        activities=[noop],  # a workflow-task process runs the shaped floor's local steps, as worker.py does
        no_remote_activities=role == "workflows",
        graceful_shutdown_timeout=timedelta(seconds=10),
        **worker_tuning(settings),  # the tuning worker.py is given, from the same environment
    )
    warm_up()  # as worker.py does: its frozen heap and collector settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        await stop.wait()


def main() -> None:
    from cutru.platform.config import load_settings
    from cutru.platform.temporal import run_worker_process

    run_worker_process(_serve(), load_settings())  # on worker.py's event loop too


if __name__ == "__main__":
    main()
