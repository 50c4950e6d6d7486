"""The floor: what Temporal itself costs for a workflow shaped like a dossier, with no business logic at all.

``FloorWorkflow`` runs ``before`` no-op activities, waits for one update (the officer's decision in a dossier),
then runs ``after`` no-op activities; without ``wait_for_update`` it is the floor of a stay notification. The
driver counts ``before`` and ``after`` from the history of a real dossier, and calls each activity with the same
timeout and retry policy as the lifecycle, so the floor differs from a dossier only by what cutru adds:
search-attribute upserts, timers, database work, PDF rendering, encryption.

The update is sent right after the start and is accepted at once; its handler finishes when the workflow has
reached the waiting point. That is the cheapest way to deliver exactly one update (no polling, no rejected
attempts), which is what a floor should measure.

``python -m bench.floor`` runs the floor worker with the same ``Worker`` options (tuning and role included) and
data converter as ``worker.py`` (settings from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, CUTRU_TASK_QUEUE and the
CUTRU_* tuning variables). This module is imported by the workflow sandbox, so it does nothing at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

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


@activity.defn(name="bench_noop")
async def noop(step: int) -> int:
    return step


@workflow.defn(name=FLOOR_WORKFLOW)
class FloorWorkflow:
    """Messages: update ``release()`` — accepted at once, completes when the workflow has reached the wait."""

    def __init__(self) -> None:
        self._waiting = False
        self._released = False

    @workflow.run
    async def run(self, plan: FloorPlan) -> int:
        for step in range(plan.before):
            await self._step(step)
        self._waiting = True
        if plan.wait_for_update:
            await workflow.wait_condition(lambda: self._released)
        for step in range(plan.before, plan.before + plan.after):
            await self._step(step)
        # The update handler may still be returning its result; finish only after it has.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return plan.before + plan.after

    async def _step(self, step: int) -> None:
        await workflow.execute_activity(noop, step, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY)

    @workflow.update
    async def release(self) -> None:
        await workflow.wait_condition(lambda: self._waiting)
        self._released = True


async def _serve() -> None:
    import asyncio
    import signal

    from temporalio.worker import Worker

    from cutru.config import load_settings
    from cutru.temporal import connect, worker_tuning
    from workflows.sandbox import workflow_runner

    settings = load_settings()
    # The same connection (and so the same pydantic data converter) as worker.py; bench.run starts the floor
    # without payload keys, since encryption is part of what cutru adds.
    client = await connect(settings)
    role = settings.worker_role
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[FloorWorkflow] if role != "activities" else [],
        workflow_runner=workflow_runner(),
        activities=[noop] if role != "workflows" else [],
        graceful_shutdown_timeout=timedelta(seconds=10),
        **worker_tuning(settings),  # the tuning worker.py is given, from the same environment
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        await stop.wait()


def main() -> None:
    import asyncio

    asyncio.run(_serve())


if __name__ == "__main__":
    main()
