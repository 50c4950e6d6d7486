"""An incompatible change to a workflow, for the replay test: its own module so that the sandbox can load it."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.models import DossierOutcome
    from workflows.procedures import PermanentResidenceRegistration


@workflow.defn(name="PermanentResidenceRegistration")
class ChangedRegistration(PermanentResidenceRegistration):
    """A timer before the first activity, added without ``workflow.patched``."""

    @workflow.run
    async def run(self, submission: dict[str, Any]) -> DossierOutcome:  # type: ignore[override]
        await workflow.sleep(1)
        return await self._run(submission)
