"""A worker that dies with SIGKILL right after one local step wrote to the database, before its workflow task
completes: the task is lost, and the next worker retries it (docs/reliability.md, lost workflow tasks).

    CUTRU_TEST_DIE_AFTER=commit_residence python -m tests.integration.dying_worker
    CUTRU_TEST_DIE_AFTER=record_event:supplement_requested python -m tests.integration.dying_worker

The step's name, and for ``record_event`` the trail action its batch must hold; a step run as a regular activity
does not die (it is not inside a workflow task).
"""

from __future__ import annotations

import asyncio
import os
import signal

from temporalio import activity

from activities.contracts import AuditBatch, CommitRequest, CommitResult
from activities.dossier import DossierActivities
from cutru.platform.config import load_settings
from cutru.platform.logging import configure_logging
from cutru.service import worker

DIE_AFTER_ENV = "CUTRU_TEST_DIE_AFTER"


def _die_after(step: str, action: str | None = None) -> None:
    wanted, _, wanted_action = os.environ.get(DIE_AFTER_ENV, "").partition(":")
    if activity.info().is_local and wanted == step and (not wanted_action or wanted_action == action):
        os.kill(os.getpid(), signal.SIGKILL)


class DyingActivities(DossierActivities):
    @activity.defn(name="commit_residence")
    async def commit_residence(self, request: CommitRequest) -> CommitResult:
        result = await super().commit_residence(request)
        _die_after("commit_residence")
        return result

    @activity.defn(name="record_event")
    async def record_event(self, batch: AuditBatch) -> AuditBatch | None:
        result = await super().record_event(batch)
        for record in batch.records:
            _die_after("record_event", record.entry.action.value)
        return result


def main() -> None:
    settings = load_settings()
    configure_logging(settings.log_level)
    worker.DossierActivities = DyingActivities  # type: ignore[misc]
    asyncio.run(worker.run(settings))


if __name__ == "__main__":
    main()
