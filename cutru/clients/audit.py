"""The auditor's tool: a dossier's decision trail read from its Temporal history, and a determinism verdict.

    cutru audit replay HS-2026-000001                 # from the server
    cutru audit replay --file archive/HS-2026-000001.json
    cutru audit replay-all --procedure PermanentResidenceRegistration --unit CA-00070 --since 2026-11-01
    cutru audit replay-all --dir tests/histories      # exported files
    cutru audit export --query 'DossierStatus = "completed"' --dir archive/

Replaying the history against the current workflow code proves that code still takes the same decisions; the
decision trail is the one the replayed workflow keeps (typed entries: who, when, what, why), and the messages that
reached it (the filing, signals, accepted updates) are read from the history events. ``replay-all`` exits 1 when
any history fails. Payloads are decrypted with the keys in CUTRU_PAYLOAD_KEYS / CUTRU_PAYLOAD_KEY_FILE.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
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

from domain.identity import mask_personal_id
from domain.models import Boundary, TrailEntry
from workflows.dispatch import NOT_A_DOSSIER
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
    source: Literal["temporal", "archive"] | None = Field(
        default=None, description="where the history was read: temporal, or archive (exported when the dossier "
                                  "closed, once Temporal's retention has removed the workflow); none for a file")


async def _values(converter: DataConverter, payloads: Payloads) -> list[Any]:
    return await converter.decode(payloads.payloads) if payloads.payloads else []


def _decision_detail(value: dict[str, Any]) -> str:
    parts = [value.get("decision", "?")]
    if value.get("reason"):
        parts.append(f"reason: {value['reason']}")
    if value.get("missing_items"):
        parts.append("missing: " + ", ".join(value["missing_items"]))
    return "; ".join(parts)


def _stay_notified(value: dict[str, Any]) -> tuple[str, str, str]:
    """Actor, action and detail of one stay notification: the host (ID number masked) and how many guests."""
    applicant, details = value.get("applicant"), value.get("details")
    host = applicant if isinstance(applicant, dict) else {}
    guests = details.get("guests", []) if isinstance(details, dict) else []
    return (mask_personal_id(str(host.get("personal_id", "?"))), "stay_notified",
            f"{value.get('dossier_code')}: {len(guests)} guest(s)")


async def messages(history: WorkflowHistory, converter: DataConverter) -> list[TrailLine]:
    """Who filed the dossier and who sent what to it, when, straight from the history events (the messages' names
    are the workflows' public contract, ``schemas/``)."""
    lines: list[TrailLine] = []

    def add(event: HistoryEvent, actor: str, action: str, detail: str = "") -> None:
        lines.append(TrailLine(at=event.event_time.ToDatetime(tzinfo=UTC), actor=actor, action=action,
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
                add(event, *_stay_notified(value))
            elif signal.signal_name == "notify_batch":  # an establishment's notifications in one message
                batch = values[0] if values and isinstance(values[0], list) else []
                for item in batch:
                    add(event, *_stay_notified(item if isinstance(item, dict) else {}))
            elif signal.signal_name == "payment_confirmed":
                add(event, "payment-gateway", "payment_confirmed", f"{value.get('amount_vnd')} VND")
            else:
                add(event, "citizen", signal.signal_name, str(value.get("reason") or value.get("provided_items", "")))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            values = await _values(converter, request.input.args)
            value = values[0] if values and isinstance(values[0], dict) else {}
            name = request.input.name
            if name == "decide":
                actor, detail = value.get("officer_id"), _decision_detail(value)
            elif name == "sign_off":
                signer = value.get("signer")
                actor = signer.get("officer_id") if isinstance(signer, dict) else None
                detail = f"{value.get('decision')}: {value.get('reason') or ''}".rstrip(": ")
            else:
                actor, detail = value.get("supervisor_id"), str(value.get("reason", ""))
            add(event, str(actor), f"update_{name}", detail)
    return lines


class _TrailCapture(Interceptor):
    """Reads the replayed workflow's own trail when its run ends (or, for a dossier still open, or a replay that
    failed, when the replayer lets it go: the trail as far as the history took it). One replayer takes many
    histories in turn, so each trail is kept under its workflow id until its report takes it."""

    def __init__(self) -> None:
        self.trails: dict[str, tuple[TrailEntry, ...]] = {}

    def take(self, workflow_id: str) -> tuple[TrailEntry, ...]:
        return self.trails.pop(workflow_id, ())

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        capture = self

        class _Inbound(WorkflowInboundInterceptor):
            async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
                try:
                    return await super().execute_workflow(input)
                finally:
                    instance = workflow.instance()
                    if isinstance(instance, Audited):
                        capture.trails[workflow.info().workflow_id] = instance.audit_trail()

        return _Inbound


def _workflow_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def _replayer(converter: DataConverter, capture: _TrailCapture) -> Replayer:
    return Replayer(workflows=list(ALL_WORKFLOWS), data_converter=converter, workflow_runner=checking_runner(),
                    interceptors=[capture])


async def _report(history: WorkflowHistory, failure: Exception | None, capture: _TrailCapture,
                  converter: DataConverter) -> ReplayReport:
    return ReplayReport(
        workflow_id=history.workflow_id,
        workflow_type=_workflow_type(history),
        events=len(history.events),
        deterministic=failure is None,
        failure=f"{type(failure).__name__}: {failure}" if failure else None,
        trail=capture.take(history.workflow_id),
        messages=tuple(await messages(history, converter)),
    )


async def replay(history: WorkflowHistory, converter: DataConverter) -> ReplayReport:
    """Replay the history against the current code: the determinism verdict, and the decision trail the workflow
    rebuilt on the way, read from the workflow itself (never inferred from which activities ran)."""
    capture = _TrailCapture()
    result = await _replayer(converter, capture).replay_workflow(history, raise_on_replay_failure=False)
    return await _report(history, result.replay_failure, capture, converter)


def load_history(path: Path) -> WorkflowHistory:
    """An exported history file is named ``<workflow id>.json``, or ``<workflow id>@<label>.json`` to keep several
    of one dossier; the id matters because the workflow checks it against the dossier code."""
    return WorkflowHistory.from_json(path.stem.split("@")[0], path.read_text(encoding="utf-8"))


def closed_dossiers_query(procedure: str | None, unit: str | None, since: str | None, until: str | None,
                          extra: str | None) -> str:
    clauses = ['ExecutionStatus != "Running"', NOT_A_DOSSIER]
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


async def histories_from_server(client: Client, query: str) -> AsyncIterator[WorkflowHistory]:
    """The histories of the executions the visibility query finds, fetched one at a time as they are replayed."""
    async for history in client.list_workflows(query).map_histories():
        yield history


async def histories_from_files(paths: Iterable[Path], unreadable: list[str]) -> AsyncIterator[WorkflowHistory]:
    """Exported history files; a file that is no history is named in ``unreadable`` and skipped."""
    for path in paths:
        try:
            yield load_history(path)
        except (OSError, ValueError, KeyError) as error:
            unreadable.append(f"{path.name}: cannot read: {error}")


def print_report(report: ReplayReport, out: Any = sys.stdout) -> None:
    verdict = "deterministic" if report.deterministic else f"NON-DETERMINISTIC ({report.failure})"
    source = f"  (history: {report.source})" if report.source else ""
    print(f"{report.workflow_id}  {report.workflow_type}  {report.events} events  replay: {verdict}{source}", file=out)
    for entry in report.trail:
        print(f"  {entry.at:%Y-%m-%d %H:%M:%S}Z  {entry.actor:<16} {entry.action:<22} {entry.detail}", file=out)
    print("  messages:", file=out)
    for line in report.messages:
        print(f"  {line.at:%Y-%m-%d %H:%M:%S}Z  {line.actor:<16} {line.action:<22} {line.detail}", file=out)


class BatchSummary(Boundary):
    """The count ``audit replay-all`` ends with: ``replayed N, ok N, non-deterministic N, failed N``."""

    replayed: int
    ok: int
    non_deterministic: int
    failed: int

    def line(self) -> str:
        return (f"replayed {self.replayed}, ok {self.ok}, non-deterministic {self.non_deterministic}, "
                f"failed {self.failed}")


async def _as_async(histories: Iterable[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


async def replay_stream(
    histories: AsyncIterator[WorkflowHistory] | Iterable[WorkflowHistory], converter: DataConverter,
    on_report: Callable[[ReplayReport | None, BatchSummary], None] | None = None, *, keep_reports: bool = True,
) -> tuple[BatchSummary, list[ReplayReport]]:
    """Replay every history through one ``Replayer``, as they come (a server query streams them).

    ``on_report`` sees each report (None for a history whose trail cannot be read) and the running summary, for
    a progress line; without ``keep_reports`` the reports are not kept, so that a long stream holds one at a time.
    A history whose trail cannot be read counts as failed.
    """
    stream = histories if isinstance(histories, AsyncIterator) else _as_async(histories)
    reports: list[ReplayReport] = []
    counts = {"ok": 0, "non_deterministic": 0, "failed": 0}

    def summary() -> BatchSummary:
        return BatchSummary(replayed=sum(counts.values()), **counts)

    capture = _TrailCapture()
    async with _replayer(converter, capture).workflow_replay_iterator(stream) as results:
        async for result in results:
            report: ReplayReport | None = None
            try:
                report = await _report(result.history, result.replay_failure, capture, converter)
            except (ValueError, RuntimeError, KeyError) as error:  # unreadable history: counted, never hidden
                counts["failed"] += 1
                print(f"{result.history.workflow_id}: cannot replay: {error}", file=sys.stderr)
            else:
                counts["ok" if report.deterministic else "non_deterministic"] += 1
                if keep_reports:
                    reports.append(report)
            if on_report:
                on_report(report, summary())
    return summary(), reports


async def replay_many(histories: Iterable[WorkflowHistory], converter: DataConverter) -> tuple[BatchSummary,
                                                                                               list[ReplayReport]]:
    return await replay_stream(histories, converter)
