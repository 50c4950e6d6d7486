"""One Temporal workflow type per residence procedure, all on the shared ``DossierLifecycle``.

Each class only names its procedure; what differs between procedures is data (``domain.procedures``,
``domain.rulesets``) and small rule functions (``domain.eligibility``, ``activities.records``). The input is
the procedure's submission as JSON (``domain.submissions``); it is validated inside the workflow so that bad
input becomes a refused dossier, never a failed workflow task.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.lifecycle import DossierLifecycle

with workflow.unsafe.imports_passed_through():
    from domain.models import DossierOutcome
    from domain.procedures import Procedure


@workflow.defn(name=Procedure.PERMANENT_RESIDENCE_REGISTRATION.value)
class PermanentResidenceRegistration(DossierLifecycle):
    """Đăng ký thường trú — TTHC 1.004222."""

    procedure = Procedure.PERMANENT_RESIDENCE_REGISTRATION

    @workflow.run
    async def run(self, submission: dict[str, Any]) -> DossierOutcome:
        return await self._run(submission)


WORKFLOWS: dict[Procedure, type[DossierLifecycle]] = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: PermanentResidenceRegistration,
}
