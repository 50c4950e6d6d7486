"""End-of-run checks, in Temporal and in PostgreSQL, of every dossier the campaign submitted.

A dossier is

- **lost** when its submission was acknowledged but Temporal has no workflow for it, its workflow closed without a
  dossier outcome (failed, terminated, timed out), or an effect its outcome requires is missing (a completed dossier
  without its residence change, delivery or payment);
- **duplicated** when its code has more than one workflow execution, or any effect table holds more than one row
  for it (payment, residence change, delivery);
- **stuck** when its workflow is still running after the drain period, or has a workflow task failing again and
  again (the pending workflow task's attempt > 1), or its history holds workflow-task failures caused by the code
  (``WORKFLOW_WORKER_UNHANDLED_FAILURE``, ``NON_DETERMINISTIC_ERROR``, bad commands). Failures Temporal itself
  records in normal operation are counted apart and not problems: ``UNHANDLED_COMMAND`` (a signal arrived while the
  worker was completing), ``RESET_STICKY_TASK_QUEUE`` (the sticky worker died) and ``FORCE_CLOSE_COMMAND`` (the
  server closed a task under a burst of signals and scheduled another);
- **unexpected** when it has an effect its outcome does not justify: a paid fee or a residence change for a dossier
  that was not completed, residence records naming a dossier that was not completed, a delivery of other documents
  than its outcome lists;
- for an establishment's stay notice, which a register (``StayRegister``, one workflow for many codes) records:
  **lost** when it has no read-model row once its register has closed, **stuck** when its register is still open
  after the drain; its effects are checked against the outcome its row states;
- a **read-model mismatch** when ``dossiers.status`` is not its workflow's final state. Procedures accepted at
  once (stay notification) write no ``dossiers`` row, by design: their own table is their record; a row, when
  present, must agree all the same;
- **audit disagreeing** when the audit table's rows for it (action and actor; rows a lost workflow task wrote,
  superseded at the dossier's final write, aside: ``activities.trail``) are not its workflow's trail, entry for
  entry (the ``status`` query of the closed workflow, which replays its history on a worker); **not replaying**
  when that replay fails (a non-determinism);
- **documents mismatched** when an issued document's file is missing or its SHA-256 is not the one recorded;
- **attachments mismatched** when a file it attached is not recorded against it, missing from the store, or its
  bytes do not hash to their SHA-256;
- a **household conflict** when of two dossiers competing for one household both were committed, or a household
  they touched is left without its head as a member (``households.head_id`` the one member with relation
  ``head``).

Every payload of the histories read (inputs, results, signals, markers, failures' details; search attributes are
meant for visibility and left aside) must be encrypted: the count of those that are not, and the key ids the
others name, go into the report.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
from google.protobuf.message import Message
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.trail import ROWS as TRAIL_ROWS
from activities.trail import standing
from cutru.platform.codec import ENCODING, METADATA_ENCODING, METADATA_KEY_ID, PASSED_ENCODINGS
from cutru.platform.storage import FileStore
from domain.kinds import DocumentKind, Procedure
from domain.models import DossierOutcome, DossierState, DossierStatus
from domain.procedures.catalogue import PROCEDURES

_BENIGN_CAUSES = {
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
    # The server closing a task it cannot take whole (a burst of signals buffered while it ran): it schedules another.
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND,
}
# Tables of the lifecycle itself, checked one by one below; every other table naming a dossier holds records.
_LIFECYCLE_TABLES = {"dossiers", "payments", "residence_changes", "documents", "deliveries", "audit_events",
                     # what a dossier tells the citizen and other systems, whatever its end (chaos.outlets checks it)
                     "dossier_contacts", "notifications", "events", "shipments", "shipment_statuses",
                     # the papers a dossier carries, whatever its end (checked below against their SHA-256)
                     "dossier_attachments", "attachment_findings"}


class DossierCheck(BaseModel):
    code: str
    procedure: Procedure
    final_state: str | None = None  # the outcome's state, or the workflow status when there is no outcome
    problems: dict[str, list[str]] = Field(default_factory=dict)  # category -> what is wrong

    def flag(self, category: str, what: str) -> None:
        self.problems.setdefault(category, []).append(what)


class Verification(BaseModel):
    dossiers: int
    through_registers: int = 0  # establishments' stay notices, recorded by a StayRegister
    final_states: dict[str, int]
    by_procedure: dict[str, dict[str, int]]
    lost: int
    duplicated: int
    stuck: int
    unexpected: int
    read_model_mismatches: int
    audit_disagreeing: int = 0
    not_replaying: int = 0  # closed workflows whose history the current code cannot replay (the status query)
    documents_checked: int = 0
    documents_mismatched: int = 0
    attachments_checked: int = 0
    attachments_mismatched: int = 0
    competing_pairs: int = 0
    household_conflicts: int = 0
    payloads_checked: int = 0
    payloads_unencrypted: int = 0
    payload_keys_seen: dict[str, int] = Field(default_factory=dict)
    benign_task_failures: dict[str, int]
    workflow_task_timeouts: int
    activity_retries: int
    activities_by_identity: dict[str, int]
    examples: list[str]  # the first problems found, for the report

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.stuck or self.unexpected or self.read_model_mismatches
                    or self.audit_disagreeing or self.not_replaying or self.documents_mismatched
                    or self.attachments_mismatched
                    or self.household_conflicts or self.payloads_unencrypted or not self.payloads_checked)


class _History(BaseModel):
    status: str
    pending_task_attempt: int = 0
    outcome: DossierOutcome | None = None
    task_failures: list[str] = []
    benign_failures: list[str] = []
    task_timeouts: int = 0
    activity_retries: int = 0
    activity_identities: dict[str, int] = {}
    trail: list[tuple[str, str]] | None = None  # (action, actor) of the closed workflow's trail
    trail_error: str | None = None  # why the trail could not be read
    payloads: int = 0
    unencrypted: list[str] = []
    keys: dict[str, int] = {}


_LEFT_ASIDE = {"search_attributes", "header"}


def _payloads(message: Message) -> Iterator[tuple[str, Payload]]:
    """Every payload inside ``message`` with the name of the field holding it, search attributes and headers
    left aside."""
    for field, value in message.ListFields():
        kind = field.message_type
        if kind is None or field.name in _LEFT_ASIDE:
            continue
        if kind.GetOptions().map_entry:
            if kind.fields_by_name["value"].message_type is None:
                continue
            values = list(value.values())
        else:
            values = [value] if isinstance(value, Message) else list(value)
        for item in values:
            if isinstance(item, Payload):
                yield field.name, item
            else:
                yield from _payloads(item)


def _count_payloads(found: _History, event: HistoryEvent) -> None:
    if event.HasField("marker_recorded_event_attributes"):
        # Markers carry the SDK's own records (a local activity's type, attempt and times; a patch's id), never
        # through the codec; only a local activity's "result" is the workflow's data.
        copied = HistoryEvent()
        copied.CopyFrom(event)
        details = copied.marker_recorded_event_attributes.details
        for name in [name for name in details if name != "result"]:
            del details[name]
        event = copied
    for name, payload in _payloads(event):
        found.payloads += 1
        encoding = payload.metadata.get(METADATA_ENCODING, b"")
        if encoding == ENCODING:
            key = payload.metadata.get(METADATA_KEY_ID, b"").decode()
            found.keys[key] = found.keys.get(key, 0) + 1
        elif encoding not in PASSED_ENCODINGS:
            found.unencrypted.append(f"{EventType.Name(event.event_type)} {name}: {encoding.decode(errors='replace')}")


async def _history(client: Client, code: str) -> _History | None:
    handle = client.get_workflow_handle(code)
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    raw = description.raw_description
    found = _History(status=description.status.name if description.status else "UNKNOWN",
                     pending_task_attempt=raw.pending_workflow_task.attempt
                     if raw.HasField("pending_workflow_task") else 0)
    history = await handle.fetch_history()
    for event in history.events:
        _count_payloads(found, event)
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            cause = event.workflow_task_failed_event_attributes.cause
            name = WorkflowTaskFailedCause.Name(cause).removeprefix("WORKFLOW_TASK_FAILED_CAUSE_")
            (found.benign_failures if cause in _BENIGN_CAUSES else found.task_failures).append(
                f"{name}: {event.workflow_task_failed_event_attributes.failure.message[:200]}")
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            found.task_timeouts += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started = event.activity_task_started_event_attributes
            found.activity_retries += started.attempt > 1
            found.activity_identities[started.identity] = found.activity_identities.get(started.identity, 0) + 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
            [found.outcome] = await client.data_converter.decode(payloads, [DossierOutcome])
    for attempt in range(3 if found.outcome is not None else 0):
        try:
            status = await handle.query("status", result_type=DossierStatus)
        except WorkflowQueryFailedError as error:  # the closed workflow did not replay: reported, not raised
            found.trail_error = str(error)[:300]
            await asyncio.sleep(attempt + 1.0)
        else:
            found.trail, found.trail_error = [(entry.action.value, entry.actor) for entry in status.trail], None
            break
    return found


async def _record_columns(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """(table, column) of every column outside the lifecycle tables that names a dossier."""
    rows = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND (column_name = 'dossier_code' OR column_name LIKE '%\\_by\\_dossier')"
        " ORDER BY table_name, column_name")
    return [(r["table_name"], r["column_name"]) for r in rows if r["table_name"] not in _LIFECYCLE_TABLES]


async def _rows_by_dossier(conn: asyncpg.Connection, codes: list[str]) -> dict[str, dict[str, Any]]:
    """Per dossier code: the read model row and every effect row, fetched in a few set queries."""
    found: dict[str, dict[str, Any]] = {code: {"payments": [], "residence_changes": 0, "deliveries": [],
                                               "documents": set(), "records": [], "audit": [], "files": [],
                                               "papers": set()} for code in codes}
    for row in await conn.fetch("SELECT dossier_code, status FROM dossiers WHERE dossier_code = ANY($1)", codes):
        found[row["dossier_code"]]["read_status"] = row["status"]
    for row in await conn.fetch(
            "SELECT dossier_code, status, amount_vnd FROM payments WHERE dossier_code = ANY($1)", codes):
        found[row["dossier_code"]]["payments"].append((row["status"], row["amount_vnd"]))
    for row in await conn.fetch(
            "SELECT dossier_code, count(*) AS n FROM residence_changes WHERE dossier_code = ANY($1)"
            " GROUP BY dossier_code", codes):
        found[row["dossier_code"]]["residence_changes"] = row["n"]
    for row in await conn.fetch("SELECT dossier_code, documents FROM deliveries WHERE dossier_code = ANY($1)", codes):
        found[row["dossier_code"]]["deliveries"].append(list(row["documents"]))
    for row in await conn.fetch(
            "SELECT dossier_code, kind, sha256, path FROM documents WHERE dossier_code = ANY($1)", codes):
        found[row["dossier_code"]]["documents"].add(row["kind"])
        found[row["dossier_code"]]["files"].append((row["kind"], row["sha256"], row["path"]))
    # The trail as the audit table keeps it: a lost workflow task's superseded rows are not (activities.trail).
    for row in standing(await conn.fetch(TRAIL_ROWS + " ORDER BY e.event_id", codes)):
        found[row["dossier_code"]]["audit"].append((row["action"], row["actor"]))
    for row in await conn.fetch("SELECT dossier_code, sha256 FROM dossier_attachments WHERE dossier_code = ANY($1)",
                                codes):
        found[row["dossier_code"]]["papers"].add(row["sha256"])
    for table, column in await _record_columns(conn):
        # Identifiers come from information_schema (the schema itself), never from input: they cannot be parameters.
        query = f'SELECT "{column}" AS code, count(*) AS n FROM "{table}" WHERE "{column}" = ANY($1) GROUP BY 1'
        for row in await conn.fetch(query, codes):
            found[row["code"]]["records"].append(f"{table}.{column}")
    return found


def _check_register_stay(check: DossierCheck, rows: dict[str, Any], *, register_open: bool) -> None:
    """An establishment's notice, recorded by a register: its outcome is its read-model row (written with its effects
    in one transaction), and its effects are checked against that outcome like any dossier's."""
    read = rows.get("read_status")
    if read is None:
        check.final_state = "still waiting" if register_open else "not recorded"
        check.flag("stuck" if register_open else "lost", "no read-model row after the drain period")
        return
    check.final_state = read
    state = DossierState(read)
    documents = (DocumentKind.CT06,) if state == DossierState.REFUSED else ()
    _check_effects(check, DossierOutcome(dossier_code=check.code, procedure=Procedure.STAY_NOTIFICATION, state=state,
                                         documents=documents), rows)


def _check_effects(check: DossierCheck, outcome: DossierOutcome, rows: dict[str, Any]) -> None:
    spec = PROCEDURES[outcome.procedure]
    completed = outcome.state.value == "completed"
    paid = [amount for status, amount in rows["payments"] if status == "paid"]
    if len(rows["payments"]) > 1:
        check.flag("duplicated", f"{len(rows['payments'])} payment orders")
    # A dossier refused at its commit because another changed the records first kept the fee it paid: a refund is
    # due (docs/reliability.md, competing dossiers), not an effect gone wrong.
    refund_due = any(refusal.code == "records_changed" for refusal in outcome.refusals)
    if completed and outcome.fee_paid_vnd > 0:
        if paid != [outcome.fee_paid_vnd]:
            check.flag("lost", f"fee {outcome.fee_paid_vnd} VND reported paid, payments table says {rows['payments']}")
    elif paid and not refund_due:
        check.flag("unexpected", f"a paid fee of {paid} VND for a dossier that ended {outcome.state.value}"
                   + (" (fee 0 in the outcome)" if completed else ""))
    changes = rows["residence_changes"]
    if changes > 1:
        check.flag("duplicated", f"{changes} residence changes")
    elif completed and changes == 0:
        check.flag("lost", "completed without its residence change")
    elif not completed and changes:
        check.flag("unexpected", f"a residence change for a dossier that ended {outcome.state.value}")
    if not completed and rows["records"]:
        check.flag("unexpected", f"records name a dossier that ended {outcome.state.value}: {rows['records']}")
    deliveries = rows["deliveries"]
    if spec.immediate:
        return  # accepted at once: no delivery step
    if len(deliveries) > 1:
        check.flag("duplicated", f"{len(deliveries)} deliveries")
    elif not deliveries:
        check.flag("lost", "no delivery of the result")
    elif sorted(deliveries[0]) != sorted(k.value for k in outcome.documents):
        check.flag("unexpected", f"delivered {deliveries[0]}, outcome lists {[k.value for k in outcome.documents]}")
    missing = {k.value for k in outcome.documents} - rows["documents"]
    if missing:
        check.flag("lost", f"documents never issued: {sorted(missing)}")


def _sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


async def _check_files(check: DossierCheck, rows: dict[str, Any], paper: str | None, store: FileStore) -> None:
    """Each issued document's file against its recorded SHA-256; the attached file, if any, recorded and intact."""
    for kind, sha256, path in rows["files"]:
        actual = await asyncio.to_thread(_sha256_of, Path(path))
        if actual != sha256:
            check.flag("documents", f"{kind} at {path}: SHA-256 {actual or 'unreadable'}, recorded {sha256}")
    if paper is None:
        return
    if paper not in rows["papers"]:
        check.flag("attachments", f"attachment {paper[:12]}… not recorded against the dossier")
    digest = hashlib.sha256()
    try:
        async for chunk in store.read(paper):
            digest.update(chunk)
    except OSError as error:
        check.flag("attachments", f"attachment {paper[:12]}… unreadable: {error}")
        return
    if digest.hexdigest() != paper:
        check.flag("attachments", f"attachment {paper[:12]}… hashes to {digest.hexdigest()[:12]}…")


_HOUSEHOLDS = """
SELECT h.household_id,
       (SELECT count(*) FROM household_members m WHERE m.household_id = h.household_id
         AND m.relation_to_head = 'head') AS heads,
       EXISTS (SELECT 1 FROM household_members m WHERE m.household_id = h.household_id
               AND m.personal_id = h.head_id AND m.relation_to_head = 'head') AS head_is_member
FROM households h WHERE h.household_id = ANY($1) OR h.created_by_dossier = ANY($2)"""


async def _household_conflicts(conn: asyncpg.Connection, households: dict[int, list[str]],
                               checks: dict[str, DossierCheck]) -> int:
    """Competing pairs of which both were committed, or whose households lost their head: each counted once."""
    rows = await conn.fetch(_HOUSEHOLDS, list(households), [c for codes in households.values() for c in codes])
    broken = {row["household_id"] for row in rows if row["heads"] != 1 or not row["head_is_member"]}
    created = {row["household_id"]: row["code"] for row in await conn.fetch(
        "SELECT household_id, created_by_dossier AS code FROM households WHERE created_by_dossier = ANY($1)",
        [c for codes in households.values() for c in codes])}
    conflicts = 0
    for household, codes in households.items():
        committed = [c for c in codes if checks[c].final_state == DossierState.COMPLETED.value]
        headless = household in broken or any(created.get(h) in codes for h in broken)
        if len(committed) > 1 or headless:
            conflicts += 1
            for code in codes:
                checks[code].flag("household", f"household {household}: committed {committed}"
                                  + (", left without its head" if headless else ""))
    return conflicts


async def verify(client: Client, pool: asyncpg.Pool, submitted: dict[str, Procedure],
                 concurrency: int = 16, registered: dict[str, str] | None = None, *,
                 store: FileStore, papers: dict[str, str] | None = None,
                 households: dict[int, list[str]] | None = None) -> tuple[Verification, list[DossierCheck]]:
    """Check every submitted dossier; ``submitted`` maps each acknowledged dossier code to its procedure,
    ``registered`` the codes a stay register took to that register's workflow id, ``papers`` the SHA-256 of the
    file each code attached, ``households`` the codes of each competing pair by the household they share."""
    registered = registered or {}
    papers = papers or {}
    households = households or {}
    executions: Counter[str] = Counter()
    running: set[str] = set()
    async for execution in client.list_workflows():
        executions[execution.id] += 1
        if execution.status == WorkflowExecutionStatus.RUNNING:
            running.add(execution.id)
    slots = asyncio.Semaphore(concurrency)

    async def history(code: str) -> _History | None:
        if code in registered:
            return None  # its register's history serves many codes; the read model and effects are checked
        async with slots:
            return await _history(client, code)

    codes = sorted(submitted)
    histories = await asyncio.gather(*(history(code) for code in codes))
    async with pool.acquire() as conn:
        rows = await _rows_by_dossier(conn, codes)

    checks: list[DossierCheck] = []
    keys: Counter[str] = Counter()
    payloads = unencrypted = 0
    benign: Counter[str] = Counter()
    identities: Counter[str] = Counter()
    timeouts = retries = 0
    for code, found in zip(codes, histories, strict=True):
        check = DossierCheck(code=code, procedure=submitted[code])
        checks.append(check)
        await _check_files(check, rows[code], papers.get(code), store)
        if code in registered:
            _check_register_stay(check, rows[code], register_open=registered[code] in running)
            continue
        if executions[code] > 1:
            check.flag("duplicated", f"{executions[code]} workflow executions")
        if found is None:
            check.flag("lost", "acknowledged but no workflow in Temporal")
            continue
        benign.update(failure.split(":")[0] for failure in found.benign_failures)
        payloads += found.payloads
        unencrypted += len(found.unencrypted)
        keys.update(found.keys)
        if found.unencrypted:
            check.flag("unencrypted", f"payloads not encrypted: {found.unencrypted[:2]}")
        timeouts += found.task_timeouts
        retries += found.activity_retries
        identities.update(found.activity_identities)
        if found.task_failures:
            check.flag("stuck", f"workflow task failures: {found.task_failures[:2]}")
        if found.pending_task_attempt > 1:
            check.flag("stuck", f"workflow task on attempt {found.pending_task_attempt}")
        if found.status == WorkflowExecutionStatus.RUNNING.name:
            check.final_state = "still running"
            check.flag("stuck", "still running after the drain period")
            continue
        if found.outcome is None:
            check.final_state = found.status.lower()
            check.flag("lost", f"workflow closed as {found.status} without a dossier outcome")
            continue
        outcome = found.outcome
        check.final_state = outcome.state.value
        read = rows[code].get("read_status")
        immediate = PROCEDURES[outcome.procedure].immediate
        if read != outcome.state.value and not (read is None and immediate):
            check.flag("read_model", f"dossiers.status {read!r}, workflow {outcome.state.value!r}")
        if found.trail_error is not None:
            check.flag("replay", f"the closed workflow did not replay for its trail: {found.trail_error}")
        if found.trail is not None and sorted(found.trail) != sorted(rows[code]["audit"]):
            missing = sorted(set(found.trail) - set(rows[code]["audit"]))
            extra = sorted(set(rows[code]["audit"]) - set(found.trail))
            check.flag("audit", f"trail {len(found.trail)} entries, audit table {len(rows[code]['audit'])};"
                                f" not in the table {missing[:3]}, not in the trail {extra[:3]}")
        _check_effects(check, outcome, rows[code])

    def count(category: str) -> int:
        return sum(category in c.problems for c in checks)

    async with pool.acquire() as conn:
        conflicts = await _household_conflicts(conn, households, {c.code: c for c in checks})
    by_procedure: dict[str, Counter[str]] = {}
    for check in checks:
        by_procedure.setdefault(check.procedure.value, Counter())[check.final_state or "unknown"] += 1
    return Verification(
        dossiers=len(checks),
        through_registers=sum(code in registered for code in codes),
        final_states=dict(Counter(c.final_state or "unknown" for c in checks)),
        by_procedure={p: dict(c) for p, c in sorted(by_procedure.items())},
        lost=count("lost"),
        duplicated=count("duplicated"),
        stuck=count("stuck"),
        unexpected=count("unexpected"),
        read_model_mismatches=count("read_model"),
        audit_disagreeing=count("audit"),
        not_replaying=count("replay"),
        documents_checked=sum(len(rows[code]["files"]) for code in codes),
        documents_mismatched=count("documents"),
        attachments_checked=sum(code in papers for code in codes),
        attachments_mismatched=count("attachments"),
        competing_pairs=len(households),
        household_conflicts=conflicts,
        payloads_checked=payloads,
        payloads_unencrypted=unencrypted,
        payload_keys_seen=dict(sorted(keys.items())),
        benign_task_failures=dict(benign),
        workflow_task_timeouts=timeouts,
        activity_retries=retries,
        activities_by_identity=dict(identities),
        examples=list(_examples(checks)),
    ), checks


def _examples(checks: Iterable[DossierCheck], limit: int = 12) -> Iterable[str]:
    shown = 0
    for check in checks:
        for category, problems in check.problems.items():
            if shown == limit:
                return
            shown += 1
            yield f"{check.code} ({check.procedure.value}) {category}: {'; '.join(problems)[:300]}"
