"""``make bench``: cutru's dossier throughput next to the Temporal engine's own floor, on this machine, in one run.

    python -m bench.run [--dossiers N] [--workers K] [--stay-seconds S] [--stay-rate R] [--paced-seconds P]
                        [--api-stay-rate R] [--api-stay-seconds S]
                        [--no-encrypt] [--quick] [--json PATH] [--keep] [--split-roles] [--rounds R]

Phases, each on a task queue of its own with freshly started worker processes:

1. probe — one real dossier; its history says how many activities a dossier runs and where the update comes.
   Then one approved dossier of every procedure (built as the chaos campaign builds them): the history of each.
2. floor — N ``BenchFloor`` workflows (that many no-op activities around one update) on ``python -m bench.floor``.
3. cutru — N permanent-residence dossiers on ``worker.py``: submitted through ``DossierClient``, approved by the
   "officer" with the validated ``decide`` update as soon as the officer's work queue (a visibility query on
   ``DossierStatus``) lists them, fee confirmed by the local gateway at once.
   Phases 2 (the floor and the shaped floor) and 3 run in rounds, in turn, and the round with the median ratio is
   reported in full: one slow spell of a shared machine can move a single phase a long way. By default a round after
   the first runs only while the 10-minute budget still has room for it (up to three); ``--rounds R`` runs R.
4. paced — dossiers submitted at half the throughput of phase 3, for the submit-to-receipt latency target.
5. stay — stay notifications at ``--stay-rate`` for ``--stay-seconds``, when the StayNotification workflow exists.
6. backlog — urgent work first: a flood of households' stay notifications on one worker, and in its middle a few
   dossiers near their legal deadline, half with their own priority, half at the flood's (``Bench.backlog_phase``);
   at most ``BACKLOG_SECONDS``.

Right after the rounds, the same through the HTTP API (``bench/api.py``: ``cutru api`` as its own process, tokens from
the local OIDC provider): N dossiers at full speed beside the last round's direct client, then at half that rate,
then establishments' stay notifications in batches at ``--api-stay-rate`` for ``--api-stay-seconds``.

Why the officer works from the visibility list: a rejected update and a status query each cost a worker round trip
and a billed action per attempt, while one list call serves every waiting dossier and costs no action. Completion is
detected the same way (count of running workflows, then one listing with close times), so no ``result()`` long
polls are held open: thousands of them hit the namespace's concurrent poller limit (design.md). The few calls that
do wait (updates) are bounded by a semaphore.

The stack is the bench's own: a file-backed dev server with the WAL pragmas on a free port and a database created
for the run, both removed at the end. The report is printed and written as JSON (``bench/results/``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import temporalio
from cutru_local.seed import seed
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import Priority
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from bench import api, stats
from bench.floor import FloorPlan, FloorWorkflow, shaped_search_attributes
from bench.population import (
    HEAD,
    OFFICER,
    Applicant,
    household_stay,
    load_applicants,
    one_of_each,
    registration,
    stay_notification,
)
from bench.stack import NAMESPACE, Database, PhaseMeter, TemporalServer, WorkerProcesses, cli_version, local_ports
from cutru.clients.client import DossierClient, check_submission
from cutru.clients.signoff import find_signer
from cutru.platform.codec import KeyRing, data_converter, new_key_line
from cutru.platform.config import PROJECT_ROOT, TEMPORAL_VARIABLES, TUNING_VARIABLES
from cutru.platform.db.migrate import migrate
from cutru.platform.signing import DecisionKeyRing
from cutru.platform.temporal import task_queue_pollers
from domain.kinds import Procedure
from domain.models import DecisionKind, DossierState, OfficerDecision, SignOff, SignOffKind
from domain.priority import BULK, URGENT, fairness_key, submission_priority
from domain.procedures.catalogue import PROCEDURES
from domain.procedures.stay_notification import StayNotificationSubmission
from workflows.dispatch import NOT_A_DOSSIER
from workflows.lifecycle import STATUS_KEY, initial_search_attributes
from workflows.procedures import WORKFLOWS
from workflows.stay_register import register_key

DEFAULT_DOSSIERS = 300  # at the 2–5 dossiers/s measured on a loaded 2-core machine, all phases fit in 10 minutes
QUICK_DOSSIERS = 40
DEFAULT_STAY_SECONDS = 60.0
QUICK_STAY_SECONDS = 10.0
DEFAULT_STAY_RATE = 100.0
DEFAULT_PACED_SECONDS = 30.0
QUICK_PACED_SECONDS = 10.0
SEED_PEOPLE = 3_000  # the surrounding population; the applicants are added on top
STAY_HOSTS = 20  # hotels notifying guests
DEFAULT_API_STAY_RATE = 500.0  # stay notifications per second through the API, in batches (issue 21)
API_STAY_BATCH = 50  # guests in one request: one establishment's list
API_STAY_HOSTS = 50  # establishments, each sending a batch in turn
# The backlog phase: households' notifications in the flood (large enough that its drain outlasts a dossier's own
# path on a fast machine: docs/benchmarks.md), near-deadline dossiers in its middle (half at their own priority, half
# at the flood's), and the phase's bound, worker start included.
BACKLOG_FLOOD = stats.TARGET_BACKLOG_FLOOD
QUICK_BACKLOG_FLOOD = 200
BACKLOG_DOSSIERS = 10
BACKLOG_SECONDS = 75.0

BURST_CONCURRENCY = 32  # starts in flight at once when submitting as fast as possible
PACED_CONCURRENCY = 256  # at a fixed rate the cap only matters if the server stalls
WAIT_CONCURRENCY = 200  # calls that wait on a workflow (updates): far below the namespace poller limit
HISTORY_SAMPLE = 100  # histories fetched per phase for step timings
OUTCOME_SAMPLE = 30  # results read per phase to check that dossiers ended as expected
TOTAL_BUDGET = 510.0  # seconds: 8.5 minutes, leaving 1.5 for setup, worker starts and history reads outside the waits
# Seconds added to the budget by each round after the first (--rounds): a round of 300 took 45-60 s on the faster
# machine and would take about 150 s on the slower one (docs/benchmarks.md), which this leaves room for.
ROUND_BUDGET = 240.0
# Without --rounds: up to this many rounds, each after the first only if the budget still holds ROUND_MARGIN times
# the longest round so far beside the later phases' share (a slow spell can stretch one phase a long way).
AUTO_ROUNDS = 3
ROUND_MARGIN = 1.5
STAY_DRAIN = 30.0  # seconds to wait after a burst for its backlog; what is not done by then counts as not sustained
STAY_FLOOR_RESERVE = STAY_DRAIN + 30  # the stay floor's wait and its workers' start, after its own burst
PACED_DRAIN = 60.0  # seconds to wait after the last paced submission (a dossier takes under one at that rate)
NOISY_SHARE = 0.15  # of the machine's CPU taken by other processes during a phase, above which the report warns
COMPLETION_POLL = 0.5  # seconds between counts of running workflows
OFFICER_POLL = 1.0  # seconds between reads of the officer's work queue
# In the backlog phase the officer reads it more often: a read's wait is a fixed part of a near-deadline dossier's
# path at either priority, and would hide what the priority changes.
BACKLOG_OFFICER_POLL = 0.25
# In dossier codes, so that no two phases share one ("P": bench.population.one_of_each).
PHASE_LETTERS = {"probe": "X", "cutru": "C", "paced": "H", "api": "A", "apipaced": "Q", "direct": "D"}
APPROVE = OfficerDecision(officer_id=OFFICER, decision=DecisionKind.APPROVE)
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
# A worker variable naming another checkout of the project whose code the workers run (``python -m bench.paired
# --code``): two versions of the code side by side on one stack.
CODE_VARIABLE = "CUTRU_BENCH_CODE"
# Variables a developer's shell may hold that would point the bench's processes somewhere else.
_FOREIGN_ENV = (
    *(var for var in TEMPORAL_VARIABLES if var not in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE")),
    "CUTRU_PAYLOAD_KEYS", "CUTRU_PAYLOAD_KEY_FILE", "CUTRU_DECISION_KEYS", "CUTRU_DECISION_KEY_FILE",
    "CUTRU_METRICS_PORT", "CUTRU_TASK_QUEUE",
    "CUTRU_WORKER_ROLE",  # --split-roles sets it
)  # fmt: skip


@dataclass(frozen=True)
class Options:
    dossiers: int
    workers: int
    stay_seconds: float
    stay_rate: float
    paced_seconds: float
    encrypt: bool
    json_path: Path | None
    keep: bool
    quick: bool
    split_roles: bool = False
    api_stay_rate: float = DEFAULT_API_STAY_RATE
    api_stay_seconds: float = DEFAULT_STAY_SECONDS
    # Floor, shaped floor and cutru run this many times in turn and the median round is reported; None: as many
    # as fit in the run's budget, up to AUTO_ROUNDS.
    rounds: int | None = 1


# ---- one phase ---------------------------------------------------------------------------------------------------


@dataclass
class Phase:
    """What the driver observed of one workload: when each workflow was submitted, acknowledged and closed."""

    name: str
    queue: str
    submitted_at: dict[str, datetime] = field(default_factory=dict)
    receipt_ms: dict[str, float] = field(default_factory=dict)
    closed_at: dict[str, datetime] = field(default_factory=dict)
    history_length: dict[str, int] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    updates_sent: int = 0
    updates_rejected: int = 0
    submitting_done: asyncio.Event = field(default_factory=asyncio.Event)
    notes: list[str] = field(default_factory=list)
    # Workflows whose histories describe the phase when they are not one per item (stay registers).
    history_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Measured:
    """What a phase cost: usage per process group, PostgreSQL backends' CPU, other processes' CPU."""

    usage: dict[str, stats.Usage]
    postgres_cpu_seconds: float | None
    other_cpu_seconds: float
    workers_postgres_cpu_seconds: float  # of the backends serving the workers' own connections


Submit = Callable[[], Awaitable[Any]]
FollowUp = Callable[[Any], Coroutine[Any, Any, None]]


async def submit_all(
    phase: Phase,
    items: Sequence[tuple[str, Submit]],
    *,
    rate: float | None,
    concurrency: int,
    follow_up: FollowUp | None = None,
) -> None:
    """Submit every item, as fast as ``concurrency`` allows or at ``rate`` per second on a fixed schedule.

    Submit-to-receipt is the duration of the submit call alone; ``follow_up`` (the floor's update) runs after it,
    in its own task, so that it neither delays the next start nor counts in the receipt latency.
    """
    gate = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()
    begin = loop.time()
    tasks: list[asyncio.Task[None]] = []
    follow_ups: list[asyncio.Task[None]] = []

    async def one(workflow_id: str, submit: Submit) -> None:
        try:
            at = datetime.now(UTC)
            started = time.perf_counter()
            result = await submit()
            phase.receipt_ms[workflow_id] = (time.perf_counter() - started) * 1000.0
            phase.submitted_at[workflow_id] = at
        except (RPCError, RuntimeError, ValueError) as error:
            phase.errors[f"submit: {type(error).__name__}: {str(error)[:80]}"] += 1
            return
        finally:
            gate.release()
        if follow_up is not None:
            follow_ups.append(asyncio.create_task(follow_up(result)))

    for index, (workflow_id, submit) in enumerate(items):
        if rate:
            # A fixed schedule (not a sleep per item) so that slow calls do not lower the offered rate.
            delay = begin + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        await gate.acquire()
        tasks.append(asyncio.create_task(one(workflow_id, submit)))
    await asyncio.gather(*tasks)
    # Only now is ``submitted_at`` complete: the officer and the completion wait compare against it.
    phase.submitting_done.set()
    await asyncio.gather(*follow_ups)


async def wait_closed(client: Client, phase: Phase, timeout: float) -> None:
    """Wait until every submitted workflow of the phase is closed, by counting (no per-workflow long polls).

    ``timeout`` counts from the end of the submissions: a paced run or a burst submits for a fixed time first.
    """
    running = f"TaskQueue = '{phase.queue}' AND ExecutionStatus = 'Running' AND {NOT_A_DOSSIER}"
    await phase.submitting_done.wait()
    deadline = time.monotonic() + timeout
    while True:
        if (await client.count_workflows(running)).count == 0:
            closed = await _list_closed(client, phase)
            if closed >= len(phase.submitted_at):
                return
        if time.monotonic() > deadline:
            phase.notes.append(f"timed out after {timeout:.0f} s with workflows still running")
            await _list_closed(client, phase)
            return
        await asyncio.sleep(COMPLETION_POLL)


async def _list_closed(client: Client, phase: Phase) -> int:
    phase.closed_at.clear()
    phase.statuses.clear()
    async for execution in client.list_workflows(
        f"TaskQueue = '{phase.queue}' AND ExecutionStatus != 'Running'", page_size=1000
    ):
        status = execution.status.name if execution.status is not None else "UNKNOWN"
        phase.statuses[status] += 1
        if execution.status == WorkflowExecutionStatus.COMPLETED and execution.close_time is not None:
            phase.closed_at[execution.id] = execution.close_time
            phase.history_length[execution.id] = execution.history_length
    return sum(phase.statuses.values())


async def wait_recorded(database_url: str, phase: Phase, timeout: float) -> None:
    """Wait until the read model holds every submitted stay notification: a register records notifications in
    batches and stays open for the day, so a workflow closing says nothing; the row's write time is the completion.
    """
    await phase.submitting_done.wait()
    deadline = time.monotonic() + timeout
    codes = list(phase.submitted_at)
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            rows = await conn.fetch("SELECT dossier_code, status, updated_at FROM dossiers"
                                    " WHERE dossier_code = ANY($1::text[])", codes)
            if len(rows) >= len(codes) or time.monotonic() > deadline:
                break
            await asyncio.sleep(COMPLETION_POLL)
    finally:
        await conn.close()
    if len(rows) < len(codes):
        phase.notes.append(f"timed out after {timeout:.0f} s with {len(codes) - len(rows)} notifications unrecorded")
    phase.closed_at = {row["dossier_code"]: row["updated_at"] for row in rows}
    phase.statuses = Counter("COMPLETED" if row["status"] == "completed" else row["status"].upper() for row in rows)


async def officer(decide_one: Callable[[str], Awaitable[object]], client: Client, phase: Phase,
                  stop: asyncio.Event, sign_one: Callable[[str], Awaitable[object]] | None = None,
                  poll: float = OFFICER_POLL) -> None:
    """Decide each workflow (``decide_one``: a dossier's approval, a shaped floor's release) once the officer's work
    queue lists it as awaiting a decision; with ``sign_one``, the head then signs each proposal the queue lists as
    awaiting the sign-off. A dossier counts as handled after its last step."""
    steps = {DossierState.AWAITING_DECISION.value: decide_one}
    if sign_one is not None:
        steps[DossierState.AWAITING_SIGN_OFF.value] = sign_one
    last = list(steps)[-1]
    query = f"TaskQueue = '{phase.queue}' AND DossierStatus IN ({', '.join(repr(state) for state in steps)})"
    waits = asyncio.Semaphore(WAIT_CONCURRENCY)
    taken: set[tuple[str, str]] = set()
    accepted: set[str] = set()
    running: set[asyncio.Task[None]] = set()

    async def act(code: str, state: str) -> None:
        async with waits:
            phase.updates_sent += 1
            try:
                await steps[state](code)
                if state == last:
                    accepted.add(code)
            except WorkflowUpdateFailedError:
                # Only possible if the listing ran ahead of the workflow; the next listing tries again.
                phase.updates_rejected += 1
                taken.discard((code, state))
            except RPCError as error:
                phase.errors[f"decide: {error.status.name}"] += 1
                taken.discard((code, state))

    while not stop.is_set():
        if phase.submitting_done.is_set() and len(accepted) >= len(phase.submitted_at):
            break
        async for execution in client.list_workflows(query, page_size=1000):
            state = execution.typed_search_attributes.get(STATUS_KEY)
            if state in steps and (execution.id, state) not in taken:
                taken.add((execution.id, state))
                task = asyncio.create_task(act(execution.id, state))
                running.add(task)
                task.add_done_callback(running.discard)
        try:
            await asyncio.wait_for(stop.wait(), poll)
        except TimeoutError:
            pass
    await asyncio.gather(*running)


async def with_officer(decide_one: Callable[[str], Awaitable[object]], client: Client, phase: Phase,
                       items: Sequence[tuple[str, Submit]], *, rate: float | None, timeout: float,
                       sign_one: Callable[[str], Awaitable[object]] | None = None) -> None:
    """Submit every item while the officer decides (and the head signs) what its work queue lists; wait until all
    have closed."""
    stop = asyncio.Event()
    desk = asyncio.create_task(officer(decide_one, client, phase, stop, sign_one))
    try:
        await submit_all(phase, items, rate=rate, concurrency=PACED_CONCURRENCY if rate else BURST_CONCURRENCY)
        await wait_closed(client, phase, timeout)
    finally:
        stop.set()
        await desk


# ---- histories ---------------------------------------------------------------------------------------------------


# The events that name the task they belong to by the event that scheduled it (``scheduled_event_id``).
_OF_A_SCHEDULED_TASK = frozenset({"ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut",
                                  "WorkflowTaskStarted", "WorkflowTaskCompleted", "WorkflowTaskFailed",
                                  "WorkflowTaskTimedOut"})


def to_events(events: Sequence[HistoryEvent]) -> list[stats.Event]:
    out: list[stats.Event] = []
    for e in events:
        kind = stats.event_type_name(EventType.Name(e.event_type))
        fields: dict[str, Any] = {}
        if kind == "ActivityTaskScheduled":
            fields["activity_type"] = e.activity_task_scheduled_event_attributes.activity_type.name
        elif kind == "ActivityTaskStarted":
            attrs = e.activity_task_started_event_attributes
            fields.update(scheduled_event_id=attrs.scheduled_event_id, attempt=attrs.attempt)
        elif kind in _OF_A_SCHEDULED_TASK:
            attributes = e.WhichOneof("attributes")
            assert attributes is not None
            fields["scheduled_event_id"] = getattr(e, attributes).scheduled_event_id
        elif kind == "WorkflowExecutionUpdateAccepted":
            fields["update_name"] = e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        elif kind == "UpsertWorkflowSearchAttributes":
            upserted = e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            fields["upserted"] = tuple(sorted(upserted))
        elif kind == "MarkerRecorded":
            marker = e.marker_recorded_event_attributes
            fields["marker_name"] = marker.marker_name
            if marker.marker_name == stats.LOCAL_ACTIVITY_MARKER:
                fields["activity_type"] = local_activity_type(marker.details)
        out.append(stats.Event(event_id=e.event_id, type=kind, time=e.event_time.ToDatetime(tzinfo=UTC), **fields))
    return out


def local_activity_type(details: Mapping[str, Payloads]) -> str | None:
    """The activity type in a local activity's marker: the SDK writes it, unencrypted, as JSON in ``data``."""
    data = details.get("data")
    try:
        value = json.loads(data.payloads[0].data) if data and data.payloads else None
    except ValueError:
        return None
    return value.get("activity_type") if isinstance(value, dict) else None


async def fetch_histories(client: Client, ids: Sequence[str]) -> list[list[stats.Event]]:
    gate = asyncio.Semaphore(16)

    async def one(workflow_id: str) -> list[stats.Event]:
        async with gate:
            history = await client.get_workflow_handle(workflow_id).fetch_history()
            return to_events(history.events)

    return list(await asyncio.gather(*(one(i) for i in ids)))


def spread(ids: Sequence[str], count: int) -> list[str]:
    """Up to ``count`` ids evenly spread over the run (the first ones alone would show only the ramp-up)."""
    if len(ids) <= count:
        return list(ids)
    step = len(ids) / count
    return [ids[int(i * step)] for i in range(count)]


# ---- the bench ---------------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, options: Options, directory: Path, server: TemporalServer, database: Database,
                 plain: Client, coded: Client, key_line: str | None) -> None:
        self.options = options
        self.directory = directory
        self.server = server
        self.database = database
        self.plain = plain  # the floor's client: no payload codec
        self.coded = coded  # cutru's client: the payload codec when --encrypt
        self.key_line = key_line
        # cutru's workers verify, and the bench's officer signs, decisions with keys made for the run.
        self.decision_keys = DecisionKeyRing.generate("bench")
        self.tag = uuid.uuid4().hex[:5].upper()

    async def desk(self, dossiers: DossierClient) -> tuple[Callable[[str], Awaitable[object]],
                                                           Callable[[str], Awaitable[object]]]:
        """The officer's approval and the unit head's signature on it (every bench dossier is of the demo unit)."""
        connection = await asyncpg.connect(self.database.url)
        try:
            head = await find_signer(connection, HEAD)
        finally:
            await connection.close()
        assert head is not None, f"the seed made no head {HEAD}"
        sign = SignOff(signer=head, decision=SignOffKind.SIGN)
        return (lambda code: dossiers.decide(code, APPROVE)), (lambda code: dossiers.sign_off(code, sign))

    def _env(self, queue: str, *, encrypted: bool, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        env.update(extra or {})
        env.update(
            TEMPORAL_ADDRESS=self.server.address,
            TEMPORAL_NAMESPACE=NAMESPACE,
            CUTRU_TASK_QUEUE=queue,
            DATABASE_URL=self.database.url,
            CUTRU_DOCUMENT_DIR=str(self.directory / "documents"),
            CUTRU_STATE_DIR=str(self.directory / "state"),  # its own state and documents, never the project's .cutru
            CUTRU_LOG_LEVEL="WARNING",
        )
        if encrypted and self.key_line:
            env["CUTRU_PAYLOAD_KEYS"] = self.key_line
            env["CUTRU_DECISION_KEYS"] = self.decision_keys.env_value()
        return env

    async def start_workers(self, kind: str, queue: str, count: int,
                            env: Mapping[str, str] | None = None) -> WorkerProcesses:
        # cutru's worker with a local gateway that confirms each fee at once: nobody pays on a portal here.
        command = [sys.executable, "-m", "bench.floor"] if kind == "floor" else [
            sys.executable, "-m", "cutru_local.worker", "--auto-confirm-seconds", "0"]
        roles = ("workflows", "activities") if self.options.split_roles else ("all",)
        code, worker_env = worker_checkout(self._env(queue, encrypted=kind != "floor", extra=env))
        workers = WorkerProcesses(name=queue, command=command, env=worker_env,
                                  count=count, directory=self.directory, cwd=code, roles=roles)
        workers.start()
        try:
            await self._wait_for_pollers(queue, count, workers)
        except BaseException:
            workers.stop()
            raise
        return workers

    async def _wait_for_pollers(self, queue: str, count: int, workers: WorkerProcesses) -> None:
        deadline = time.monotonic() + 90
        kinds = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
        while True:
            workers.check_alive()
            ready = True
            for kind in kinds:
                ready &= len(await task_queue_pollers(self.plain, queue, kind)) >= count
            if ready:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"the workers of {queue} never polled")
            await asyncio.sleep(0.2)

    async def measured(
        self,
        phase: Phase,
        workers: WorkerProcesses,
        run: Callable[[], Awaitable[None]],
        api_pids: Sequence[int] = (),
    ) -> Measured:
        """Run a phase under the meter (``api_pids``: the API process of a phase through it)."""
        pg_before = list(await self.database.backend_ports())
        groups = {"worker": workers.pids, "server": [self.server.process.pid], "driver": [os.getpid()],
                  "postgres": pg_before} | ({"api": list(api_pids)} if api_pids else {})
        meter = PhaseMeter(groups, phase_only=("worker", "api"))
        meter.start()
        try:
            await run()
        finally:
            pg_after = await self.database.backend_ports()
            meter.add("postgres", [pid for pid in pg_after if pid not in pg_before])
            # The backends of the workers' own connections, apart: what bench.paired gives each side.
            ports = local_ports(workers.pids)
            meter.add("workers' postgres", [pid for pid, port in pg_after.items() if port in ports])
            usage, other = await meter.stop()
        as_usage = {
            name: stats.Usage(cpu_seconds=round(u.cpu_seconds, 2), peak_rss_mb=round(u.peak_rss_bytes / 2**20, 1),
                              processes=u.processes)
            for name, u in usage.items()
        }
        postgres = as_usage.pop("postgres").cpu_seconds
        workers_postgres = as_usage.pop("workers' postgres").cpu_seconds
        return Measured(usage=as_usage, postgres_cpu_seconds=postgres, other_cpu_seconds=round(other, 2),
                        workers_postgres_cpu_seconds=workers_postgres)

    # ---- dossier phases (probe, cutru, paced) ---------------------------------------------------------------

    async def dossier_phase(self, name: str, applicants: Sequence[Applicant], *, rate: float | None,
                            timeout: float, round_number: int = 1,
                            env: Mapping[str, str] | None = None) -> tuple[Phase, Measured]:
        queue = f"bench-{_in_round(name, round_number)}-{self.tag.lower()}"
        phase = Phase(name=name, queue=queue)
        dossiers = DossierClient(self.coded, queue, self.decision_keys)
        workers = await self.start_workers("cutru", queue, self.options.workers if name != "probe" else 1, env)
        letter = PHASE_LETTERS[name]
        items = [(code, _submitter(dossiers, registration(a, code)))
                 for a, code in ((a, f"HS-{self.tag}-{letter}{round_number}{i:05d}")
                                 for i, a in enumerate(applicants))]

        approve, sign = await self.desk(dossiers)

        async def run() -> None:
            await with_officer(approve, self.coded, phase, items, rate=rate, timeout=timeout, sign_one=sign)

        try:
            measured = await self.measured(phase, workers, run)
        finally:
            workers.stop()
        return phase, measured

    async def procedures_phase(self, timeout: float) -> list[stats.ProcedureHistory]:
        """One dossier of every procedure, approved by the officer, on a worker of its own: each one's history."""
        queue = f"bench-procedures-{self.tag.lower()}"
        phase = Phase(name="procedures", queue=queue)
        dossiers = DossierClient(self.coded, queue, self.decision_keys)
        submissions = await one_of_each(self.database.url, self.tag)
        workers = await self.start_workers("cutru", queue, 1)

        approve, sign = await self.desk(dossiers)

        async def run() -> None:
            stop = asyncio.Event()
            desk = asyncio.create_task(officer(approve, self.coded, phase, stop, sign))
            try:
                await submit_all(phase, [(s["dossier_code"], _submitter(dossiers, s)) for s in submissions],
                                 rate=None, concurrency=len(submissions))
                await wait_closed(self.coded, phase, timeout)
            finally:
                stop.set()
                await desk

        codes = [s["dossier_code"] for s in submissions]
        try:
            await run()
            statuses = [await dossiers.status(code) for code in codes]  # a query needs the worker
        finally:
            workers.stop()
        histories = await fetch_histories(self.coded, codes)
        return [stats.ProcedureHistory(procedure=status.procedure.value, outcome=status.state.value,
                                       profile=stats.profile_history(history))
                for status, history in zip(statuses, histories, strict=True)]

    async def floor_phase(self, plan: FloorPlan, count: int, timeout: float, *, name: str = "floor",
                          rate: float | None = None, round_number: int = 1,
                          env: Mapping[str, str] | None = None) -> tuple[Phase, Measured]:
        name = _in_round(name, round_number)
        queue = f"bench-{name}-{self.tag.lower()}"
        phase = Phase(name=name, queue=queue)
        workers = await self.start_workers("floor", queue, self.options.workers, env)
        waits = asyncio.Semaphore(WAIT_CONCURRENCY)

        attributes = shaped_search_attributes() if plan.dossier_shape else None

        def start(workflow_id: str) -> Submit:
            async def call() -> WorkflowHandle[Any, Any]:
                return await self.plain.start_workflow(FloorWorkflow.run, plan, id=workflow_id, task_queue=queue,
                                                       search_attributes=attributes)
            return call

        async def release(handle: WorkflowHandle[Any, Any]) -> None:
            async with waits:
                phase.updates_sent += 1
                try:
                    await handle.start_update(FloorWorkflow.release, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
                except WorkflowUpdateFailedError:
                    phase.updates_rejected += 1

        items = [(wid, start(wid)) for wid in (f"{name.upper()}-{self.tag}-{i:06d}" for i in range(count))]

        async def release_when_listed(workflow_id: str) -> None:
            await self.plain.get_workflow_handle(workflow_id).execute_update(FloorWorkflow.release)

        async def run() -> None:
            if not plan.dossier_shape:
                await submit_all(phase, items, rate=rate,
                                 concurrency=PACED_CONCURRENCY if rate else BURST_CONCURRENCY,
                                 follow_up=release if plan.wait_for_update else None)
                await wait_closed(self.plain, phase, timeout)
                return
            # Released as dossiers are approved: by the officer, once the work-queue listing shows it waiting.
            await with_officer(release_when_listed, self.plain, phase, items, rate=rate, timeout=timeout,
                               sign_one=release_when_listed if plan.later_waits else None)

        try:
            measured = await self.measured(phase, workers, run)
        finally:
            workers.stop()
        return phase, measured

    async def stay_phase(self, hosts: Sequence[Applicant], guests: Sequence[Applicant],
                         timeout: float) -> tuple[Phase, Measured]:
        queue = f"bench-stay-{self.tag.lower()}"
        phase = Phase(name="stay", queue=queue)
        dossiers = DossierClient(self.coded, queue, self.decision_keys)
        workers = await self.start_workers("cutru", queue, self.options.workers)
        items = []
        registers = set()
        for index, guest in enumerate(guests):
            code = f"LT-{self.tag}-{index:06d}"
            notification = stay_notification(hosts[index % len(hosts)], guest, code)
            registers.add(register_key(StayNotificationSubmission.model_validate(notification)).register_id)
            items.append((code, _submitter(dossiers, notification)))
        phase.history_ids = sorted(registers)

        async def run() -> None:
            await submit_all(phase, items, rate=self.options.stay_rate, concurrency=PACED_CONCURRENCY)
            await wait_recorded(self.database.url, phase, timeout)

        try:
            measured = await self.measured(phase, workers, run)
        finally:
            workers.stop()
        return phase, measured

    async def backlog_phase(self, flood_people: Sequence[Applicant], dossier_people: Sequence[Applicant],
                            seconds: float) -> stats.Backlog:
        """Urgent work first (issue 25, item 10): households' stay notifications (one dossier workflow each at
        BULK priority, the path that makes a backlog of workflow tasks on one worker in seconds) submitted as fast as
        possible; after two thirds of them, permanent registrations received long enough ago that their deadline is
        hours away, half submitted as any dossier is (the priority of their working time left), half started at the
        flood's priority. The officer (reading its work queue every BACKLOG_OFFICER_POLL) and the head act on both
        alike; everything ends within ``seconds``."""
        began = time.monotonic()
        queue = f"bench-backlog-{self.tag.lower()}"
        phase = Phase(name="backlog", queue=queue)
        dossiers = DossierClient(self.coded, queue, self.decision_keys)
        workers = await self.start_workers("cutru", queue, 1)
        now = datetime.now(UTC)
        received = near_deadline(now)
        hosts = flood_people[:-1]
        flood = [(f"HS-{self.tag}-B{i:05d}",
                  _submitter(dossiers, household_stay(host, flood_people[i + 1], f"HS-{self.tag}-B{i:05d}")))
                 for i, host in enumerate(hosts)]
        urgent, at_flood = [], []
        for i, applicant in enumerate(dossier_people):
            code = f"HS-{self.tag}-U{i:05d}"
            submission = {**registration(applicant, code), "received_at": received.isoformat()}
            if i % 2:
                at_flood.append(code)
                flood_priority = Priority(priority_key=BULK, fairness_key=fairness_key(submission["police_unit"]))
                submit = _started(dossiers, submission, flood_priority)
            else:
                urgent.append(code)
                submit = _submitter(dossiers, submission)
            flood.insert(2 * len(hosts) // 3 + i, (code, submit))
        approve, sign = await self.desk(dossiers)
        stop = asyncio.Event()
        desk = asyncio.create_task(officer(approve, self.coded, phase, stop, sign, BACKLOG_OFFICER_POLL))
        try:
            await submit_all(phase, flood, rate=None, concurrency=BURST_CONCURRENCY)
            await wait_closed(self.coded, phase, max(seconds - (time.monotonic() - began), 5.0))
        finally:
            stop.set()
            await desk
            workers.stop()
        notes = [*phase.notes, *(f"{n} × {error}" for error, n in phase.errors.items()),
                 *(f"closed {status}: {n}" for status, n in phase.statuses.items() if status != "COMPLETED")]
        return stats.backlog(len(hosts), BULK, URGENT, phase.submitted_at, phase.closed_at, urgent, at_flood,
                             [code for code, _ in flood if code not in urgent and code not in at_flood],
                             time.monotonic() - began, notes)

    # ---- through the HTTP API (bench/api.py) -----------------------------------------------------------------

    async def _api_for(self, stack: api.ApiStack, queue: str) -> tuple[WorkerProcesses, api.ApiProcess, str]:
        """The phase's workers, its API process on the same task queue, and a portal token."""
        workers = await self.start_workers("cutru", queue, self.options.workers)
        try:
            server = stack.start_api(queue, self._env(queue, encrypted=True))
        except BaseException:
            workers.stop()
            raise
        return workers, server, await stack.portal_token()

    async def api_dossier_phase(self, stack: api.ApiStack, name: str, applicants: Sequence[Applicant], *,
                                rate: float | None, timeout: float) -> tuple[Phase, Measured]:
        """As ``dossier_phase``, each dossier submitted as ``POST /v1/dossiers``; the officer as before."""
        queue = f"bench-{name}-{self.tag.lower()}"
        phase = Phase(name=name, queue=queue)
        dossiers = DossierClient(self.coded, queue, self.decision_keys)
        workers, server, token = await self._api_for(stack, queue)
        letter = PHASE_LETTERS[name]

        approve, sign = await self.desk(dossiers)

        async def run() -> None:
            async with server.client(token) as http:
                items = [(code, api.dossier_submitter(http, registration(a, code)))
                         for a, code in ((a, f"HS-{self.tag}-{letter}1{i:05d}") for i, a in enumerate(applicants))]
                await with_officer(approve, self.coded, phase, items, rate=rate, timeout=timeout, sign_one=sign)

        try:
            measured = await self.measured(phase, workers, run, api_pids=server.pids)
        finally:
            server.stop()
            workers.stop()
        return phase, measured

    async def api_stay_phase(self, stack: api.ApiStack, hosts: Sequence[Applicant], guests: Sequence[Applicant],
                             timeout: float) -> tuple[Phase, Measured]:
        """Establishments' stay notifications through ``POST /v1/batches``, API_STAY_BATCH guests of one
        establishment a request, at ``--api-stay-rate`` notifications a second; done when each row is in the read
        model (as ``stay_phase``). Submission and receipt times are each request's, for each of its guests."""
        queue = f"bench-apistay-{self.tag.lower()}"
        phase = Phase(name="stay through the API", queue=queue)
        workers, server, token = await self._api_for(stack, queue)
        prefix = f"LA-{self.tag}-"
        batches = api.stay_batches(hosts, guests, API_STAY_BATCH, lambda index: f"{prefix}{index:06d}")
        codes = {f"B{number:05d}": batch_codes for number, (batch_codes, _) in enumerate(batches)}
        phase.history_ids = sorted({register_key(StayNotificationSubmission.model_validate(items[0])).register_id
                                    for _, items in batches})

        async def run() -> None:
            async with server.client(token) as http:
                await submit_all(phase, [(f"B{number:05d}", api.batch_submitter(http, items))
                                         for number, (_, items) in enumerate(batches)],
                                 rate=self.options.api_stay_rate / API_STAY_BATCH, concurrency=PACED_CONCURRENCY)
            phase.submitted_at = {code: at for batch, at in phase.submitted_at.items() for code in codes[batch]}
            phase.receipt_ms = {code: ms for batch, ms in phase.receipt_ms.items() for code in codes[batch]}
            rows, complete = await api.wait_recorded(self.database.url, prefix, list(phase.submitted_at), timeout)
            if not complete:
                phase.notes.append(f"timed out after {timeout:.0f} s with "
                                   f"{len(phase.submitted_at) - len(rows)} notifications unrecorded")
            phase.closed_at = {code: at for code, (at, _) in rows.items()}
            phase.statuses = Counter("COMPLETED" if status == "completed" else status.upper()
                                     for _, status in rows.values())

        try:
            measured = await self.measured(phase, workers, run, api_pids=server.pids)
        finally:
            server.stop()
            workers.stop()
        return phase, measured

    async def outcomes(self, phase: Phase) -> dict[str, int]:
        dossiers = DossierClient(self.coded, phase.queue, self.decision_keys)
        sample = spread(sorted(phase.closed_at), OUTCOME_SAMPLE)
        results = await asyncio.gather(*(dossiers.result(code) for code in sample), return_exceptions=True)
        return dict(Counter(r.state.value if not isinstance(r, BaseException) else f"error: {type(r).__name__}"
                            for r in results))

    async def workload(
        self,
        phase: Phase,
        measured: Measured,
        *,
        workflow_type: str,
        encrypted: bool,
        client: Client,
        with_outcomes: bool,
    ) -> stats.WorkloadResult:
        usage = measured.usage
        run = stats.completion(phase.submitted_at, phase.receipt_ms, phase.closed_at)
        ids = sorted(phase.closed_at, key=lambda wid: phase.submitted_at.get(wid, datetime.max.replace(tzinfo=UTC)))
        notes = list(phase.notes)
        if phase.history_ids:
            # Registers: their whole histories, shared out over the notifications they recorded.
            histories = await fetch_histories(client, phase.history_ids)
            shared = stats.shared_history(histories, run.completed)
            profile, activities = None, 0
            notes.append(f"{len(histories)} registers; per notification: {shared.events:.2f} events, "
                         f"{shared.actions:.2f} actions, {shared.activities:.3f} activities (batches)")
        else:
            histories = await fetch_histories(client, spread(ids, HISTORY_SAMPLE)) if ids else []
            rejected = phase.updates_rejected / run.completed if run.completed else 0.0
            typical = stats.typical_history(histories)
            profile = stats.profile_history(typical, rejected_updates=rejected) if typical else None
            activities = profile.activities if profile else 0
        lengths = Counter(phase.history_length.values())
        if len(lengths) > 1:
            notes.append("history lengths vary: " + ", ".join(f"{n} events × {c}" for n, c in sorted(lengths.items())))
        if phase.errors:
            notes += [f"{count} × {error}" for error, count in phase.errors.items()]
        not_completed = {s: n for s, n in phase.statuses.items() if s != "COMPLETED"}
        if not_completed:
            notes.append("closed but not completed: " + ", ".join(f"{s} {n}" for s, n in not_completed.items()))
        if phase.updates_sent:
            notes.append(f"updates sent {phase.updates_sent}, rejected {phase.updates_rejected}")
        return stats.WorkloadResult(
            name=phase.name,
            workflow_type=workflow_type,
            item="notification" if phase.history_ids else "workflow",
            workers=self.options.workers if phase.name != "probe" else 1,
            encrypted=encrypted,
            run=run,
            activities_per_workflow=activities,
            activities_per_second=round(run.per_second * activities, 1),
            worker=usage["worker"],
            server=usage["server"],
            postgres_cpu_seconds=measured.postgres_cpu_seconds,
            driver_cpu_seconds=usage["driver"].cpu_seconds,
            other_cpu_seconds=measured.other_cpu_seconds,
            api=usage.get("api"),
            history=profile,
            steps=stats.step_timings(histories),
            outcomes=(await self.outcomes(phase) if with_outcomes and ids
                      else {s.lower(): n for s, n in phase.statuses.items()} if phase.history_ids else {}),
            notes=notes,
        )


def _in_round(name: str, round_number: int) -> str:
    """A phase's name in task queues and workflow ids: the first round's as it always was, later ones numbered."""
    return name if round_number == 1 else f"{name}{round_number}"


def _submitter(dossiers: DossierClient, submission: dict[str, Any]) -> Submit:
    async def call() -> Any:
        receipt = await dossiers.submit(submission)
        if receipt.already_submitted:
            # A second start of a code is a no-op by design; here it would mean the bench reused a code.
            raise RuntimeError(f"{receipt.dossier_code} was already submitted")
        return receipt
    return call


def _started(dossiers: DossierClient, submission: dict[str, Any], priority: Priority) -> Submit:
    """A dossier started as ``DossierClient.submit`` starts it, but at ``priority``."""
    parsed: Any = check_submission(submission)
    workflow_class: Any = WORKFLOWS[parsed.procedure]

    async def call() -> Any:
        return await dossiers.client.start_workflow(
            workflow_class.run, submission, id=parsed.dossier_code, task_queue=dossiers.task_queue,
            search_attributes=initial_search_attributes(parsed), priority=priority)
    return call


def near_deadline(now: datetime) -> datetime:
    """The latest receipt time, on the hour, that leaves a permanent registration urgent ``now``."""
    at = now.replace(minute=0, second=0, microsecond=0)
    while submission_priority(Procedure.PERMANENT_RESIDENCE_REGISTRATION, at, now, immediate=False) != URGENT:
        at -= timedelta(hours=1)
    return at


# ---- machine and PDF ---------------------------------------------------------------------------------------------


def worker_tuning() -> dict[str, str]:
    """The CUTRU_* worker tuning variables this run was given (floor and cutru workers alike), for the report."""
    return {name: value for name, value in sorted(os.environ.items())
            if name in TUNING_VARIABLES and value}


def speed_probe(steps: int = 2_000_000, rounds: int = 5) -> float:
    """CPU seconds of a fixed pure-Python loop (a summation), the median of a few rounds: how fast this machine's
    cores are today."""
    times = []
    for _ in range(rounds):
        started = time.process_time()
        total = 0
        for step in range(steps):
            total += step
        assert total == steps * (steps - 1) // 2
        times.append(time.process_time() - started)
    return round(statistics.median(times), 3)


def machine(postgres_version: str, speed_probe_seconds: float) -> stats.Machine:
    model = "unknown"
    memory_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    load = os.getloadavg()
    return stats.Machine(
        cpus=os.cpu_count() or 0,
        cpu_model=model,
        memory_gb=round(memory_kb / 2**20, 1),
        load_average_at_start=(round(load[0], 2), round(load[1], 2), round(load[2], 2)),
        python=platform.python_version(),
        temporalio=temporalio.__version__,
        temporal_cli=cli_version(),
        postgres=postgres_version,
        speed_probe_seconds=speed_probe_seconds,
    )


def pdf_render_ms(samples: int = 11) -> stats.Percentiles:
    """CPU time of rendering one CT04 the way the accept_dossier activity does (the first render, which loads the
    fonts, is left out: a worker pays it once)."""
    from domain.documents import DocumentData, render
    from domain.kinds import DocumentKind

    data = DocumentData(
        dossier_code="HS-BENCH-PDF", procedure=Procedure.PERMANENT_RESIDENCE_REGISTRATION, kind=DocumentKind.CT04,
        police_unit="Công an Phường Hoàn Kiếm", province="Thành phố Hà Nội", full_name="Nguyễn Thị Ánh Tuyết",
        personal_id="001190000001", birth_date=date(1990, 5, 17), address="Số 1 ngõ Bench, phố Hàng Bạc",
        issued_at=datetime.now(UTC), appointment_date=date(datetime.now(UTC).year + 1, 1, 15),
        result_text="Đăng ký thường trú",
    )
    times = []
    for _ in range(samples):
        started = time.process_time()
        render(data)
        times.append((time.process_time() - started) * 1000.0)
    return stats.summarize(times[1:])


def noise_notes(report: stats.BenchReport) -> list[str]:
    """Say so when other processes took a good part of the machine during a phase: figures are then depressed."""
    notes = []
    cpus = max(report.machine.cpus, 1)
    for workload in (report.floor, report.cutru, report.paced, report.stay, report.stay_floor, report.api,
                     report.api_direct, report.api_paced, report.api_stay):
        if workload is None or workload.run.elapsed_seconds <= 0:
            continue
        share = workload.other_cpu_seconds / (cpus * workload.run.elapsed_seconds)
        if share > NOISY_SHARE:
            notes.append(f"other processes used {share:.0%} of the machine's CPU during the {workload.name} phase: "
                         "its figures are lower and noisier than on an idle machine")
    return notes


# ---- main --------------------------------------------------------------------------------------------------------


def worker_checkout(env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """Where a worker runs from and its environment: this checkout, or the one ``CODE_VARIABLE`` names, whose
    modules then come first (``python -m`` puts the working directory first, ``PYTHONPATH`` the local stack's)."""
    if CODE_VARIABLE not in env:
        return PROJECT_ROOT, env
    code = Path(env[CODE_VARIABLE])
    return code, {**env, "PYTHONPATH": os.pathsep.join((str(code / "local"), str(code)))}


async def comparison_round(runner: Bench, number: int, plan: FloorPlan, applicants: Sequence[Applicant],
                           budget: Budget, later: float,
                           ) -> tuple[stats.WorkloadResult, stats.WorkloadResult, stats.WorkloadResult]:
    """The floor, the shaped floor and cutru, back to back on the same server: the ratio compares phases minutes
    apart, never runs of different days. Odd rounds run them in that order, even rounds in the reverse one: the dev
    server's CPU per workflow grows as its store fills (docs/benchmarks.md, "Later phases cost the dev server
    more"), so a fixed order would charge cutru, always last, for the phases before it."""
    n, label = len(applicants), "" if number == 1 else f" (round {number})"

    async def floor(reserved: float, *, shaped: bool) -> stats.WorkloadResult:
        # shaped: the floor with the dossier's engine shape (search attributes, upserts, reminder timer, officer).
        phase, measured = await runner.floor_phase(
            replace(plan, dossier_shape=shaped), n, name="shaped" if shaped else "floor",
            timeout=budget.timeout(60 + n * (0.4 if shaped else 0.25), reserved), round_number=number)
        result = await runner.workload(phase, measured, workflow_type="BenchFloor", encrypted=False,
                                       client=runner.plain, with_outcomes=False)
        # The same name in every round: the report's rounds table numbers them.
        result.name = ("shaped floor (the dossier's search attributes, upserts, reminder timer and officer)"
                       if shaped else "floor")
        print(f"{'shaped floor' if shaped else 'floor'}{label}: {result.run.per_second:.2f} workflows/s", flush=True)
        return result

    async def cutru(reserved: float) -> stats.WorkloadResult:
        phase, measured = await runner.dossier_phase("cutru", applicants, rate=None,
                                                     timeout=budget.timeout(90 + n * 0.5, reserved),
                                                     round_number=number)
        result = await runner.workload(phase, measured,
                                       workflow_type=Procedure.PERMANENT_RESIDENCE_REGISTRATION.value,
                                       encrypted=runner.options.encrypt, client=runner.coded, with_outcomes=True)
        print(f"cutru{label}: {result.run.per_second:.2f} dossiers/s", flush=True)
        return result

    # Each phase leaves those after it in the round a minute each, and the later phases their share.
    phases: dict[str, Callable[[float], Awaitable[stats.WorkloadResult]]] = {
        "floor": functools.partial(floor, shaped=False),
        "shaped": functools.partial(floor, shaped=True),
        "cutru": cutru,
    }
    order = list(phases) if number % 2 else list(reversed(phases))
    results = {name: await phases[name](later + 60 * (len(order) - 1 - i)) for i, name in enumerate(order)}
    return results["floor"], results["shaped"], results["cutru"]


def api_budget(options: Options) -> float:
    """Seconds the API's phases take: two full-speed runs (API, direct), a paced one, a batched stay burst."""
    full_speed = 2 * (90 + options.dossiers * 0.5)
    return full_speed + (options.paced_seconds + 30) + (options.api_stay_seconds + 60)


async def api_phases(runner: Bench, before: stats.WorkloadResult, people: Sequence[Applicant], budget: Budget,
                     later: float) -> dict[str, Any]:
    """The API's phases (bench/api.py): N dossiers at full speed through the API, then N more through the direct
    client at once (the ratio is against the mean of that run and ``before``, the last round's, so that a drift of
    the shared machine's speed cancels out), the API at half its peak, and establishments' stay notifications in
    batches; returned as the report's ``api*`` fields."""
    options, n = runner.options, runner.options.dossiers
    registrations = Procedure.PERMANENT_RESIDENCE_REGISTRATION.value
    stay_count = round(options.api_stay_rate * options.api_stay_seconds)
    hosts = people[3 * n:3 * n + API_STAY_HOSTS]
    guests = people[3 * n + API_STAY_HOSTS:3 * n + API_STAY_HOSTS + stay_count]
    figures: dict[str, Any] = {}
    later_api = later + options.paced_seconds + options.api_stay_seconds + 90
    async with api.ApiStack.running(runner.directory, runner.database.url) as stack:
        full, full_measured = await runner.api_dossier_phase(
            stack, "api", people[:n], rate=None, timeout=budget.timeout(90 + n * 0.5, later_api + 90 + n * 0.5))
        result = await runner.workload(full, full_measured, workflow_type=registrations, encrypted=True,
                                       client=runner.coded, with_outcomes=True)
        result.name = "through the API (POST /v1/dossiers)"
        after, after_measured = await runner.dossier_phase("direct", people[2 * n:3 * n], rate=None,
                                                           timeout=budget.timeout(90 + n * 0.5, later_api))
        direct = await runner.workload(after, after_measured, workflow_type=registrations, encrypted=True,
                                       client=runner.coded, with_outcomes=True)
        direct.name = "direct client, right after the API's run"
        reference = (before.run.per_second + direct.run.per_second) / 2
        figures.update(api=result, api_direct=direct, api_direct_before=before,
                       api_ratio=round(result.run.per_second / reference, 3) if reference else None)
        print(f"api: {result.run.per_second:.2f} dossiers/s (direct {before.run.per_second:.2f} before, "
              f"{direct.run.per_second:.2f} after)", flush=True)

        half = result.run.per_second / 2
        if options.paced_seconds > 0 and half > 0:
            count = max(5, min(n, round(half * options.paced_seconds)))
            paced, paced_measured = await runner.api_dossier_phase(
                stack, "apipaced", people[n:n + count], rate=half,
                timeout=budget.timeout(PACED_DRAIN, later + options.api_stay_seconds + 40))
            paced_result = await runner.workload(paced, paced_measured, workflow_type=registrations, encrypted=True,
                                                 client=runner.coded, with_outcomes=False)
            paced_result.name = f"through the API at {half:.2f}/s (half its peak)"
            figures["api_paced"] = paced_result
            print(f"api paced: receipt p99 {paced_result.run.receipt_ms.p99} ms", flush=True)

        if stay_count > 0:
            stay, stay_measured = await runner.api_stay_phase(stack, hosts, guests,
                                                              timeout=budget.timeout(STAY_DRAIN, later))
            stay_result = await runner.workload(stay, stay_measured, workflow_type="StayRegister", encrypted=True,
                                                client=runner.coded, with_outcomes=False)
            stay_result.name = f"stay notifications through the API (POST /v1/batches, {API_STAY_BATCH} a request)"
            burst = stats.stay_burst(options.api_stay_rate, options.api_stay_seconds, stay.submitted_at,
                                     stay.closed_at)
            once = await api.recorded_once(runner.database.url, list(stay.submitted_at))
            figures.update(api_stay=stay_result, api_stay_burst=burst, api_stay_batch=API_STAY_BATCH,
                           api_stay_recorded_once=once.once_each, api_stay_recorded=str(once))
            print(f"api stay: {burst.completion_rate_in_window:.1f}/s completed in the window", flush=True)
    return figures


class Budget:
    """The run must end within ``TOTAL_BUDGET`` seconds (the issue allows 10 minutes, setup included): each phase
    waits for completions at most as long as leaves the later phases their share."""

    def __init__(self, total: float) -> None:
        self.deadline = time.monotonic() + total

    def timeout(self, wanted: float, reserved_for_later: float) -> float:
        return max(min(wanted, self.deadline - time.monotonic() - reserved_for_later), 10.0)

    def allows(self, seconds: float, reserved_for_later: float) -> bool:
        """Whether ``seconds`` more still fit before the share reserved for the later phases."""
        return self.deadline - time.monotonic() - reserved_for_later >= seconds


async def bench(options: Options) -> stats.BenchReport:
    started_at = datetime.now(UTC)
    began = time.monotonic()
    # The API's phases come on top of the ten minutes of the direct client's (they would otherwise cut rounds).
    api_seconds = api_budget(options)
    budget = Budget(TOTAL_BUDGET + ((options.rounds or 1) - 1) * ROUND_BUDGET + api_seconds + BACKLOG_SECONDS)
    notes: list[str] = []
    probe_seconds = speed_probe()  # before anything of the bench runs
    async with bench_stack(options) as runner:
        database, plain, coded = runner.database, runner.plain, runner.coded
        postgres_version = await database_version(database.url)

        stay_ready = Procedure.STAY_NOTIFICATION in WORKFLOWS and Procedure.STAY_NOTIFICATION in PROCEDURES
        stay_count = round(options.stay_rate * options.stay_seconds) if stay_ready and options.stay_seconds > 0 else 0
        n = options.dossiers
        loaded = time.monotonic()
        rounds = options.rounds or AUTO_ROUNDS  # at the most
        dossier_count = (rounds + 1) * n  # each round's cutru run, then the paced run
        api_stay_count = round(options.api_stay_rate * options.api_stay_seconds)
        # The API at full and half speed, the direct client after it, establishments, guests.
        api_count = 3 * n + API_STAY_HOSTS + api_stay_count
        people = await load_applicants(database.url, 1 + dossier_count + STAY_HOSTS + stay_count + api_count,
                                       runner.tag)
        print(f"stack ready in {time.monotonic() - began:.1f} s (PostgreSQL: {database.source}); "
              f"{len(people)} applicants loaded in {time.monotonic() - loaded:.1f} s", flush=True)
        probe_people = people[:1]
        cutru_people = [people[1 + r * n:1 + (r + 1) * n] for r in range(rounds)]
        paced_people = people[1 + rounds * n:1 + dossier_count]
        hosts = people[1 + dossier_count:1 + dossier_count + STAY_HOSTS]
        guests = people[1 + dossier_count + STAY_HOSTS:len(people) - api_count]
        api_people = people[len(people) - api_count:]

        # 1. probe: the shape of a real dossier.
        probe, probe_measured = await runner.dossier_phase("probe", probe_people, rate=None, timeout=60)
        registrations = Procedure.PERMANENT_RESIDENCE_REGISTRATION.value
        probe_result = await runner.workload(probe, probe_measured, workflow_type=registrations,
                                             encrypted=options.encrypt, client=coded, with_outcomes=True)
        if probe_result.history is None or probe_result.outcomes.get(DossierState.COMPLETED.value) != 1:
            raise SystemExit(f"the probe dossier did not complete: {probe_result.model_dump_json(indent=2)}")
        shape = probe_result.history
        # The floor's activities are all regular; the shaped floor runs as local the steps that the dossier does.
        plan = FloorPlan(before=shape.activities_before_update, after=shape.activities - shape.activities_before_update,
                         local=tuple(shape.local_steps), later_waits=tuple(shape.activities_before_updates[1:]),
                         versions=tuple(shape.activities_before_versions))
        print(f"probe: a dossier runs {shape.activities} activities ({plan.before} before the decision, "
              f"{len(plan.local)} of them local), {shape.events} events", flush=True)
        procedures = await runner.procedures_phase(timeout=60)
        print("procedures: " + ", ".join(f"{h.procedure} {h.profile.events}" for h in procedures), flush=True)

        # 2. floor, shaped floor and cutru, in turn, once per round.
        # What the phases after the cutru run need: the paced run and the two bursts submit for a fixed time, then
        # wait (their backlogs clear in seconds; each wait is still bounded by what the budget has left, 10 s at
        # least); each phase also starts its workers and reads histories; then the report and the teardown.
        later = (options.paced_seconds + 20) + 2 * (options.stay_seconds + 20) + 30 + api_seconds
        results: list[tuple[stats.WorkloadResult, stats.WorkloadResult, stats.WorkloadResult]] = []
        longest = 0.0
        for number in range(1, rounds + 1):
            if options.rounds is None and number > 1 and not budget.allows(ROUND_MARGIN * longest, later):
                notes.append(f"{number - 1} of up to {rounds} rounds: another would not leave the later phases "
                             f"their share of the budget (the longest round took {longest:.0f} s)")
                break
            after_round = later + (rounds - number) * ROUND_BUDGET if options.rounds else later
            round_began = time.monotonic()
            results.append(await comparison_round(runner, number, plan, cutru_people[number - 1], budget,
                                                  after_round))
            longest = max(longest, time.monotonic() - round_began)
        round_figures = [stats.Round.of(i, *r) for i, r in enumerate(results, start=1)]
        floor_result, shaped_result, cutru_result = results[stats.median_round(round_figures)]
        if len(results) > 1:
            notes.append(f"the floor, shaped floor and cutru phases reported are those of round "
                         f"{stats.median_round(round_figures) + 1} of {len(results)}, the round with the median ratio")

        # 3b. through the HTTP API, side by side with the direct client's last round.
        api_figures = await api_phases(runner, results[-1][2], api_people, budget, later - api_seconds)

        # 4. paced at half the peak.
        paced_result: stats.WorkloadResult | None = None
        half = cutru_result.run.per_second / 2
        if options.paced_seconds > 0 and half > 0:
            count = max(5, min(len(paced_people), round(half * options.paced_seconds)))
            paced, paced_measured = await runner.dossier_phase(
                "paced", paced_people[:count], rate=half,
                timeout=budget.timeout(PACED_DRAIN,
                                       options.paced_seconds + 2 * (options.stay_seconds + STAY_DRAIN + 30)))
            paced_result = await runner.workload(paced, paced_measured, workflow_type=registrations,
                                                 encrypted=options.encrypt, client=coded, with_outcomes=False)
            paced_result.name = f"paced at {half:.2f}/s (half the peak)"
            print(f"paced: receipt p99 {paced_result.run.receipt_ms.p99} ms", flush=True)

        # 5. stay notifications.
        stay_result: stats.WorkloadResult | None = None
        stay_floor_result: stats.WorkloadResult | None = None
        burst: stats.StayBurst | None = None
        floor_burst: stats.StayBurst | None = None
        stay_note: str | None = None
        if not stay_ready:
            stay_note = ("skipped: the StayNotification workflow is not registered yet (workflows.procedures.WORKFLOWS "
                         "has no StayNotification; its submission model exists)")
        elif stay_count == 0:
            stay_note = "skipped: --stay-seconds 0"
        else:
            # Reserved: this burst's own submissions, then the stay floor's burst and wait.
            reserved = options.stay_seconds + 10 + options.stay_seconds + STAY_FLOOR_RESERVE
            stay, stay_measured = await runner.stay_phase(hosts, guests,
                                                          timeout=budget.timeout(STAY_DRAIN, reserved))
            stay_result = await runner.workload(stay, stay_measured, workflow_type="StayRegister",
                                                encrypted=options.encrypt, client=coded, with_outcomes=False)
            burst = stats.stay_burst(options.stay_rate, options.stay_seconds, stay.submitted_at, stay.closed_at)
            print(f"stay: {burst.completion_rate_in_window:.1f}/s completed in the window", flush=True)
            # The same burst as bare one-activity workflows, one per notification: what the engine itself does
            # with the shape the registers replace (a dossier workflow per guest).
            stay_floor, stay_floor_measured = await runner.floor_phase(
                FloorPlan(before=1, after=0, wait_for_update=False), stay_count,
                budget.timeout(STAY_DRAIN, options.stay_seconds + 10), name="stayfloor", rate=options.stay_rate)
            stay_floor_result = await runner.workload(stay_floor, stay_floor_measured, workflow_type="BenchFloor",
                                                      encrypted=False, client=plain, with_outcomes=False)
            stay_floor_result.name = "stay floor"
            floor_burst = stats.stay_burst(options.stay_rate, options.stay_seconds, stay_floor.submitted_at,
                                           stay_floor.closed_at)
            print(f"stay floor: {floor_burst.completion_rate_in_window:.1f}/s completed in the window", flush=True)

        # 6. urgent work first under a backlog, within its own bound (added to the budget above).
        flood = QUICK_BACKLOG_FLOOD if options.quick else BACKLOG_FLOOD
        backlog_people = await load_applicants(database.url, flood + 1 + BACKLOG_DOSSIERS, f"{runner.tag}B")
        backlog = await runner.backlog_phase(backlog_people[:flood + 1], backlog_people[flood + 1:], BACKLOG_SECONDS)
        print(f"backlog: near-deadline dossiers p50 {backlog.urgent.p50} ms at their priority, "
              f"{backlog.at_flood_priority.p50} ms at the flood's", flush=True)

        report = stats.BenchReport(
            started_at=started_at,
            duration_seconds=0.0,
            machine=machine(postgres_version, probe_seconds),
            options={"dossiers": n, "workers": options.workers, "stay_rate": options.stay_rate,
                     "stay_seconds": options.stay_seconds, "api_stay_rate": options.api_stay_rate,
                     "api_stay_seconds": options.api_stay_seconds, "paced_seconds": options.paced_seconds,
                     "encrypt": options.encrypt, "quick": options.quick, "postgres": database.source,
                     "split_roles": options.split_roles, "rounds": len(results), **worker_tuning()},
            floor=floor_result,
            cutru=cutru_result,
            ratio=stats.ratio(cutru_result, floor_result),
            shaped_floor=shaped_result,
            rounds=round_figures,
            paced=paced_result,
            stay=stay_result,
            stay_burst=burst,
            stay_floor=stay_floor_result,
            stay_floor_burst=floor_burst,
            procedures=procedures,
            stay_note=stay_note,
            pdf_render_ms=pdf_render_ms(),
            backlog=backlog,
            notes=notes,
            **api_figures,
        )
        report.notes += noise_notes(report)
        report.targets = stats.check_targets(report)
        report.observations = stats.observations(report)
        report.duration_seconds = round(time.monotonic() - began, 1)
        return report


@asynccontextmanager
async def bench_stack(options: Options) -> AsyncIterator[Bench]:
    """A dev server and a seeded database of the run's own, in a temporary directory; all removed at the end
    (``--keep`` keeps the directory, with every process's log and the SQLite file)."""
    directory = Path(tempfile.mkdtemp(prefix="cutru-bench-"))
    server = TemporalServer.start(directory)
    database: Database | None = None
    try:
        database = await Database.create(directory, f"cutru_bench_{uuid.uuid4().hex[:10]}")
        await migrate(database.url)
        await seed(database.url, people=SEED_PEOPLE, seed=7, progress=False)
        # cutru runs encrypted only (its workers refuse to start without keys); the floor, the bare engine, in clear.
        key_line = new_key_line("bench")
        keyring = KeyRing.parse(key_line, "bench key")
        plain = await Client.connect(server.address, namespace=NAMESPACE, data_converter=pydantic_data_converter)
        coded = await Client.connect(server.address, namespace=NAMESPACE, data_converter=data_converter(keyring))
        yield Bench(options, directory, server, database, plain, coded, key_line)
    finally:
        server.stop()
        if database is not None:
            await database.drop()
        if options.keep:
            print(f"kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


async def database_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=None,
                        help=f"workflows in the floor and the cutru runs (default {DEFAULT_DOSSIERS}, "
                             f"--quick {QUICK_DOSSIERS})")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per workload (default 1)")
    parser.add_argument("--stay-seconds", type=float, default=None,
                        help=f"length of the stay-notification burst; 0 skips it (default {DEFAULT_STAY_SECONDS:.0f})")
    parser.add_argument("--stay-rate", type=float, default=DEFAULT_STAY_RATE,
                        help=f"stay notifications submitted per second (default {DEFAULT_STAY_RATE:.0f})")
    parser.add_argument("--paced-seconds", type=float, default=None,
                        help="length of the run at half the peak rate; 0 skips it "
                             f"(default {DEFAULT_PACED_SECONDS:.0f})")
    parser.add_argument("--api-stay-rate", type=float, default=DEFAULT_API_STAY_RATE,
                        help="stay notifications per second through the API, in batches of "
                             f"{API_STAY_BATCH} per establishment (default {DEFAULT_API_STAY_RATE:.0f})")
    parser.add_argument("--api-stay-seconds", type=float, default=None,
                        help="length of the burst through the API; 0 skips it "
                             f"(default {DEFAULT_STAY_SECONDS:.0f}, --quick {QUICK_STAY_SECONDS:.0f})")
    parser.add_argument("--no-encrypt", action="store_true",
                        help="refused: cutru no longer runs without payload encryption")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few dossiers, short burst")
    parser.add_argument("--json", type=Path, default=None, help="where to write the JSON report "
                        "(default bench/results/<UTC timestamp>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, SQLite file)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="run the floor, shaped floor and cutru this many times in turn (1-5; each round "
                             f"after the first adds {ROUND_BUDGET / 60:.0f} minutes to the run's budget) and report "
                             "the round with the median ratio, with every round's rates; default: as many as fit "
                             f"in the 10-minute budget, up to {AUTO_ROUNDS} (1 with --quick)")
    parser.add_argument("--split-roles", action="store_true",
                        help="each worker process becomes two: one for workflow tasks, one for activities "
                             "(CUTRU_WORKER_ROLE); the CUTRU_* tuning variables of worker.py apply to both workloads")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    dossiers = args.dossiers if args.dossiers is not None else (QUICK_DOSSIERS if quick else DEFAULT_DOSSIERS)
    if dossiers < 1 or args.workers < 1:
        parser.error("--dossiers and --workers must be at least 1")
    if args.rounds is not None and not 1 <= args.rounds <= 5:
        parser.error("--rounds must be between 1 and 5")
    if args.no_encrypt:
        parser.error("--no-encrypt: cutru's workers refuse to run without payload encryption")
    return Options(
        dossiers=dossiers,
        workers=args.workers,
        stay_seconds=args.stay_seconds if args.stay_seconds is not None
        else (QUICK_STAY_SECONDS if quick else DEFAULT_STAY_SECONDS),
        stay_rate=args.stay_rate,
        paced_seconds=args.paced_seconds if args.paced_seconds is not None
        else (QUICK_PACED_SECONDS if quick else DEFAULT_PACED_SECONDS),
        encrypt=not args.no_encrypt,
        json_path=args.json,
        keep=bool(args.keep),
        quick=quick,
        split_roles=bool(args.split_roles),
        api_stay_rate=args.api_stay_rate,
        api_stay_seconds=args.api_stay_seconds if args.api_stay_seconds is not None
        else (QUICK_STAY_SECONDS if quick else DEFAULT_STAY_SECONDS),
        rounds=args.rounds if args.rounds is not None or not quick else 1,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    report = asyncio.run(bench(options))
    print()
    print(stats.format_report(report))
    path = options.json_path or RESULTS_DIR / f"{report.started_at:%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2))
    print(f"\nJSON report: {path}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
