"""The bench's shaped floor asks of the engine what an approved, paid dossier does (docs/benchmarks.md, "History of
a dossier"): the same events and actions, with no-op activities, so that cutru against it prices cutru's own work."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client
from temporalio.worker import Worker

from bench import stats
from bench.floor import FloorPlan, FloorWorkflow, noop, shaped_search_attributes
from bench.run import fetch_histories
from workflows.lifecycle import STATUS_KEY
from workflows.sandbox import workflow_runner


async def _waiting(client: Client, workflow_id: str, status: str) -> None:
    """Until the work-queue status says the workflow waits for a person, as the bench's officer sees it."""
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(100):
        if (await handle.describe()).typed_search_attributes.get(STATUS_KEY) == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the shaped floor never upserted {status}")


async def test_the_shaped_floor_has_an_approved_dossiers_engine_shape(client: Client) -> None:
    queue = f"tq-floor-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[FloorWorkflow], activities=[noop],
                      workflow_runner=workflow_runner()):
        # A permanent-residence registration approved, signed off and paid at once, as make bench measures it:
        # four local steps, the officer's decision, the trail written, the head's sign-off, the payment order (the
        # one regular activity), the record and the delivery; three version markers.
        plan = FloorPlan(before=4, after=4, dossier_shape=True, local=(0, 1, 2, 3, 4, 6, 7), later_waits=(5,),
                         versions=(0, 2, 4))
        handle = await client.start_workflow(FloorWorkflow.run, plan, id=queue, task_queue=queue,
                                             search_attributes=shaped_search_attributes())
        await _waiting(client, queue, "awaiting_decision")
        await handle.execute_update(FloorWorkflow.release)
        await _waiting(client, queue, "awaiting_sign_off")
        await handle.execute_update(FloorWorkflow.release)
        assert await handle.result() == 8
        assert (await handle.describe()).typed_search_attributes.get(STATUS_KEY) == "completed"
    profile = stats.profile_history((await fetch_histories(client, [queue]))[0])
    assert (profile.events, profile.actions, profile.activities, profile.workflow_tasks, profile.timers,
            profile.search_attribute_upserts, profile.updates) == (41, 19, 8, 4, 2, 6, 2)
    assert (profile.activities_before_updates, profile.activities_before_versions) == ([4, 5], [0, 2, 4])
    assert (profile.local_steps, profile.markers) == ([0, 1, 2, 3, 4, 6, 7], 10)
    assert profile.actions_by_kind["search-attribute upserts"] == 3  # the TemporalChangeVersion upserts are exempt
