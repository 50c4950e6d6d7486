"""Build B of a rolled upgrade, for the Worker Versioning test: its own module so that the sandbox can load it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from domain.models import DossierOutcome
    from workflows.dispatch import OutboxDispatcher
    from workflows.drafts import ResultDraft
    from workflows.lifecycle import DOSSIER_VERSIONING, NO_INPUT
    from workflows.procedures import ALL_WORKFLOWS, WORKFLOWS, PermanentResidenceRegistration

# A timer before the first step: a change of commands that dossiers already past it must not take.
UPGRADE_PATCH = "test-upgrade-timer"


@workflow.defn(name="PermanentResidenceRegistration", versioning_behavior=DOSSIER_VERSIONING)
class UpgradedRegistration(PermanentResidenceRegistration):
    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        if workflow.patched(UPGRADE_PATCH):
            await workflow.sleep(timedelta(milliseconds=10))
        return await self._run(self._decoded(submission))


BUILD_B_WORKFLOWS = (UpgradedRegistration, OutboxDispatcher, ResultDraft,
                     *(w for w in ALL_WORKFLOWS if w is not WORKFLOWS[PermanentResidenceRegistration.procedure]))
