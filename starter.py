"""cutru starter: submit dossiers and talk to them from the command line.

    python starter.py submit examples/permanent_residence_registration.json
    python starter.py status HS-2026-000001
    python starter.py decide HS-2026-000001 --officer CB-00070-01 approve
    python starter.py decide HS-2026-000001 --officer CB-00070-01 reject --reason "..."
    python starter.py decide HS-2026-000001 --officer CB-00070-01 supplement --missing "hợp đồng thuê nhà"
    python starter.py supplement HS-2026-000001 --provided "hợp đồng thuê nhà"
    python starter.py pay HS-2026-000001
    python starter.py result HS-2026-000001

An invalid submission is refused with field-level errors before anything is started or written (exit 2).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import asyncpg
from temporalio.client import WorkflowUpdateFailedError

from activities.payment import LocalPaymentGateway
from cutru.clients import exit_now
from cutru.clients.client import DossierClient, SubmissionRejected, check_submission
from cutru.platform.config import load_settings
from domain.models import DecisionKind, OfficerDecision, PaymentConfirmation, Supplement, Withdrawal

_DECISIONS = {"approve": DecisionKind.APPROVE, "reject": DecisionKind.REJECT,
              "supplement": DecisionKind.REQUEST_SUPPLEMENT}


def _print(model: object) -> None:
    dump = getattr(model, "model_dump", None)
    print(json.dumps(dump(mode="json") if dump else model, ensure_ascii=False, indent=2))


async def _pay(dossiers: DossierClient, code: str) -> None:
    """What the payment portal does: mark the order paid, then call back the dossier."""
    pool = await asyncpg.create_pool(load_settings().database_url, min_size=1, max_size=1)
    try:
        order = await LocalPaymentGateway(pool).pay(code)
    finally:
        await pool.close()
    await dossiers.confirm_payment(code, PaymentConfirmation(order_id=order.order_id, amount_vnd=order.amount_vnd))
    _print(order)


async def _run(args: argparse.Namespace) -> int:
    if args.command == "submit":
        try:
            submission = check_submission(json.loads(Path(args.file).read_text(encoding="utf-8")))
        except SubmissionRejected as error:
            print(error, file=sys.stderr)
            return 2
    dossiers = await DossierClient.connect()
    if args.command == "submit":
        _print(await dossiers.submit(submission))
    elif args.command == "status":
        _print(await dossiers.status(args.code))
    elif args.command == "decide":
        decision = OfficerDecision(officer_id=args.officer, decision=_DECISIONS[args.decision], reason=args.reason,
                                   missing_items=tuple(args.missing))
        try:
            _print(await dossiers.decide(args.code, decision))
        except WorkflowUpdateFailedError as error:
            print(f"decision refused: {error.cause}", file=sys.stderr)
            return 3
    elif args.command == "supplement":
        await dossiers.supplement(args.code, Supplement(provided_items=tuple(args.provided), note=args.note))
        print("supplement sent")
    elif args.command == "pay":
        await _pay(dossiers, args.code)
    elif args.command == "withdraw":
        await dossiers.withdraw(args.code, Withdrawal(reason=args.reason))
        print("withdrawal sent")
    elif args.command == "result":
        _print(await dossiers.result(args.code))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("submit", help="validate and start a dossier").add_argument("file")
    for name in ("status", "pay", "result"):
        commands.add_parser(name).add_argument("code")
    decide = commands.add_parser("decide", help="an officer's decision (validated update)")
    decide.add_argument("code")
    decide.add_argument("--officer", required=True)
    decide.add_argument("decision", choices=sorted(_DECISIONS))
    decide.add_argument("--reason")
    decide.add_argument("--missing", action="append", default=[], help="missing item (repeatable)")
    supplement = commands.add_parser("supplement", help="the citizen completes the dossier")
    supplement.add_argument("code")
    supplement.add_argument("--provided", action="append", required=True)
    supplement.add_argument("--note")
    withdraw = commands.add_parser("withdraw")
    withdraw.add_argument("code")
    withdraw.add_argument("--reason", required=True)
    return root


def main() -> None:
    args = parser().parse_args()
    try:
        code = asyncio.run(_run(args))
    except ValueError as error:  # pydantic errors of the message models: say what is wrong, no traceback
        print(f"error: {error}", file=sys.stderr)
        code = 2
    exit_now(code)


if __name__ == "__main__":
    main()
