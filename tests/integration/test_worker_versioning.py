"""A rolled upgrade under Worker Deployment Versioning, on the real dev server: a dossier started on build A, the
deployment's current version moved to build B (whose registration workflow has a patched change), build A stopped;
the dossier in flight finishes on B without the change, a new one runs on B with it, and a stay register opened on A
stays pinned to A (docs/production.md, rolling an upgrade)."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import Worker

from cutru.clients.client import DossierClient
from cutru.platform.config import ConfigError, Settings
from cutru.platform.temporal import deployment_version, set_current_version
from cutru.service import worker as worker_process
from cutru.service.worker import build_worker
from domain.models import DossierState
from tests.factories import head_signs, new_person, pay
from tests.integration.test_permanent_registration import approve, own_residence_dossier, wait_state
from tests.integration.test_stay_register import hotel, hotel_stay
from tests.integration.upgraded_workflow import BUILD_B_WORKFLOWS, UPGRADE_PATCH


async def running_on(handle: WorkflowHandle) -> tuple[str, int]:  # type: ignore[type-arg]
    """The build a workflow's tasks go to, and its versioning behaviour."""
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.build_id, info.behavior


async def took_the_change(handle: WorkflowHandle) -> bool:  # type: ignore[type-arg]
    markers = [e.marker_recorded_event_attributes for e in (await handle.fetch_history()).events
               if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    return any(UPGRADE_PATCH.encode() in payload.data
               for marker in markers for details in marker.details.values() for payload in details.payloads)


async def test_a_rolled_upgrade_moves_dossiers_and_leaves_registers_pinned(
        client: Client, settings: Settings, pool: asyncpg.Pool) -> None:
    name = f"cutru-test-{uuid.uuid4().hex[:8]}"
    build_a = settings.model_copy(update={"deployment_name": name, "build_id": "a"})
    build_b = settings.model_copy(update={"deployment_name": name, "build_id": "b"})
    version_a, version_b = deployment_version(build_a), deployment_version(build_b)
    assert isinstance(version_a, WorkerDeploymentVersion) and isinstance(version_b, WorkerDeploymentVersion)
    dossiers = DossierClient(client, settings.task_queue)
    async with AsyncExitStack() as builds:
        worker_a: Worker = await builds.enter_async_context(build_worker(client, build_a, pool))
        await set_current_version(client, version_a)
        in_flight = await own_residence_dossier(pool)
        await dossiers.submit(in_flight)
        code = in_flight["dossier_code"]
        await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
        async with pool.acquire() as conn:
            host, place = await hotel(conn)
            guest = await new_person(conn)
        register = await dossiers.submit(hotel_stay(host, place, guest, arrival=datetime.now(UTC)))
        register_handle = client.get_workflow_handle(register.workflow_id)
        assert await running_on(dossiers.handle(code)) == ("a", VersioningBehavior.AUTO_UPGRADE.value)

        # Roll: build B up, made current; build A drains and stops.
        async with build_worker(client, build_b, pool, workflows=BUILD_B_WORKFLOWS):
            await set_current_version(client, version_b)
            assert await running_on(register_handle) == ("a", VersioningBehavior.PINNED.value)
            await register_handle.terminate("the test's build A stops")  # a register would keep A up till noon
            await worker_a.shutdown()

            fresh = await own_residence_dossier(pool)
            await dossiers.submit(fresh)
            await wait_state(dossiers, fresh["dossier_code"], DossierState.AWAITING_DECISION)

            for dossier in (code, fresh["dossier_code"]):
                status = await dossiers.status(dossier)
                assert status.assigned_officer is not None
                await dossiers.decide(dossier, approve(status.assigned_officer))
                await head_signs(dossiers, pool, dossier)
                await wait_state(dossiers, dossier, DossierState.AWAITING_PAYMENT)
                await pay(dossiers, pool, dossier)
                assert (await dossiers.result(dossier)).state == DossierState.COMPLETED
                assert (await running_on(dossiers.handle(dossier)))[0] == "b"
            assert not await took_the_change(dossiers.handle(code))
            assert await took_the_change(dossiers.handle(fresh["dossier_code"]))


async def test_half_a_version_is_refused_and_an_unversioned_worker_sets_nothing_current(settings: Settings) -> None:
    assert deployment_version(settings) is None  # unversioned, as the suite's and the local stack's workers
    with pytest.raises(ConfigError, match="CUTRU_BUILD_ID"):
        deployment_version(settings.model_copy(update={"deployment_name": "cutru"}))
    with pytest.raises(SystemExit, match="--set-current needs CUTRU_DEPLOYMENT_NAME and CUTRU_BUILD_ID"):
        await worker_process.run(settings, set_current=True)
