"""A dossier served by two worker processes: one for workflow tasks only, one for activities only."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.client import Client

from cutru.clients.client import DossierClient
from cutru.platform.config import PROJECT_ROOT, Settings
from cutru.platform.temporal import task_queue_pollers
from domain.models import DecisionKind, DossierState, OfficerDecision
from tests.factories import head_signs, pay, worker_env
from tests.integration.test_permanent_registration import own_residence_dossier, wait_for, wait_state

APPROVE = OfficerDecision(officer_id="CB-00070-01", decision=DecisionKind.APPROVE)


def start(settings: Settings, role: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(PROJECT_ROOT / "worker.py")],
                            env=worker_env(settings, CUTRU_WORKER_ROLE=role))


@pytest.fixture
def split_workers(settings: Settings) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    processes = {role: start(settings, role) for role in ("workflows", "activities")}
    yield processes
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


async def pollers(client: Client, settings: Settings, kind: TaskQueueType.ValueType) -> int:
    return len(await task_queue_pollers(client, settings.task_queue, kind))


async def test_a_dossier_completes_across_a_workflow_worker_and_an_activity_worker(
    client: Client, settings: Settings, pool: asyncpg.Pool, split_workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    workflow_kind, activity_kind = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY

    async def both_polling() -> bool:
        return (await pollers(client, settings, workflow_kind)) >= 1 and (
            await pollers(client, settings, activity_kind)) >= 1

    await wait_for(both_polling)
    # Each process polls for its own kind of task only.
    assert await pollers(client, settings, workflow_kind) == 1
    assert await pollers(client, settings, activity_kind) == 1

    dossiers = DossierClient(client, settings.task_queue)
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)  # every step of a dossier below, each on the process of its kind
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    await dossiers.decide(code, APPROVE)
    await head_signs(dossiers, pool, code)
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, code)
    outcome = await asyncio.wait_for(dossiers.result(code), timeout=60)
    assert outcome.state == DossierState.COMPLETED
    assert all(process.poll() is None for process in split_workers.values())
