"""The lifecycle's local steps (``workflows/lifecycle.py``, LOCAL_STEPS): identity, eligibility, acceptance and the
record commit run inside the workflow task, and a step that keeps failing there moves to a regular activity."""

from __future__ import annotations

import uuid

import asyncpg
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.contracts import EligibilityCheck, EligibilityResult
from activities.dossier import DossierActivities, all_activities
from activities.payment import LocalPaymentGateway
from bench import stats
from bench.run import fetch_histories
from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from cutru.service.worker import unversioned
from domain.models import DossierState
from tests.integration.test_permanent_registration import own_residence_dossier, wait_state
from workflows.lifecycle import LOCAL_RETRY
from workflows.procedures import ALL_WORKFLOWS
from workflows.sandbox import workflow_runner


class EligibilityOnlyAsActivity(DossierActivities):
    """The database is unreachable from the workflow worker's local steps, reachable from activities."""

    local_attempts = 0

    @activity.defn(name="check_eligibility")
    async def check_eligibility(self, check: EligibilityCheck) -> EligibilityResult:
        if activity.info().is_local:
            EligibilityOnlyAsActivity.local_attempts += 1
            raise RuntimeError("connection refused (injected by the test)")
        return await super().check_eligibility(check)


# The database steps up to the officer's queue, in order: the calendar's snapshot is read before the deadline is set.
ACCEPTANCE_STEPS = ["validate_identity", "check_eligibility", "calendar_snapshot", "accept_dossier"]


async def _local_and_regular_steps(client: Client, code: str) -> tuple[list[str], list[str]]:
    profile = stats.profile_history((await fetch_histories(client, [code]))[0])
    local = [profile.activity_types[i] for i in profile.local_steps]
    regular = [t for i, t in enumerate(profile.activity_types) if i not in profile.local_steps]
    return local, regular


async def test_a_dossier_runs_its_own_database_steps_locally(
    client: Client, settings: Settings, worker: Worker, pool: asyncpg.Pool
) -> None:
    dossiers = DossierClient(client, settings.task_queue)
    submission = await own_residence_dossier(pool)
    await dossiers.submit(submission)
    await wait_state(dossiers, submission["dossier_code"], DossierState.AWAITING_DECISION)
    local, regular = await _local_and_regular_steps(client, submission["dossier_code"])
    assert (local, regular) == (ACCEPTANCE_STEPS, [])


async def test_a_local_step_that_keeps_failing_moves_to_a_regular_activity(
    client: Client, settings: Settings, pool: asyncpg.Pool
) -> None:
    queue = f"tq-local-{uuid.uuid4().hex[:8]}"
    acts = EligibilityOnlyAsActivity(pool=pool, gateway=LocalPaymentGateway(pool), document_dir=settings.document_dir)
    dossiers = DossierClient(client, queue)
    submission = await own_residence_dossier(pool)
    async with Worker(client, task_queue=queue, workflows=[unversioned(w) for w in ALL_WORKFLOWS],
                      activities=all_activities(acts),
                      workflow_runner=workflow_runner()):
        await dossiers.submit(submission)
        await wait_state(dossiers, submission["dossier_code"], DossierState.AWAITING_DECISION)
    assert EligibilityOnlyAsActivity.local_attempts == LOCAL_RETRY.maximum_attempts  # retried locally first
    local, regular = await _local_and_regular_steps(client, submission["dossier_code"])
    # The failed local step leaves its marker (with the failure) in the history, then runs as an activity.
    assert (local, regular) == (ACCEPTANCE_STEPS, ["check_eligibility"])
