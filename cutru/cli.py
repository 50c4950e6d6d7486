"""cutru: one command for the citizen's, the officer's, the auditor's and the operator's work.

    cutru submit examples/PermanentResidenceRegistration.json
    cutru status HS-2026-000001
    cutru supplement HS-2026-000001 --provided "Hợp đồng thuê nhà"     # the citizen supplies what was asked
    cutru officer queue                                                 # the signed-in officer's unit
    cutru officer request-supplement HS-2026-000001 --missing "Hợp đồng thuê nhà"
    cutru officer sign HS-2026-000001                                   # the unit head signs the approval
    cutru -o json audit replay HS-2026-000001

The officer's and the auditor's commands are clients of the cutru API (CUTRU_API_URL; the token from
CUTRU_API_TOKEN, or a sign-in: see cutru/api/client.py). The others read the Temporal connection as the
``temporal`` CLI reads it (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY,
TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE), the database from DATABASE_URL; docs/cli.md has every command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib.metadata import entry_points
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from cutru.api import serve as api_server
from cutru.clients import exit_now
from cutru.service import options

# The product's modules are imported by the commands that use them, not here: each command is a process of its own,
# and importing all of them (the API, the worker, every workflow) would cost `cutru --help` and a refused file
# seconds before they answer.
if TYPE_CHECKING:
    import asyncpg
    from temporalio.client import Client

    from activities.payment import GatewayConfig
    from cutru.api.client import ApiClient
    from cutru.clients import audit, rules
    from cutru.clients.client import DossierClient
    from cutru.clients.officer import QueueItem
    from cutru.platform.config import Settings
    from domain.calendar import CalendarSnapshot
    from domain.models import DossierStatus

OK, REFUSED, USAGE, NOT_FOUND, UNREACHABLE = 0, 1, 2, 3, 4
EXIT_CODES = f"""exit codes:
  {OK}  done
  {REFUSED}  refused by the service (a decision, a closed dossier) or a check that failed (a replay that is not
     deterministic, stale schemas, an unhealthy worker)
  {USAGE}  usage: a wrong command line, an invalid submission or message, a configuration error
  {NOT_FOUND}  not found: no such dossier, officer or namespace
  {UNREACHABLE}  unreachable: the API, the Temporal server or the database cannot be reached
"""
# Where commands of other distributions come from (cutru-local's stack, demo and seed): each entry point names
# ``add_commands(subcommands)``, which adds parsers with ``set_defaults(handler=...)``, ``handler(args) -> int``.
COMMANDS_GROUP = "cutru.commands"


class Failure(Exception):
    """A command's end other than success: a one-line message for stderr and the exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------- connections


class Session:
    """What a command connects to, made on first use and closed at the end; connection faults become Failures."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._settings: Settings | None = None
        self._client: Client | None = None
        self._pool: asyncpg.Pool | None = None
        self._api: ApiClient | None = None

    @property
    def settings(self) -> Settings:
        from cutru.platform.config import load_settings

        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    async def client(self) -> Client:
        from cutru.platform.temporal import connect

        if self._client is None:
            settings = self.settings
            try:
                self._client = await connect(settings)
            except RuntimeError as error:  # the SDK's "Failed client connect: ..."
                raise Failure(UNREACHABLE, f"Temporal at {settings.temporal_address} is unreachable: "
                                           f"{_one_line(error)}") from error
        return self._client

    async def dossiers(self) -> DossierClient:
        from cutru.clients.client import DossierClient

        return DossierClient(await self.client(), self.settings.task_queue)

    async def pool(self) -> asyncpg.Pool:
        import asyncpg

        if self._pool is None:
            try:
                self._pool = await asyncpg.create_pool(self.settings.database_url, min_size=1, max_size=2, timeout=10)
            except _database_errors() as error:
                raise _database_down(self.settings.database_url, error) from error
        return self._pool

    async def api(self) -> ApiClient:
        from cutru.api.client import ApiClient

        if self._api is None:
            self._api = await ApiClient.from_env()
        return self._api

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._api is not None:
            await self._api.aclose()


def _database_errors() -> tuple[type[BaseException], ...]:
    """What connecting to PostgreSQL raises when it is down, refuses the role or lacks the database."""
    import asyncpg

    return OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError


def _database_down(database_url: str, error: BaseException) -> Failure:
    url = urlsplit(database_url)
    where = f"{url.hostname or 'localhost'}:{url.port or 5432}{url.path}"  # never the password
    return Failure(UNREACHABLE, f"the database at {where} is unreachable: {_one_line(error)}")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# The API's answers as exit codes: a request or token to correct is usage, a refusal is refused; 5xx is unreachable.
_API_EXIT = {400: USAGE, 401: USAGE, 403: REFUSED, 404: NOT_FOUND, 409: REFUSED, 413: USAGE, 422: USAGE}


def _raised(error: BaseException, module: str, *names: str) -> bool:
    """Whether ``error`` is one of ``module``'s ``names``. Only a module this process has imported can have raised
    it, so that wording a refusal imports nothing the command did not (a refused file answers before the workflows
    are imported)."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(error, tuple(getattr(loaded, name) for name in names))


def _failure(error: BaseException, args: argparse.Namespace) -> Failure | None:
    """The exit code and message for what a command raised; None for what is a defect (its traceback shows)."""
    code = getattr(args, "code", None)
    if isinstance(error, Failure):
        return error
    if _raised(error, "cutru.clients.submission", "SubmissionRejected"):
        return Failure(USAGE, str(error))
    configuration = (_raised(error, "cutru.platform.config", "ConfigError")
                     or _raised(error, "cutru.platform.codec", "KeyConfigError"))
    if configuration:
        return Failure(USAGE, f"configuration: {_one_line(error)}")
    if _raised(error, "cutru.api.client", "ApiError"):
        from cutru.api.client import ApiError

        assert isinstance(error, ApiError)
        return Failure(_API_EXIT.get(error.status, UNREACHABLE if error.status >= 500 else REFUSED), error.line())
    if _raised(error, "cutru.api.client", "ApiUnreachable"):
        return Failure(UNREACHABLE, _one_line(error))
    if _raised(error, "cutru.api.client", "LoginError"):
        return Failure(USAGE, f"sign-in: {_one_line(error)}")
    if _raised(error, "temporalio.client", "WorkflowUpdateFailedError"):
        from temporalio.client import WorkflowUpdateFailedError

        assert isinstance(error, WorkflowUpdateFailedError)
        return Failure(REFUSED, f"refused: {error.cause}")
    if _raised(error, "temporalio.client", "WorkflowFailureError"):
        from temporalio.client import WorkflowFailureError

        assert isinstance(error, WorkflowFailureError)
        return Failure(REFUSED, f"dossier {code} failed: {_one_line(error.cause or error)}")
    if _raised(error, "temporalio.service", "RPCError"):
        from temporalio.service import RPCError, RPCStatusCode

        from cutru.platform.temporal import CONNECTION_RECYCLED

        assert isinstance(error, RPCError)
        message = _one_line(error)
        if error.status == RPCStatusCode.NOT_FOUND:
            if "already completed" in message:
                return Failure(REFUSED, f"dossier {code} is closed: {message}")
            if "namespace" in message.lower() or not code:
                return Failure(NOT_FOUND, f"not found: {message}")
            return Failure(NOT_FOUND, f"no dossier {code}")
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            return Failure(UNREACHABLE, f"the Temporal server is unreachable: {message}")
        if error.status == CONNECTION_RECYCLED:
            return Failure(UNREACHABLE, f"the Temporal server dropped the call ({message}): run the command again")
        if error.status == RPCStatusCode.RESOURCE_EXHAUSTED:  # a rate limit of the namespace or the server
            return Failure(UNREACHABLE, f"the Temporal server is busy ({message}): run the command again later")
        return Failure(REFUSED, f"refused by the Temporal server: {message}")
    if _raised(error, "asyncpg", "PostgresConnectionError", "CannotConnectNowError"):
        return Failure(UNREACHABLE, f"the database is unreachable: {_one_line(error)}")
    if _raised(error, "pydantic", "ValidationError"):  # a message model (a supplement, a withdrawal) refused its values
        from pydantic import ValidationError

        from domain.procedures.catalogue import field_errors

        assert isinstance(error, ValidationError)
        return Failure(USAGE, "invalid input: " + "; ".join(field_errors(error)))
    if isinstance(error, ValueError):  # a file that is not JSON
        return Failure(USAGE, f"invalid input: {_one_line(error)}")
    return None


# ---------------------------------------------------------------------------------------------- output


def _jsonable(value: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def emit(args: argparse.Namespace, value: Any, text: str | Callable[[], str]) -> None:
    """``--output json``: the value as JSON; otherwise the text (a callable is rendered only when needed)."""
    if args.output == "json":
        print(json.dumps(_jsonable(value), ensure_ascii=False, indent=2))
    else:
        print(text if isinstance(text, str) else text())


def status_text(status: DossierStatus) -> str:
    from domain.identity import mask_personal_id

    submission = dict(status.submission or {})
    applicant = dict(submission.get("applicant", {}))
    if "personal_id" in applicant:
        applicant["personal_id"] = mask_personal_id(str(applicant["personal_id"]))
    lines = [f"{status.dossier_code}  {status.procedure.value}  {status.state.value}"
             f"{'  OVERDUE' if status.overdue else ''}",
             f"  applicant: {json.dumps(applicant, ensure_ascii=False)}",
             f"  papers/details: {json.dumps(submission.get('details', {}), ensure_ascii=False)}",
             f"  consents: {len(submission.get('consents', []))}, delivery: {submission.get('delivery', {})}",
             f"  deadline: {status.deadline}  assigned: {status.assigned_officer}  fee: {status.fee_vnd} VND"]
    lines += [f"  finding: {finding}" for finding in status.findings]
    lines += [f"  refusal: {refusal.code}: {refusal.message}" for refusal in status.refusals]
    lines += [f"  {e.at:%Y-%m-%d %H:%M:%S}  {e.actor:<16} {e.action:<22} {e.detail}" for e in status.trail]
    return "\n".join(lines)


def queue_text(items: list[QueueItem]) -> str:
    if not items:
        return "nothing waiting"
    return "\n".join(
        f"{item.dossier_code:<20} {item.procedure:<32} {item.status:<20} "
        f"{f'{item.deadline:%Y-%m-%d %H:%M}' if item.deadline else '-':<16} {item.assigned_officer or '-':<12} "
        f"{'OVERDUE' if item.overdue else ''}".rstrip()
        for item in items
    )


class Progress:
    """``audit replay-all``'s progress line on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int | None, stream: TextIO = sys.stderr) -> None:
        self.total, self.stream = total, stream
        self.shown = stream.isatty()

    def __call__(self, _: audit.ReplayReport | None, summary: audit.BatchSummary) -> None:
        if self.shown:
            of = f"/{self.total}" if self.total else ""
            self.stream.write(f"\r{summary.replayed}{of} {summary.line()}")
            self.stream.flush()

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


# ---------------------------------------------------------------------------------------------- the citizen's


async def _submit(session: Session, args: argparse.Namespace) -> int:
    from cutru.clients.submission import check_submission

    try:
        raw = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except OSError as error:
        raise Failure(USAGE, f"cannot read {args.file}: {error.strerror}") from error
    submission = check_submission(raw)  # before connecting: an invalid file never reaches the server
    receipt = await (await session.dossiers()).submit(submission)
    emit(args, receipt, f"{receipt.dossier_code}: "
                        f"{'already submitted' if receipt.already_submitted else 'submitted'}")
    return OK


async def _status(session: Session, args: argparse.Namespace) -> int:
    status = await (await session.dossiers()).status(args.code)
    emit(args, status, lambda: status_text(status))
    return OK


async def _result(session: Session, args: argparse.Namespace) -> int:
    outcome = await (await session.dossiers()).result(args.code)
    emit(args, outcome, lambda: f"{outcome.dossier_code}: {outcome.state.value}"
         + "".join(f"\n  refusal: {r.code}: {r.message}" for r in outcome.refusals))
    return OK


async def _supplement(session: Session, args: argparse.Namespace) -> int:
    from domain.models import Supplement

    supplement = Supplement(provided_items=tuple(args.provided), note=args.note)
    dossiers = await session.dossiers()
    await dossiers.status(args.code)  # an unknown or closed dossier is said so, not signalled into the void
    await dossiers.supplement(args.code, supplement)
    emit(args, {"dossier_code": args.code, "sent": "supplement"}, f"{args.code}: supplement sent")
    return OK


async def _withdraw(session: Session, args: argparse.Namespace) -> int:
    from domain.models import Withdrawal

    withdrawal = Withdrawal(reason=args.reason)
    dossiers = await session.dossiers()
    await dossiers.status(args.code)
    await dossiers.withdraw(args.code, withdrawal)
    emit(args, {"dossier_code": args.code, "sent": "withdrawal"}, f"{args.code}: withdrawal sent")
    return OK


async def _pay(session: Session, args: argparse.Namespace) -> int:
    """What the local payment portal does: mark the order paid, then call the dossier back. With an HTTP gateway
    configured (CUTRU_PAYMENT_GATEWAY_URL: the local stack's ``cutru_local.gateway``), pay on its page instead: the
    gateway calls cutru back."""
    from activities.payment import GatewayConfig, GatewayConfigError, LocalPaymentGateway
    from domain.models import PaymentConfirmation

    dossiers = await session.dossiers()
    await dossiers.status(args.code)
    try:
        gateway = GatewayConfig.from_env(os.environ)
    except GatewayConfigError as error:
        raise Failure(USAGE, f"configuration: {error}") from error
    if gateway is not None:
        return await _pay_at_gateway(session, args, gateway)
    try:
        order = await LocalPaymentGateway(await session.pool()).pay(args.code)
    except LookupError as error:
        raise Failure(NOT_FOUND, f"no payment order for {args.code}: {error}") from error
    await dossiers.confirm_payment(args.code, PaymentConfirmation(order_id=order.order_id,
                                                                  amount_vnd=order.amount_vnd))
    emit(args, order, f"{args.code}: paid {order.amount_vnd} VND (order {order.order_id})")
    return OK


async def _pay_at_gateway(session: Session, args: argparse.Namespace, config: GatewayConfig) -> int:
    import httpx

    from activities.payment import HttpPaymentGateway, pay_at_local_gateway

    try:
        order = await HttpPaymentGateway(await session.pool(), config).order(args.code)
    except LookupError as error:
        raise Failure(NOT_FOUND, f"no payment order for {args.code}: {error}") from error
    if order.status != "pending" or order.payment_url is None:
        raise Failure(REFUSED, f"{args.code}: order {order.order_id} is {order.status}, there is nothing to pay")
    try:
        result = await pay_at_local_gateway(order.payment_url)
    except (OSError, httpx.HTTPError) as error:
        raise Failure(UNREACHABLE, f"the payment gateway is unreachable: {_one_line(error)}") from error
    except ValueError as error:
        raise Failure(REFUSED, f"{args.code}: {error}") from error
    emit(args, order, f"{args.code}: paid {order.amount_vnd} VND at the gateway (order {order.order_id}, transaction"
              f" {result.get('vnp_TransactionNo')}); the gateway notifies cutru")
    return OK


# ---------------------------------------------------------------------------------------------- the officer's


# The actions' words on the command line and their values in domain.models (DecisionKind, SignOffKind).
_DECISIONS = {"approve": "approve", "reject": "reject", "request-supplement": "request_supplement"}
_SIGN_OFFS = {"sign": "sign", "return": "return"}


async def _officer(session: Session, args: argparse.Namespace) -> int:
    """The desk through the API: who acts is the signed-in officer, whatever the command line says."""
    from cutru.api.client import token_from_env
    from cutru.clients.officer import DecisionRequest, ReassignmentRequest
    from cutru.clients.signoff import SignOffRequest
    from domain.models import DecisionKind, OfficerDecision, SignOffKind

    if args.action == "login":
        token = await token_from_env({k: v for k, v in os.environ.items() if k != "CUTRU_API_TOKEN"})
        emit(args, {"access_token": token}, token)
        return OK
    if args.action in _DECISIONS:
        # The decision's own rules (a reason for a rejection, the missing items) are checked before connecting.
        OfficerDecision(officer_id="CB-00000-00", decision=DecisionKind(_DECISIONS[args.action]),
                        reason=getattr(args, "reason", None), missing_items=tuple(getattr(args, "missing", ())))
    api = await session.api()
    if args.action in ("queue", "escalations", "sign-offs"):
        items = await (api.queue(mine=args.mine, procedure=args.procedure, state=args.state, unit=args.unit)
                       if args.action == "queue" else api.escalations(unit=args.unit) if args.action == "escalations"
                       else api.sign_offs())
        emit(args, items, lambda: queue_text(items))
    elif args.action in _SIGN_OFFS:
        signed = await api.sign_off(args.code, SignOffRequest(decision=SignOffKind(_SIGN_OFFS[args.action]),
                                                             reason=getattr(args, "reason", None)),
                                    idempotency_key=args.idempotency_key)
        emit(args, signed, f"{signed.dossier_code}: {'signed' if args.action == 'sign' else 'returned to the officer'}")
    elif args.action == "show":
        dossier = await api.dossier(args.code)
        emit(args, dossier, lambda: status_text(dossier))
    elif args.action == "reassign":
        dossier = await api.reassign(args.code, ReassignmentRequest(officer_id=args.to, reason=args.reason),
                                     idempotency_key=args.idempotency_key)
        emit(args, dossier, f"{dossier.dossier_code}: reassigned to {dossier.assigned_officer}")
    else:
        request = DecisionRequest(decision=DecisionKind(_DECISIONS[args.action]), reason=getattr(args, "reason", None),
                                  missing_items=tuple(getattr(args, "missing", ())))
        receipt = await api.decide(args.code, request, idempotency_key=args.idempotency_key)
        emit(args, receipt, f"{receipt.dossier_code}: decision accepted ({args.action})")
    return OK


# ---------------------------------------------------------------------------------------------- the auditor's


async def _audit_replay(session: Session, args: argparse.Namespace) -> int:
    from cutru.clients import audit
    from cutru.platform import codec

    if args.file:
        try:
            history = audit.load_history(Path(args.file))
        except (OSError, ValueError, KeyError) as error:
            raise Failure(USAGE, f"cannot read {args.file}: {_one_line(error)}") from error
        report = await audit.replay(history, codec.replay_converter(codec.KeyRing.from_env()))
    else:
        report = await (await session.api()).replay(args.code)
    emit(args, report, lambda: _report_text(report))
    return OK if report.deterministic else REFUSED


def _report_text(report: audit.ReplayReport) -> str:
    from cutru.clients import audit

    out = StringIO()
    audit.print_report(report, out)
    return out.getvalue().rstrip("\n")


async def _audit_replay_all(session: Session, args: argparse.Namespace) -> int:
    from cutru.clients import audit
    from cutru.platform import codec

    converter = codec.replay_converter(codec.KeyRing.from_env())
    unreadable: list[str] = []
    if args.dir:
        paths = sorted(Path(args.dir).glob("*.json"))
        histories = audit.histories_from_files(paths, unreadable)
        total: int | None = len(paths)
    else:
        client = await session.client()
        query = audit.closed_dossiers_query(args.procedure, args.unit, args.since, args.until, args.query)
        total = (await client.count_workflows(query)).count
        histories = audit.histories_from_server(client, query)
    progress = Progress(total)
    shown: list[audit.ReplayReport] = []

    def on_report(report: audit.ReplayReport | None, summary: audit.BatchSummary) -> None:
        if report is not None and (args.verbose or not report.deterministic):
            if args.output == "json":
                shown.append(report)
            else:
                progress.done()
                print(_report_text(report))
        progress(report, summary)

    summary, _ = await audit.replay_stream(histories, converter, on_report, keep_reports=False)
    progress.done()
    for line in unreadable:
        print(line, file=sys.stderr)
    summary = summary.model_copy(update={"replayed": summary.replayed + len(unreadable),
                                         "failed": summary.failed + len(unreadable)})
    emit(args, {"summary": summary, "reports": shown}, summary.line())
    return OK if summary.ok == summary.replayed else REFUSED


async def _audit_trail(session: Session, args: argparse.Namespace) -> int:
    trail = await (await session.api()).trail(args.code)
    emit(args, trail, lambda: "\n".join(
        [f"{trail.dossier_code}  {trail.police_unit}"]
        + [f"  {e.at:%Y-%m-%d %H:%M:%S}Z  {e.actor:<16} {e.action:<22} {e.detail}" for e in trail.entries]))
    return OK


async def _audit_export(session: Session, args: argparse.Namespace) -> int:
    """Dossier codes through the API; a visibility query straight from Temporal (an operator's tool)."""
    from cutru.clients import audit

    if not args.query and not args.codes:
        raise Failure(USAGE, "export needs dossier codes or --query")
    target = Path(args.dir)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    if args.query:
        async for history in audit.histories_from_server(await session.client(), args.query):
            path = target / f"{history.workflow_id}.json"
            path.write_text(history.to_json(), encoding="utf-8")
            written.append(str(path))
    else:
        api = await session.api()
        for code in args.codes:
            path = target / f"{code}.json"
            await api.export_history(code, path)
            written.append(str(path))
    emit(args, {"exported": written}, f"exported {len(written)} histories to {target}")
    return OK


# ---------------------------------------------------------------------------------------------- the operator's


async def _close(session: Session, args: argparse.Namespace) -> int:
    """Through the API, as the operator the token names (role ``operator``)."""
    from cutru.api.views import ClosureRequest

    receipt = await (await session.api()).close(args.code, ClosureRequest(reason=args.reason),
                                                 idempotency_key=args.idempotency_key)
    emit(args, receipt, f"{receipt.dossier_code}: {receipt.state.value} by {receipt.closed_by}: {receipt.reason}")
    return OK


async def _migrate(session: Session, args: argparse.Namespace) -> int:
    import asyncpg

    from cutru.platform.db.migrate import migrate

    url = args.database_url or session.settings.database_url
    try:
        connection = await asyncpg.connect(url, timeout=10)
    except _database_errors() as error:
        raise _database_down(url, error) from error
    await connection.close()
    applied = await migrate(url)
    emit(args, {"applied": applied}, f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
    return OK


async def _attachments_purge(session: Session, args: argparse.Namespace) -> int:
    from cutru.platform import storage

    store = storage.open_store(storage.attachment_settings_from_env())
    pool = await session.pool()
    released = 0 if args.dossier is None else await storage.release_dossier(pool, store, args.dossier)
    orphans = await storage.purge_orphans(pool, store, datetime.now(UTC) - timedelta(days=args.orphan_days))
    emit(args, {"released": released, "orphans": orphans},
         f"removed {released} file(s) of dossier {args.dossier} and {orphans} file(s) no dossier carries"
         if args.dossier else f"removed {orphans} file(s) no dossier carries")
    return OK


def _calendar_text(snapshot: CalendarSnapshot) -> str:
    lines = [f"calendar declarations, version {snapshot.version}"]
    lines += [f"  {d.day.isoformat()}  {d.kind:<12} {d.decision}" for d in snapshot.declarations]
    return "\n".join(lines)


_CALENDAR_KINDS: dict[str, rules.CalendarKind] = {"day-off": "day_off", "working-day": "working_day",
                                                   "withdraw": "withdrawn"}


async def _calendar(session: Session, args: argparse.Namespace) -> int:
    from activities.facts import calendar_snapshot
    from cutru.clients import rules

    async with (await session.pool()).acquire() as conn:
        if args.action == "list":
            snapshot = await calendar_snapshot(conn)
        else:
            kind = _CALENDAR_KINDS[args.action]
            try:
                snapshot = await rules.declare_day(conn, date.fromisoformat(args.day), kind, args.decision)
            except rules.DeclarationRefused as error:
                raise Failure(USAGE, f"refused: {error}") from error
    emit(args, snapshot, lambda: _calendar_text(snapshot))
    return OK


async def _rules_province(session: Session, args: argparse.Namespace) -> int:
    from cutru.clients import rules
    from domain.rulesets import ProvincialSetting

    async with (await session.pool()).acquire() as conn:
        if args.action == "provinces":
            values = await rules.provincial_values(conn, args.province)
        else:
            try:
                values = [await rules.set_provincial(
                    conn, args.province, ProvincialSetting.MIN_FLOOR_AREA_PER_PERSON_M2,
                    Decimal(args.min_floor_area), date.fromisoformat(args.effective), args.decision)]
            except (rules.DeclarationRefused, ArithmeticError) as error:
                raise Failure(USAGE, f"refused: {error}") from error
    emit(args, values, lambda: "\n".join(
        f"{v.province_code}  {v.setting}  {v.value}  from {v.effective_from.isoformat()}  {v.decision}"
        for v in values) or "no provincial settings")
    return OK


async def _rules_impact(session: Session, args: argparse.Namespace) -> int:
    from cutru.clients import rules
    from domain.rulesets import RuleSet

    try:
        candidate = RuleSet.model_validate_json(Path(args.rules).read_text(encoding="utf-8"))
    except OSError as error:
        raise Failure(USAGE, f"cannot read the rule set: {_one_line(error)}") from error
    if args.effective:
        candidate = candidate.model_copy(update={"effective_from": date.fromisoformat(args.effective)})
    report = await rules.impact(await session.pool(), await session.dossiers(), candidate)
    emit(args, report, lambda: "\n".join(
        [f"{len(report.impacts)} of {report.judged} open dossier(s) judged differently under the rules of "
         f"{candidate.effective_from.isoformat()}"]
        + [f"{i.dossier_code}  {i.procedure.value}\n" + "\n".join(
            f"  {c.aspect}: {c.before} -> {c.after}" for c in i.changes) for i in report.impacts]
        + [f"not in the workflow engine: {code}" for code in report.not_in_engine]))
    return OK


async def _worker_check(session: Session, args: argparse.Namespace) -> int:
    await session.client()
    await (await session.pool()).fetchval("SELECT 1")
    emit(args, {"healthy": True}, "healthy")
    return OK


def _worker(args: argparse.Namespace) -> int:
    if args.check:
        return _run(_worker_check, args)
    from cutru.platform.config import load_settings
    from cutru.platform.logging import configure_logging
    from cutru.platform.temporal import run_worker_process
    from cutru.service import worker as worker_process

    settings = load_settings()
    configure_logging(settings.log_level)  # the worker's own level (CUTRU_LOG_LEVEL), not the command's
    run_worker_process(worker_process.run(settings, set_current=args.set_current), settings)
    return OK


def _schemas(args: argparse.Namespace) -> int:
    from cutru.api.app import openapi_stale, write_openapi
    from cutru.clients import schemas

    if args.check:
        problems = schemas.stale() + (["openapi.json"] if openapi_stale() else [])
        emit(args, {"stale": problems}, ("stale schemas (run `cutru schemas`): " + ", ".join(problems))
             if problems else "schemas up to date")
        return REFUSED if problems else OK
    schemas.write()
    write_openapi()
    written = sorted([*schemas.render(), "openapi.json"])
    emit(args, {"written": written, "directory": str(schemas.SCHEMA_DIR)},
         f"wrote {len(written)} schemas to {schemas.SCHEMA_DIR}")
    return OK


def _generate_key(args: argparse.Namespace) -> int:
    from cutru.platform import codec

    line = codec.new_key_line(args.key_id)
    emit(args, {"key": line}, line)
    return OK


def _codec_server(args: argparse.Namespace) -> int:
    from cutru.service import codec_server

    argv = ["--host", args.host, "--port", str(args.port)]
    for origin in args.allowed_origins or ():
        argv += ["--allowed-origin", origin]
    return codec_server.main(argv)


# ---------------------------------------------------------------------------------------------- the parser


Command = Callable[[Session, argparse.Namespace], Awaitable[int]]


def _run(command: Command, args: argparse.Namespace) -> int:
    async def session() -> int:
        current = Session(args)
        try:
            return await command(current, args)
        finally:
            await current.close()

    return asyncio.run(session())


def _async(command: Command) -> Callable[[argparse.Namespace], int]:
    return lambda args: _run(command, args)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30, width=100)


def _add(subcommands: Any, name: str, help_text: str, handler: Callable[[argparse.Namespace], int] | None = None,
         ) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subcommands.add_parser(name, help=help_text, description=help_text,
                                                             formatter_class=_formatter)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def _citizen_commands(commands: Any) -> None:
    _add(commands, "submit", "validate a submission file and start its dossier", _async(_submit)).add_argument(
        "file", help="the submission, JSON (schemas/ has its JSON Schema)")
    _add(commands, "status", "a dossier's state, deadline and trail", _async(_status)).add_argument("code")
    _add(commands, "result", "wait for a dossier's outcome", _async(_result)).add_argument("code")
    supplement = _add(commands, "supplement", "the citizen supplies the items an officer requested (CT05)",
                      _async(_supplement))
    supplement.add_argument("code")
    supplement.add_argument("--provided", action="append", required=True, metavar="ITEM",
                            help="an item supplied (repeatable)")
    supplement.add_argument("--note")
    withdraw = _add(commands, "withdraw", "the citizen withdraws the dossier", _async(_withdraw))
    withdraw.add_argument("code")
    withdraw.add_argument("--reason", required=True)
    _add(commands, "pay", "pay a dossier's fee at the local payment gateway (development stack only)",
         _async(_pay)).add_argument("code")


def _officer_commands(commands: Any) -> None:
    officer = _add(commands, "officer", "the officer's desk through the API: the unit's queue, a dossier, decisions "
                                        "(you are the officer your token names)")
    actions = officer.add_subparsers(dest="action", required=True, metavar="ACTION")
    handler = _async(_officer)
    _add(actions, "login", "sign in (authorization code + PKCE in a browser) and print the token for "
                           "CUTRU_API_TOKEN", handler)
    queue = _add(actions, "queue", "the unit's dossiers waiting: overdue first, then by deadline", handler)
    queue.add_argument("--mine", action="store_true", help="only dossiers assigned to me")
    queue.add_argument("--procedure", help="workflow type, e.g. PermanentResidenceRegistration")
    queue.add_argument("--state", choices=("awaiting_decision", "awaiting_supplement"))
    _add(actions, "show", "one dossier in full (ID numbers masked)", handler).add_argument("code")
    writes = [_add(actions, "approve", "approve the dossier", handler)]
    reject = _add(actions, "reject", "reject the dossier (CT06)", handler)
    reject.add_argument("--reason", required=True, help="printed on the CT06 refusal")
    request = _add(actions, "request-supplement", "ask the citizen for missing items (CT05); the deadline stops",
                   handler)
    request.add_argument("--missing", action="append", required=True, metavar="ITEM",
                         help="a missing item (repeatable)")
    escalations = _add(actions, "escalations", "supervisor: the unit's dossiers overdue or due within a working day",
                       handler)
    for listing in (queue, escalations):
        listing.add_argument("--unit", metavar="CA-xxxxx", help="one of your units (default: all of them)")
    reassign = _add(actions, "reassign", "supervisor: give the dossier to another officer", handler)
    reassign.add_argument("--to", required=True, metavar="ID")
    reassign.add_argument("--reason", required=True)
    _add(actions, "sign-offs", "head: the unit's approvals proposed by officers, waiting for your signature", handler)
    sign = _add(actions, "sign", "head: approve the proposal; the result is issued in your name", handler)
    returned = _add(actions, "return", "head: send the proposal back to the officer, who decides again", handler)
    returned.add_argument("--reason", required=True, help="what the officer should look at again")
    for parser in (*writes, reject, request, reassign, sign, returned):
        parser.add_argument("code")
        parser.add_argument("--idempotency-key", metavar="KEY",
                            help="the same key sent again is answered as the first time, never acted on twice")


def _audit_commands(commands: Any) -> None:
    auditor = _add(commands, "audit", "decision trails and determinism verdicts from Temporal histories")
    actions = auditor.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(actions, "trail", "one dossier's decision trail as the audit table recorded it",
         _async(_audit_trail)).add_argument("code")
    one = _add(actions, "replay", "one dossier: its decision trail and determinism verdict (exit 1 if not)",
               _async(_audit_replay))
    source = one.add_mutually_exclusive_group(required=True)
    source.add_argument("code", nargs="?", help="the dossier code, replayed by the API")
    source.add_argument("--file", help="an exported history (JSON) instead of the server")
    many = _add(actions, "replay-all", "every closed dossier matching a query (from Temporal: an operator's tool), or "
                                       "every file in --dir, through one replayer (exit 1 if any fails)",
                _async(_audit_replay_all))
    many.add_argument("--procedure", help="workflow type, e.g. PermanentResidenceRegistration")
    many.add_argument("--unit", help="police unit, e.g. CA-00070")
    many.add_argument("--since", help="closed at or after (RFC 3339 date or time)")
    many.add_argument("--until", help="closed before")
    many.add_argument("--query", help="extra visibility query")
    many.add_argument("--dir", help="replay exported history files instead of the server")
    many.add_argument("--verbose", action="store_true", help="print every trail, not only failures")
    export = _add(actions, "export", "save histories as JSON files for archiving", _async(_audit_export))
    export.add_argument("codes", nargs="*", metavar="code", help="dossier codes, exported by the API")
    export.add_argument("--query", help="a visibility query instead of codes (from Temporal: an operator's tool)")
    export.add_argument("--dir", required=True)


def _operator_commands(commands: Any) -> None:
    options.worker_arguments(_add(commands, "worker", "run a worker process (every workflow and activity)", _worker))
    api_server.add_arguments(_add(commands, "api", "serve the HTTP API (uvicorn; CUTRU_API_HOST, CUTRU_API_PORT)",
                                  api_server.command))
    _add(commands, "schemas", "regenerate the JSON Schemas and openapi.json in schemas/", _schemas).add_argument(
        "--check", action="store_true", help="exit 1 when the committed files are stale")
    close = _add(commands, "close", "end a dossier that cannot proceed, with a reason: it ends cancelled "
                                    "(through the API, an operator's token; docs/reliability.md)", _async(_close))
    close.add_argument("code")
    close.add_argument("--reason", required=True, help="why: in the dossier's trail, the audit table and its status")
    close.add_argument("--idempotency-key", metavar="KEY",
                       help="the same key sent again is answered as the first time, never acted on twice")
    _add(commands, "migrate", "apply pending database migrations", _async(_migrate)).add_argument(
        "--database-url", help="defaults to DATABASE_URL")
    files = _add(commands, "attachments", "the attachment store (docs/attachments.md)")
    purge = _add(files.add_subparsers(dest="action", required=True, metavar="ACTION"), "purge",
                 "remove the files of a deleted dossier and those no dossier carries", _async(_attachments_purge))
    purge.add_argument("--dossier", help="release this dossier's files first (its attachments are deleted with it)")
    purge.add_argument("--orphan-days", type=int, default=7,
                       help="remove files uploaded more than this many days ago that no dossier carries (default 7)")
    keys = _add(commands, "codec", "payload encryption keys")
    generate = _add(keys.add_subparsers(dest="action", required=True, metavar="ACTION"), "generate-key",
                    "print a new keyid:base64key entry for CUTRU_PAYLOAD_KEYS", _generate_key)
    generate.add_argument("--id", dest="key_id", help="key id (default: k<date>-<random>)")
    server = _add(commands, "codec-server", "the codec server that decrypts payloads for the Web UI and CLI",
                  _codec_server)
    options.codec_server_arguments(server)


def _rules_commands(commands: Any) -> None:
    calendar = _add(commands, "calendar", "operators' calendar exceptions: days off and swapped working days "
                                          "(docs/rules.md)")
    actions = calendar.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(actions, "list", "the declarations in force and their version", _async(_calendar))
    for action, help_text in (("day-off", "declare an extra day off"),
                              ("working-day", "declare a weekend day worked in exchange (ngày làm bù)"),
                              ("withdraw", "take back a day's declaration")):
        declare = _add(actions, action, help_text, _async(_calendar))
        declare.add_argument("day", help="YYYY-MM-DD")
        declare.add_argument("--decision", required=True, help="the decision that made it, e.g. the Ministry's "
                                                              "notice number")
    rule_sets = _add(commands, "rules", "the rule sets and what provinces set (docs/rules.md)")
    actions = rule_sets.add_subparsers(dest="action", required=True, metavar="ACTION")
    province = _add(actions, "province", "record a provincial People's Council's setting", _async(_rules_province))
    province.add_argument("province", help="province code, e.g. 01")
    province.add_argument("--min-floor-area", required=True, metavar="M2",
                          help="minimum floor area per person, m² (never below the law's)")
    province.add_argument("--effective", required=True, metavar="YYYY-MM-DD")
    province.add_argument("--decision", required=True, help="the resolution, e.g. \"Nghị quyết 12/2027/NQ-HĐND\"")
    _add(actions, "provinces", "the provincial settings recorded", _async(_rules_province)).add_argument(
        "--province", help="one province's only")
    impact = _add(actions, "impact", "before a rule set takes effect: the open dossiers whose deadline, fee, "
                                     "documents or outcome it would change", _async(_rules_impact))
    impact.add_argument("--rules", required=True, metavar="FILE", help="the candidate rule set (JSON, as in "
                                                                       "domain/rules/)")
    impact.add_argument("--effective", metavar="YYYY-MM-DD", help="its effective date, when the file's is a draft's")


def _output_option(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument("-o", "--output", choices=("text", "json"),
                        default=argparse.SUPPRESS if default is None else default,
                        help="text for people (default), json for programs")


def _output_everywhere(parser: argparse.ArgumentParser) -> None:
    """``-o json`` after the subcommand too (``cutru status X -o json``), as the temporal CLI takes it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if "--output" not in sub._option_string_actions:
                    _output_option(sub, None)
                _output_everywhere(sub)


def _plugin_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for entry in entry_points(group=COMMANDS_GROUP):
        try:
            add_commands = entry.load()
        except (ImportError, AttributeError) as error:  # a broken extra must not take the other commands down
            print(f"cutru: commands {entry.name} ({entry.value}) unavailable: {_one_line(error)}", file=sys.stderr)
            continue
        add_commands(commands)


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command's parser. Told the ``command`` a command line names, it leaves out the other distributions'
    commands when that one is the product's own: importing them (cutru-local's stack and seed) would cost it."""
    root = argparse.ArgumentParser(prog="cutru", description=__doc__, epilog=EXIT_CODES, formatter_class=_formatter)
    _output_option(root, "text")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _citizen_commands(commands)
    _officer_commands(commands)
    _audit_commands(commands)
    _operator_commands(commands)
    _rules_commands(commands)
    if command not in commands.choices:
        _plugin_commands(commands)
    _output_everywhere(root)
    return root


def _command_named(argv: Sequence[str]) -> str | None:
    """The command a command line names: its first word that is neither an option nor the root's option's value."""
    words = iter(argv)
    for word in words:
        if word in ("-o", "--output"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. ``main()`` is the program: it exits (without interpreter teardown, which can abort after
    a Temporal client was used: sdk-python #300); ``main(argv)`` returns the exit code."""
    # A usage error exits 2 here, with argparse's message.
    args = parser(_command_named(sys.argv[1:] if argv is None else argv)).parse_args(argv)
    if argv is None:
        from cutru.platform.logging import configure_logging, forward_core_logs

        # Logs (the SDK's warnings, a worker's lines) are JSON on stderr; stdout keeps only the answer.
        configure_logging("WARNING")
        forward_core_logs()
    try:
        code = int(args.handler(args))
    except KeyboardInterrupt:
        code = 130
    except Exception as error:
        failure = _failure(error, args)
        if failure is None:
            raise
        print(f"cutru: {failure}", file=sys.stderr)
        code = failure.code
    if argv is None:
        exit_now(code)
    return code


if __name__ == "__main__":
    main()
