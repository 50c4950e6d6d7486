"""The checking runner (auditors' replays, the recorded histories) refuses non-deterministic workflow code; the
worker's runner does not check, which is why every recorded history is replayed with the checking one."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError

from tests.integration.clock_reading_workflow import ClockReading
from workflows.sandbox import checking_runner, workflow_runner


async def run_once(client: Client, runner: WorkflowRunner) -> str:
    queue = f"tq-sandbox-{uuid.uuid4().hex[:8]}"
    # The refusal fails the workflow instead of retrying its task forever, so that the test sees it.
    async with Worker(client, task_queue=queue, workflows=[ClockReading], workflow_runner=runner,
                      workflow_failure_exception_types=[RestrictedWorkflowAccessError]):
        return await client.execute_workflow(ClockReading.run, id=queue, task_queue=queue)


async def test_the_checking_runner_refuses_a_workflow_that_reads_the_clock(client: Client) -> None:
    with pytest.raises(WorkflowFailureError) as failure:
        await run_once(client, checking_runner())
    assert "datetime.datetime.now" in str(failure.value.cause)


async def test_the_workers_runner_runs_workflow_code_as_it_is(client: Client) -> None:
    assert await run_once(client, workflow_runner())  # unchecked: the wall clock, returned
