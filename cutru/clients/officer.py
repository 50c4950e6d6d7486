"""The officer's desk: the work queue of a police unit, one dossier in full, and decisions.

    cutru officer --officer CB-00070-01 queue
    cutru officer --officer CB-00070-01 show HS-2026-000001
    cutru officer --officer CB-00070-01 approve HS-2026-000001
    cutru officer --officer CB-00070-01 reject HS-2026-000001 --reason "Chỗ ở đang có tranh chấp"
    cutru officer --officer CB-00070-01 request-supplement HS-2026-000001 --missing "Hợp đồng thuê nhà"
    cutru officer --officer CB-00070-00 reassign HS-2026-000001 --to CB-00070-02 --reason "nghỉ phép"
    cutru officer --officer CB-00070-00 escalations

Decisions go through the workflow's validated ``decide`` update: a refused decision (unknown or inactive officer,
another unit, a dossier not waiting for a decision, a rejection without reason) is reported here and never enters
the dossier's history. The same class, ``OfficerDesk``, serves other Python tools.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg
from temporalio.client import WorkflowUpdateFailedError

from cutru.clients.client import DossierClient
from domain.models import Boundary, DecisionKind, DecisionReceipt, DossierStatus, OfficerDecision, Reassignment

_QUEUE_SQL = """
SELECT dossier_code, procedure, status, applicant_name, received_at, deadline, overdue, assigned_officer
FROM dossiers
WHERE unit_code = $1 AND status IN ('awaiting_decision', 'awaiting_supplement')
  AND ($2::text IS NULL OR assigned_officer = $2)
ORDER BY overdue DESC, deadline ASC NULLS LAST, received_at
"""


class OfficerError(Exception):
    """Something the officer can act on: the message says what."""


class UnknownOfficer(OfficerError):
    """No officer has this id."""


class Officer(Boundary):
    officer_id: str
    full_name: str
    unit_code: str
    role: Literal["officer", "supervisor"]
    active: bool


class QueueItem(Boundary):
    dossier_code: str
    procedure: str
    status: str
    applicant_name: str
    received_at: datetime
    deadline: datetime | None
    overdue: bool
    assigned_officer: str | None


class OfficerDesk:
    def __init__(self, dossiers: DossierClient, pool: asyncpg.Pool, officer: Officer) -> None:
        self.dossiers = dossiers
        self.pool = pool
        self.officer = officer

    @classmethod
    async def login(cls, dossiers: DossierClient, pool: asyncpg.Pool, officer_id: str) -> OfficerDesk:
        row = await pool.fetchrow(
            "SELECT officer_id, full_name, unit_code, role, active FROM officers WHERE officer_id = $1", officer_id
        )
        if row is None:
            raise UnknownOfficer(f"unknown officer {officer_id}: check the id on your card (CB-<commune>-<nn>)")
        officer = Officer.model_validate(dict(row))
        if not officer.active:
            raise OfficerError(f"officer {officer_id} is inactive; ask the unit supervisor to reactivate the account")
        return cls(dossiers, pool, officer)

    async def queue(self, *, mine_only: bool = False) -> list[QueueItem]:
        """Dossiers of the unit waiting for a decision or a supplement: overdue first, then by deadline."""
        mine = self.officer.officer_id if mine_only else None
        return [QueueItem.model_validate(dict(r)) for r in await self.pool.fetch(_QUEUE_SQL, self.officer.unit_code,
                                                                                  mine)]

    async def escalations(self) -> list[QueueItem]:
        self._require_supervisor()
        return [item for item in await self.queue() if item.overdue]

    async def show(self, dossier_code: str) -> DossierStatus:
        status = await self.dossiers.status(dossier_code)
        if status.police_unit != self.officer.unit_code:
            raise OfficerError(f"dossier {dossier_code} belongs to {status.police_unit}, not to your unit "
                               f"{self.officer.unit_code}")
        return status

    async def decide(self, dossier_code: str, decision: DecisionKind, *, reason: str | None = None,
                     missing_items: tuple[str, ...] = ()) -> DecisionReceipt:
        try:
            request = OfficerDecision(officer_id=self.officer.officer_id, decision=decision, reason=reason,
                                      missing_items=missing_items)
        except ValueError as error:
            raise OfficerError(str(error)) from error
        try:
            return await self.dossiers.decide(dossier_code, request)
        except WorkflowUpdateFailedError as error:
            raise OfficerError(f"decision refused: {error.cause}") from error

    async def reassign(self, dossier_code: str, to_officer: str, reason: str) -> DossierStatus:
        self._require_supervisor()
        request = Reassignment(supervisor_id=self.officer.officer_id, officer_id=to_officer, reason=reason)
        try:
            return await self.dossiers.handle(dossier_code).execute_update("reassign", request,
                                                                            result_type=DossierStatus)
        except WorkflowUpdateFailedError as error:
            raise OfficerError(f"reassignment refused: {error.cause}") from error

    def _require_supervisor(self) -> None:
        if self.officer.role != "supervisor":
            raise OfficerError(f"{self.officer.officer_id} is not a supervisor of {self.officer.unit_code}")
