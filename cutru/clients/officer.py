"""The officer's desk: the work queue of a police unit, one dossier in full, and decisions.

    python -m cutru.clients.officer --officer CB-00070-01 queue
    python -m cutru.clients.officer --officer CB-00070-01 show HS-2026-000001
    python -m cutru.clients.officer --officer CB-00070-01 approve HS-2026-000001
    python -m cutru.clients.officer --officer CB-00070-01 reject HS-2026-000001 --reason "Chỗ ở đang có tranh chấp"
    python -m cutru.clients.officer --officer CB-00070-01 supplement HS-2026-000001 --missing "Hợp đồng thuê nhà"
    python -m cutru.clients.officer --officer CB-00070-00 reassign HS-2026-000001 --to CB-00070-02 --reason "nghỉ phép"
    python -m cutru.clients.officer --officer CB-00070-00 escalations

Decisions go through the workflow's validated ``decide`` update: a refused decision (unknown or inactive officer,
another unit, a dossier not waiting for a decision, a rejection without reason) is reported here and never enters
the dossier's history. The same class, ``OfficerDesk``, serves other Python tools.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import Literal

import asyncpg
from temporalio.client import WorkflowUpdateFailedError

from cutru.clients import exit_now
from cutru.clients.client import DossierClient
from cutru.platform.config import load_settings
from domain.identity import mask_personal_id
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
            raise OfficerError(f"unknown officer {officer_id}: check the id on your card (CB-<commune>-<nn>)")
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


def _print_queue(items: list[QueueItem]) -> None:
    if not items:
        print("nothing waiting")
    for item in items:
        flag = "OVERDUE" if item.overdue else ""
        deadline = f"{item.deadline:%Y-%m-%d %H:%M}" if item.deadline else "-"
        print(f"{item.dossier_code:<20} {item.procedure:<32} {item.status:<20} {deadline:<16} "
              f"{item.assigned_officer or '-':<12} {flag}")


def _print_status(status: DossierStatus) -> None:
    submission = dict(status.submission or {})
    applicant = dict(submission.get("applicant", {}))
    if "personal_id" in applicant:
        applicant["personal_id"] = mask_personal_id(applicant["personal_id"])
    print(f"{status.dossier_code}  {status.procedure.value}  {status.state.value}"
          f"{'  OVERDUE' if status.overdue else ''}")
    print(f"  applicant: {json.dumps(applicant, ensure_ascii=False)}")
    print(f"  papers/details: {json.dumps(submission.get('details', {}), ensure_ascii=False)}")
    print(f"  consents: {len(submission.get('consents', []))}, delivery: {submission.get('delivery', {})}")
    print(f"  deadline: {status.deadline}  assigned: {status.assigned_officer}  fee: {status.fee_vnd} VND")
    for finding in status.findings:
        print(f"  finding: {finding}")
    for refusal in status.refusals:
        print(f"  refusal: {refusal.code}: {refusal.message}")
    for entry in status.trail:
        print(f"  {entry.at:%Y-%m-%d %H:%M:%S}  {entry.actor:<16} {entry.action:<22} {entry.detail}")


async def _run(args: argparse.Namespace) -> None:
    settings = load_settings()
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        desk = await OfficerDesk.login(await DossierClient.connect(settings), pool, args.officer)
        if args.command == "queue":
            _print_queue(await desk.queue(mine_only=args.mine))
        elif args.command == "escalations":
            _print_queue(await desk.escalations())
        elif args.command == "show":
            _print_status(await desk.show(args.code))
        elif args.command == "reassign":
            status = await desk.reassign(args.code, args.to, args.reason)
            print(f"{status.dossier_code} reassigned to {status.assigned_officer}")
        else:
            kind = {"approve": DecisionKind.APPROVE, "reject": DecisionKind.REJECT,
                    "supplement": DecisionKind.REQUEST_SUPPLEMENT}[args.command]
            receipt = await desk.decide(args.code, kind, reason=getattr(args, "reason", None),
                                        missing_items=tuple(getattr(args, "missing", ()) or ()))
            print(f"{receipt.dossier_code}: decision accepted ({args.command})")
    finally:
        await pool.close()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root.add_argument("--officer", required=True, help="your officer id, e.g. CB-00070-01")
    commands = root.add_subparsers(dest="command", required=True)
    queue = commands.add_parser("queue", help="the unit's dossiers waiting: overdue first, then by deadline")
    queue.add_argument("--mine", action="store_true", help="only dossiers assigned to me")
    commands.add_parser("escalations", help="supervisor: overdue dossiers of the unit")
    for name in ("show", "approve"):
        commands.add_parser(name).add_argument("code")
    reject = commands.add_parser("reject")
    reject.add_argument("code")
    reject.add_argument("--reason", required=True, help="printed on the CT06 refusal")
    supplement = commands.add_parser("supplement", help="request a supplement (CT05)")
    supplement.add_argument("code")
    supplement.add_argument("--missing", action="append", required=True, help="a missing item (repeatable)")
    reassign = commands.add_parser("reassign", help="supervisor: give the dossier to another officer")
    reassign.add_argument("code")
    reassign.add_argument("--to", required=True)
    reassign.add_argument("--reason", required=True)
    return root


def main() -> None:
    args = parser().parse_args()
    try:
        asyncio.run(_run(args))
    except OfficerError as error:
        print(error, file=sys.stderr)
        exit_now(3)
    exit_now(0)


if __name__ == "__main__":
    main()
