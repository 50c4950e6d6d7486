"""The auditor's tool: a dossier's decision trail read from its Temporal history, and a determinism verdict.

    python -m cutru.clients.audit replay HS-2026-000001                 # from the server
    python -m cutru.clients.audit replay --file archive/HS-2026-000001.json
    python -m cutru.clients.audit replay-all --procedure PermanentResidenceRegistration --unit CA-00070 \
        --since 2026-11-01
    python -m cutru.clients.audit replay-all --dir tests/histories      # exported files
    python -m cutru.clients.audit export --query 'DossierStatus = "completed"' --dir archive/

The trail is built from the history events themselves (the submission, each activity's result, each signal and
accepted update, the timers, the result), so it cannot disagree with what happened. Replaying the history against
the current workflow code proves that code still takes the same decisions; ``replay-all`` exits 1 when any
history fails. Payloads are decrypted with the keys in CUTRU_PAYLOAD_KEYS / CUTRU_PAYLOAD_KEY_FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from cutru.clients import exit_now
from cutru.platform.codec import KeyRing, data_converter
from cutru.platform.config import load_settings
from cutru.platform.temporal import connect
from domain.identity import mask_personal_id
from domain.models import Boundary
from workflows.procedures import ALL_WORKFLOWS
from workflows.sandbox import checking_runner


class TrailLine(Boundary):
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
    trail: tuple[TrailLine, ...] = ()


# The marker the SDK records for each local activity (workflows/lifecycle.py runs cutru's own steps so).
LOCAL_ACTIVITY_MARKER = "core_local_activity"


async def _values(converter: DataConverter, payloads: Payloads) -> list[Any]:
    return await converter.decode(payloads.payloads) if payloads.payloads else []


def _entries(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(r["entry"]["actor"], r["entry"]["action"], r["entry"].get("detail", "")) for r in records]


def _summarise_activity(name: str, arg: Any, result: Any) -> list[tuple[str, str, str]]:
    """(actor, action, detail) lines for an activity's completion; none for pure bookkeeping."""
    result = result or {}
    if name == "record_event":
        return _entries(arg.get("records") or result.get("records", []))
    if name in ("validate_identity", "check_eligibility", "accept_immediately"):
        refusals = [r["code"] for r in result.get("refusals", [])]
        step = {"validate_identity": "identity_checked", "check_eligibility": "eligibility_checked"}.get(
            name, "checked_and_recorded")
        return [("system", step, ("refused: " + ", ".join(refusals)) if refusals else "ok")]
    if name == "accept_dossier":
        return [("system", "accepted", f"CT04 issued, assigned to {result.get('assigned_officer')}")]
    if name == "request_payment":
        return [("payment-gateway", "fee_requested", f"{result.get('amount_vnd')} VND, order {result.get('order_id')}")]
    if name == "commit_residence":
        return [("system", "records_committed", ", ".join(f"{k}={v}" for k, v in result.get("summary", {}).items()))]
    if name == "deliver_result":
        delivered = ("system", "result_delivered", f"{result.get('method')}: {', '.join(result.get('documents', []))}")
        return [*_entries(arg.get("audit") or result.get("audit", [])), delivered]
    if name == "record_stays":
        return [("system", f"stay_{o.get('state')}",
                 f"{o.get('dossier_code')}" + "".join(f"; {r.get('code')}" for r in o.get("refusals", [])))
                for o in result.get("outcomes", [])]
    if name == "issue_document":
        return [("system", "document_issued", ", ".join(arg.get("kinds", [])))]
    return []


def _decision_detail(value: dict[str, Any]) -> str:
    parts = [value.get("decision", "?")]
    if value.get("reason"):
        parts.append(f"reason: {value['reason']}")
    if value.get("missing_items"):
        parts.append("missing: " + ", ".join(value["missing_items"]))
    return "; ".join(parts)


async def decision_trail(history: WorkflowHistory, converter: DataConverter) -> list[TrailLine]:
    """Read who decided what, when and why, straight from the history events."""
    lines: list[TrailLine] = []
    scheduled: dict[int, tuple[str, Any]] = {}

    def add(event: HistoryEvent, actor: str, action: str, detail: str = "") -> None:
        lines.append(TrailLine(at=event.event_time.ToDatetime().replace(tzinfo=None), actor=actor, action=action,
                               detail=detail))

    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            attrs = event.workflow_execution_started_event_attributes
            values = await _values(converter, attrs.input)
            submission = values[0] if values and isinstance(values[0], dict) else {}
            if attrs.workflow_type.name == "StayRegister":  # its input is the register's key, not a submission
                register = f"{submission.get('register_id')}: unit {submission.get('police_unit')}"
                add(event, "system", "register_opened", f"{register}, day {submission.get('day')}")
                continue
            applicant = submission.get("applicant", {})
            add(event, "citizen", "submitted", f"{attrs.workflow_type.name}: {applicant.get('full_name', '?')} "
                f"({mask_personal_id(str(applicant.get('personal_id', '')))}), unit {submission.get('police_unit')}")
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduling = event.activity_task_scheduled_event_attributes
            values = await _values(converter, scheduling.input)
            scheduled[event.event_id] = (scheduling.activity_type.name, values[0] if values else None)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completion = event.activity_task_completed_event_attributes
            name, arg = scheduled.get(completion.scheduled_event_id, ("?", None))
            values = await _values(converter, completion.result)
            for line in _summarise_activity(name, arg or {}, values[0] if values else None):
                add(event, *line)
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            # A local activity's marker: its type in ``data``, its result (when it succeeded) in ``result``.
            if marker.marker_name == LOCAL_ACTIVITY_MARKER and "result" in marker.details:
                data = (await _values(converter, marker.details["data"]))[0]
                values = await _values(converter, marker.details["result"])
                for line in _summarise_activity(str(data.get("activity_type")), {}, values[0] if values else None):
                    add(event, *line)
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
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            add(event, "system", "timer_fired")
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            values = await _values(converter, event.workflow_execution_completed_event_attributes.result)
            outcome = values[0] if values and isinstance(values[0], dict) else {}
            if "register_id" in outcome:  # a stay register's summary
                add(event, "system", "register_closed", f"{outcome.get('received')} received: "
                    f"{outcome.get('recorded')} recorded, {outcome.get('refused')} refused")
                continue
            add(event, "system", f"final: {outcome.get('state')}",
                "; ".join(r.get("message", "") for r in outcome.get("refusals", [])))
    return lines


def _workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


async def replay(history: WorkflowHistory, converter: DataConverter) -> ReplayReport:
    replayer = Replayer(workflows=list(ALL_WORKFLOWS), data_converter=converter,
                        workflow_runner=checking_runner())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    failure = result.replay_failure
    return ReplayReport(
        workflow_id=history.workflow_id,
        workflow_type=_workflow_type(history),
        events=len(history.events),
        deterministic=failure is None,
        failure=f"{type(failure).__name__}: {failure}" if failure else None,
        trail=tuple(await decision_trail(history, converter)),
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
    for line in report.trail:
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
