"""The auditor's tool: a dossier's decision trail read from its Temporal history, and a determinism verdict.

    python -m cutru.clients.audit replay HS-2026-000001                 # from the server
    python -m cutru.clients.audit replay --file archive/HS-2026-000001.json
    python -m cutru.clients.audit replay-all --procedure PermanentResidenceRegistration --unit CA-00070 \
        --since 2026-11-01
    python -m cutru.clients.audit replay-all --dir tests/histories      # exported files
    python -m cutru.clients.audit export --query 'DossierStatus = "completed"' --dir archive/

Replaying the history against the current workflow code proves that code still takes the same decisions; the
decision trail is the one the replayed workflow keeps (typed entries: who, when, what, why), and the messages that
reached it (the filing, signals, accepted updates) are read from the history events. ``replay-all`` exits 1 when
any history fails. Payloads are decrypted with the keys in CUTRU_PAYLOAD_KEYS / CUTRU_PAYLOAD_KEY_FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio import workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    Replayer,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from cutru.clients import exit_now
from cutru.platform.codec import KeyRing, data_converter
from cutru.platform.config import load_settings
from cutru.platform.temporal import connect
from domain.identity import mask_personal_id
from domain.models import Boundary, TrailEntry
from workflows.procedures import ALL_WORKFLOWS
from workflows.progress import Audited
from workflows.sandbox import checking_runner
from workflows.stay_register import StayRegister


class TrailLine(Boundary):
    """A message from outside as the history holds it: the filing, a signal or an accepted update, and its sender."""

    at: datetime
    actor: str
    action: str
    detail: str = ""


class ReplayReport(Boundary):
    workflow_id: str
    workflow_type: str
    events: int
    deterministic: bool
    failure: str | None = None
    # The workflow's own decision trail as the replay rebuilt it: typed entries, the same the ``status`` query gave.
    trail: tuple[TrailEntry, ...] = ()
    # What reached the workflow from outside, read from the history events.
    messages: tuple[TrailLine, ...] = ()


async def _values(converter: DataConverter, payloads: Payloads) -> list[Any]:
    return await converter.decode(payloads.payloads) if payloads.payloads else []


def _decision_detail(value: dict[str, Any]) -> str:
    parts = [value.get("decision", "?")]
    if value.get("reason"):
        parts.append(f"reason: {value['reason']}")
    if value.get("missing_items"):
        parts.append("missing: " + ", ".join(value["missing_items"]))
    return "; ".join(parts)


async def messages(history: WorkflowHistory, converter: DataConverter) -> list[TrailLine]:
    """Who filed the dossier and who sent what to it, when, straight from the history events (the messages' names
    are the workflows' public contract, ``schemas/``)."""
    lines: list[TrailLine] = []

    def add(event: HistoryEvent, actor: str, action: str, detail: str = "") -> None:
        lines.append(TrailLine(at=event.event_time.ToDatetime().replace(tzinfo=None), actor=actor, action=action,
                               detail=detail))

    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            attrs = event.workflow_execution_started_event_attributes
            values = await _values(converter, attrs.input)
            submission = values[0] if values and isinstance(values[0], dict) else {}
            if attrs.workflow_type.name == StayRegister.__name__:  # its input is the register's key
                register = f"{submission.get('register_id')}: unit {submission.get('police_unit')}"
                add(event, "system", "register_opened", f"{register}, day {submission.get('day')}")
                continue
            applicant = submission.get("applicant", {})
            add(event, "citizen", "submitted", f"{attrs.workflow_type.name}: {applicant.get('full_name', '?')} "
                f"({mask_personal_id(str(applicant.get('personal_id', '')))}), unit {submission.get('police_unit')}")
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signal = event.workflow_execution_signaled_event_attributes
            values = await _values(converter, signal.input)
            value = values[0] if values and isinstance(values[0], dict) else {}
            if signal.signal_name == "officer_decision":
                add(event, str(value.get("officer_id", "?")), "decision_signal", _decision_detail(value))
            elif signal.signal_name == "notify":  # a stay register's notification
                applicant, details = value.get("applicant"), value.get("details")
                host = applicant if isinstance(applicant, dict) else {}
                guests = details.get("guests", []) if isinstance(details, dict) else []
                add(event, mask_personal_id(str(host.get("personal_id", "?"))), "stay_notified",
                    f"{value.get('dossier_code')}: {len(guests)} guest(s)")
            elif signal.signal_name == "payment_confirmed":
                add(event, "payment-gateway", "payment_confirmed", f"{value.get('amount_vnd')} VND")
            else:
                add(event, "citizen", signal.signal_name, str(value.get("reason") or value.get("provided_items", "")))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            values = await _values(converter, request.input.args)
            value = values[0] if values and isinstance(values[0], dict) else {}
            actor = str(value.get("officer_id") if request.input.name == "decide" else value.get("supervisor_id"))
            detail = _decision_detail(value) if request.input.name == "decide" else str(value.get("reason", ""))
            add(event, actor, f"update_{request.input.name}", detail)
    return lines


class _TrailCapture(Interceptor):
    """Reads the replayed workflow's own trail when its run ends (or, for a dossier still open, or a replay that
    failed, when the replayer lets it go: the trail as far as the history took it)."""

    def __init__(self) -> None:
        self.trail: tuple[TrailEntry, ...] = ()

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        capture = self

        class _Inbound(WorkflowInboundInterceptor):
            async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
                try:
                    return await super().execute_workflow(input)
                finally:
                    instance = workflow.instance()
                    if isinstance(instance, Audited):
                        capture.trail = instance.audit_trail()

        return _Inbound


def _workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


async def replay(history: WorkflowHistory, converter: DataConverter) -> ReplayReport:
    """Replay the history against the current code: the determinism verdict, and the decision trail the workflow
    rebuilt on the way, read from the workflow itself (never inferred from which activities ran)."""
    capture = _TrailCapture()
    replayer = Replayer(workflows=list(ALL_WORKFLOWS), data_converter=converter,
                        workflow_runner=checking_runner(), interceptors=[capture])
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    failure = result.replay_failure
    return ReplayReport(
        workflow_id=history.workflow_id,
        workflow_type=_workflow_type(history),
        events=len(history.events),
        deterministic=failure is None,
        failure=f"{type(failure).__name__}: {failure}" if failure else None,
        trail=capture.trail,
        messages=tuple(await messages(history, converter)),
    )


def load_history(path: Path) -> WorkflowHistory:
    """An exported history file is named ``<workflow id>.json``, or ``<workflow id>@<label>.json`` to keep several
    of one dossier; the id matters because the workflow checks it against the dossier code."""
    return WorkflowHistory.from_json(path.stem.split("@")[0], path.read_text(encoding="utf-8"))


def closed_dossiers_query(procedure: str | None, unit: str | None, since: str | None, until: str | None,
                          extra: str | None) -> str:
    clauses = ['ExecutionStatus != "Running"']
    if procedure:
        clauses.append(f'DossierProcedure = "{procedure}"')
    if unit:
        clauses.append(f'PoliceUnit = "{unit}"')
    if since:
        clauses.append(f'CloseTime >= "{since}"')
    if until:
        clauses.append(f'CloseTime < "{until}"')
    if extra:
        clauses.append(f"({extra})")
    return " AND ".join(clauses)


async def histories_from_server(client: Client, query: str) -> list[WorkflowHistory]:
    histories = []
    async for execution in client.list_workflows(query):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        histories.append(await handle.fetch_history())
    return histories


def print_report(report: ReplayReport, out: Any = sys.stdout) -> None:
    verdict = "deterministic" if report.deterministic else f"NON-DETERMINISTIC ({report.failure})"
    print(f"{report.workflow_id}  {report.workflow_type}  {report.events} events  replay: {verdict}", file=out)
    for entry in report.trail:
        print(f"  {entry.at:%Y-%m-%d %H:%M:%S}Z  {entry.actor:<16} {entry.action:<22} {entry.detail}", file=out)
    print("  messages:", file=out)
    for line in report.messages:
        print(f"  {line.at:%Y-%m-%d %H:%M:%S}Z  {line.actor:<16} {line.action:<22} {line.detail}", file=out)


class BatchSummary(Boundary):
    replayed: int
    ok: int
    non_deterministic: int
    failed: int


async def replay_many(histories: Iterable[WorkflowHistory], converter: DataConverter) -> tuple[BatchSummary,
                                                                                               list[ReplayReport]]:
    reports, failed = [], 0
    for history in histories:
        try:
            reports.append(await replay(history, converter))
        except (ValueError, RuntimeError, KeyError) as error:  # unreadable history: counted, never hidden
            failed += 1
            print(f"{history.workflow_id}: cannot replay: {error}", file=sys.stderr)
    ok = sum(r.deterministic for r in reports)
    summary = BatchSummary(replayed=len(reports) + failed, ok=ok, non_deterministic=len(reports) - ok, failed=failed)
    return summary, reports


async def _main(args: argparse.Namespace) -> int:
    converter = data_converter(KeyRing.from_env())
    if args.command == "replay":
        if args.file:
            history = load_history(Path(args.file))
        else:
            client = await connect(load_settings())
            history = await client.get_workflow_handle(args.code).fetch_history()
        report = await replay(history, converter)
        print_report(report)
        return 0 if report.deterministic else 1
    if args.command == "replay-all":
        if args.dir:
            histories: Sequence[WorkflowHistory] = [load_history(p) for p in sorted(Path(args.dir).glob("*.json"))]
        else:
            client = await connect(load_settings())
            query = closed_dossiers_query(args.procedure, args.unit, args.since, args.until, args.query)
            histories = await histories_from_server(client, query)
        summary, reports = await replay_many(histories, converter)
        for report in reports:
            if not report.deterministic or args.verbose:
                print_report(report)
        print(f"replayed {summary.replayed}, ok {summary.ok}, non-deterministic {summary.non_deterministic}, "
              f"failed {summary.failed}")
        return 0 if summary.ok == summary.replayed else 1
    client = await connect(load_settings())
    target = Path(args.dir)
    target.mkdir(parents=True, exist_ok=True)
    query = args.query or " OR ".join(f'WorkflowId = "{code}"' for code in args.codes)
    if not query:
        print("export needs dossier codes or --query", file=sys.stderr)
        return 2
    histories = await histories_from_server(client, query)
    for history in histories:
        (target / f"{history.workflow_id}.json").write_text(history.to_json(), encoding="utf-8")
    print(f"exported {len(histories)} histories to {target}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True)
    one = commands.add_parser("replay", help="one dossier: decision trail and determinism verdict")
    one.add_argument("code", nargs="?")
    one.add_argument("--file", help="an exported history (JSON) instead of the server")
    many = commands.add_parser("replay-all", help="every closed dossier matching a query, or every file in --dir")
    many.add_argument("--procedure")
    many.add_argument("--unit", help="police unit, e.g. CA-00070")
    many.add_argument("--since", help="closed at or after (RFC 3339 date or time)")
    many.add_argument("--until", help="closed before")
    many.add_argument("--query", help="extra visibility query")
    many.add_argument("--dir", help="replay exported history files instead of the server")
    many.add_argument("--verbose", action="store_true", help="print every trail, not only failures")
    export = commands.add_parser("export", help="save histories as JSON files for archiving")
    export.add_argument("codes", nargs="*")
    export.add_argument("--query")
    export.add_argument("--dir", required=True)
    return root


def main() -> None:
    args = parser().parse_args()
    if args.command == "replay" and not (args.code or args.file):
        parser().error("replay needs a dossier code or --file")
    exit_now(asyncio.run(_main(args)))


if __name__ == "__main__":
    main()
