"""The outbox's dispatchers: one long-running workflow per channel (e-mail, SMS, webhooks, post) that runs the
channel's delivery rounds (``activities.notify``) one after another, for ever.

Each round is one activity of a few minutes that heartbeats: a worker that dies mid-round is noticed within the
heartbeat timeout and the round runs again on another, and a failing round (the database down) is retried with the
durable backoff. The history grows by a few events per round, and the workflow continues as new after
``ROUNDS_PER_RUN`` of them. Started by the worker process (``cutru.service.worker``) under a fixed id per task queue
and channel, so that each channel has one dispatcher however many workers run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from activities.notify import DispatchRound, Outbox, OutboxChannel

ROUNDS_PER_RUN = 100
# A visibility clause that leaves out of what counts as dossiers the dispatchers (they run for ever) and the desk's
# result drafts (workflows.drafts).
NOT_A_DOSSIER = 'WorkflowType != "OutboxDispatcher" AND WorkflowType != "ResultDraft"'
HEARTBEAT_TIMEOUT = timedelta(seconds=30)
ROUND_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                          maximum_interval=timedelta(seconds=30))


def dispatcher_id(task_queue: str, channel: OutboxChannel) -> str:
    return f"outbox-{channel}-{task_queue}"


# Runs for ever: under Worker Versioning it must move to each new build (at its next task) for old builds to retire.
@workflow.defn(name="OutboxDispatcher", versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class OutboxDispatcher:
    @workflow.run
    async def run(self, job: DispatchRound) -> None:
        for _ in range(ROUNDS_PER_RUN):
            await workflow.execute_activity_method(
                Outbox.dispatch_round, job, start_to_close_timeout=job.length + HEARTBEAT_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT, retry_policy=ROUND_RETRY)
        workflow.continue_as_new(job)
