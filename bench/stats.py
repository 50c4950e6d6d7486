"""Statistics and the report of ``make bench``: pure functions over measured numbers, no I/O.

Everything the driver measures ends up in a :class:`BenchReport` (printed by :func:`format_report`, written as
JSON), so two runs can be compared field by field.

How Temporal actions are counted from a history (:data:`ACTION_RULE`), following Temporal Cloud's published
rules: one for the workflow start, one per activity attempt, one per timer started, one per signal received or
sent, one per update (accepted ones are in the history; rejected ones leave no event and are added from the
driver's count), one per UpsertWorkflowSearchAttributes command except the SDK's own ``TemporalChangeVersion`` upsert
of a ``workflow.patched`` branch (exempt), one per marker (local activity, patch, side effect: Temporal Cloud may bill
a workflow task's local activities as one, so this is an upper bound).
Queries are actions too but leave no event; the bench sends none. Visibility list/count calls are not actions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, computed_field

# The marker the SDK records for each local activity (workflows/lifecycle.py runs cutru's own steps so).
LOCAL_ACTIVITY_MARKER = "core_local_activity"
VERSION_MARKER = "core_patch"  # the SDK's marker for workflow.patched

ACTION_RULE = (
    "actions = workflow start + activity attempts + timers started + signals + updates (accepted in history, plus "
    "rejected ones counted by the driver) + search-attribute upserts (not the SDK's TemporalChangeVersion one) + "
    "markers (each one: an upper bound for local activities); queries and visibility calls: none sent"
)

# Targets of issue 6, measured on the 2-core machine with the file-backed dev server.
TARGET_RATIO = 0.85
TARGET_CPU_RATIO = 0.80
TARGET_STAY_RATE = 100.0
TARGET_STAY_SECONDS = 60.0
# Through the HTTP API (issue 21): receipt latency at half the API's peak, throughput against the direct client's,
# and establishments' stay notifications sent in batches.
TARGET_API_RECEIPT_P99_MS = 50.0
TARGET_API_RATIO = 0.9
TARGET_API_STAY_RATE = 500.0
TARGET_RECEIPT_P99_MS = 100.0
TARGET_WORKER_RSS_MB = 300.0
# Under a backlog of bulk work, dossiers near their deadline close in under this share of the time the same dossiers
# take at the bulk work's priority (bench.run's backlog phase; issue 25, item 10).
TARGET_BACKLOG_SHARE = 0.5
TARGET_BACKLOG_FLOOD = 800  # notifications in the flood the target is set for (--quick floods fewer: not judged)
# A burst is "sustained" when starts kept pace with the target and the backlog cleared soon after the last one.
SUSTAINED_SUBMIT_SHARE = 0.98
SUSTAINED_DRAIN_SECONDS = 5.0


# ---- percentiles -------------------------------------------------------------------------------------------------


class Percentiles(BaseModel):
    """A latency distribution in milliseconds; None fields when nothing was measured."""

    model_config = ConfigDict(frozen=True)

    count: int
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default), for ``0 <= q <= 1``."""
    if not sorted_values:
        raise ValueError("no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is outside [0, 1]")
    position = (len(sorted_values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def summarize(values_ms: Iterable[float]) -> Percentiles:
    ordered = sorted(values_ms)
    if not ordered:
        return Percentiles(count=0)
    return Percentiles(
        count=len(ordered),
        p50=round(percentile(ordered, 0.50), 1),
        p95=round(percentile(ordered, 0.95), 1),
        p99=round(percentile(ordered, 0.99), 1),
        max=round(ordered[-1], 1),
    )


# ---- histories ---------------------------------------------------------------------------------------------------


class Event(BaseModel):
    """The part of a history event the bench reads (payloads are never decoded: they may be encrypted)."""

    model_config = ConfigDict(frozen=True)

    event_id: int
    type: str  # e.g. "ActivityTaskScheduled"
    time: datetime
    activity_type: str | None = None  # ActivityTaskScheduled, and MarkerRecorded of a local activity
    scheduled_event_id: int | None = None  # ActivityTask{Started,Completed,...}, WorkflowTask{Started,Completed,...}
    attempt: int = 1  # ActivityTaskStarted: the attempt that ran (earlier attempts leave no event of their own)
    update_name: str | None = None  # WorkflowExecutionUpdateAccepted
    marker_name: str | None = None  # MarkerRecorded: LOCAL_ACTIVITY_MARKER, or the SDK's patch marker
    upserted: tuple[str, ...] = ()  # UpsertWorkflowSearchAttributes: the attributes' names


# The attribute the SDK upserts with a workflow.patched branch; Temporal Cloud bills no action for it.
CHANGE_VERSION = "TemporalChangeVersion"



_PROTO_PREFIX = "EVENT_TYPE_"


def event_type_name(proto_name: str) -> str:
    """``EVENT_TYPE_ACTIVITY_TASK_SCHEDULED`` → ``ActivityTaskScheduled`` (the name the Web UI shows)."""
    words = proto_name.removeprefix(_PROTO_PREFIX).lower().split("_")
    return "".join(word.capitalize() for word in words)


class HistoryProfile(BaseModel):
    """What one workflow's history contains, and what it costs in events and actions."""

    events: int
    by_type: dict[str, int]
    sequence: list[str]  # event types in order; activities carry their type, updates their name
    activities: int  # regular and local
    activity_types: list[str]  # in order, regular and local
    local_steps: list[int]  # which of them (0-based, in order) ran as local activities
    activities_before_update: int  # activities run before the first accepted update
    activities_before_updates: list[int]  # activities run before each accepted update, in order
    activities_before_versions: list[int]  # activities run before each version marker (workflow.patched), in order
    activity_attempts: int
    workflow_tasks: int
    timers: int
    signals: int
    updates: int
    rejected_updates: float  # per workflow, from the driver (they leave no event)
    search_attribute_upserts: int
    markers: int
    actions: float
    actions_by_kind: dict[str, float]


def profile_history(events: Sequence[Event], *, rejected_updates: float = 0.0) -> HistoryProfile:
    by_type = Counter(e.type for e in events)
    sequence: list[str] = []
    activity_types: list[str] = []
    local_steps: list[int] = []
    before_updates: list[int] = []
    before_versions: list[int] = []
    for event in events:
        if event.type == "ActivityTaskScheduled":
            activity_types.append(event.activity_type or "?")
            sequence.append(f"ActivityTaskScheduled({event.activity_type})")
        elif event.type == "MarkerRecorded" and event.marker_name == LOCAL_ACTIVITY_MARKER:
            local_steps.append(len(activity_types))
            activity_types.append(event.activity_type or "?")
            sequence.append(f"MarkerRecorded(local {event.activity_type})")
        elif event.type == "MarkerRecorded" and event.marker_name == VERSION_MARKER:
            before_versions.append(len(activity_types))
            sequence.append(event.type)
        elif event.type == "WorkflowExecutionUpdateAccepted":
            before_updates.append(len(activity_types))
            sequence.append(f"WorkflowExecutionUpdateAccepted({event.update_name})")
        else:
            sequence.append(event.type)
    attempts = sum(e.attempt for e in events if e.type == "ActivityTaskStarted")
    signals = by_type["WorkflowExecutionSignaled"] + by_type["SignalExternalWorkflowExecutionInitiated"]
    updates = by_type["WorkflowExecutionUpdateAccepted"]
    actions_by_kind: dict[str, float] = {
        "workflow started": by_type["WorkflowExecutionStarted"] + by_type["StartChildWorkflowExecutionInitiated"],
        "activity attempts": attempts,
        "timers started": by_type["TimerStarted"],
        "signals": signals,
        "updates": updates + rejected_updates,
        "search-attribute upserts": sum(e.type == "UpsertWorkflowSearchAttributes" and e.upserted != (CHANGE_VERSION,)
                                        for e in events),
        "markers": by_type["MarkerRecorded"],
    }
    return HistoryProfile(
        events=len(events),
        by_type=dict(by_type),
        sequence=sequence,
        activities=len(activity_types),
        activity_types=activity_types,
        local_steps=local_steps,
        activities_before_update=before_updates[0] if before_updates else len(activity_types),
        activities_before_updates=before_updates,
        activities_before_versions=before_versions,
        activity_attempts=attempts,
        workflow_tasks=by_type["WorkflowTaskScheduled"],
        timers=by_type["TimerStarted"],
        signals=signals,
        updates=updates,
        rejected_updates=rejected_updates,
        search_attribute_upserts=by_type["UpsertWorkflowSearchAttributes"],
        markers=by_type["MarkerRecorded"],
        actions=sum(actions_by_kind.values()),
        actions_by_kind={kind: n for kind, n in actions_by_kind.items() if n},
    )


def typical_history(histories: Sequence[Sequence[Event]]) -> Sequence[Event] | None:
    """The first history of the most common length: when an update or signal lands during a workflow task, the
    server folds it into that task and the history is a few events shorter, so lengths vary a little."""
    if not histories:
        return None
    lengths = Counter(len(h) for h in histories)
    # Ties go to the longer history: it is the shape where no event was folded into another task.
    common = max(lengths.items(), key=lambda item: (item[1], item[0]))[0]
    return next(h for h in histories if len(h) == common)


class SharedHistory(BaseModel):
    """Histories that serve many items (stay registers), per item: events, billed actions, activities."""

    events: float
    actions: float
    activities: float


def shared_history(histories: Sequence[Sequence[Event]], items: int) -> SharedHistory:
    profiles = [profile_history(events) for events in histories]
    per = max(items, 1)
    return SharedHistory(events=sum(p.events for p in profiles) / per, actions=sum(p.actions for p in profiles) / per,
                         activities=sum(p.activities for p in profiles) / per)


class StepTiming(BaseModel):
    """Where time goes per step: queueing (schedule→start) and execution (start→close), in milliseconds."""

    step: str  # an activity type, or "workflow task"
    count: int
    schedule_to_start_ms: Percentiles
    start_to_close_ms: Percentiles


WORKFLOW_TASK = "workflow task"
_CLOSES = {
    "ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut", "ActivityTaskCanceled",
    "WorkflowTaskCompleted", "WorkflowTaskFailed", "WorkflowTaskTimedOut",
}  # fmt: skip


def step_timings(histories: Iterable[Sequence[Event]]) -> list[StepTiming]:
    """Per activity type and for workflow tasks, across a sample of histories; the slowest steps first."""
    queued: dict[str, list[float]] = {}
    running: dict[str, list[float]] = {}
    for events in histories:
        scheduled: dict[int, tuple[str, datetime]] = {}
        started: dict[int, datetime] = {}
        for event in events:
            if event.type == "ActivityTaskScheduled":
                scheduled[event.event_id] = (event.activity_type or "?", event.time)
            elif event.type == "WorkflowTaskScheduled":
                scheduled[event.event_id] = (WORKFLOW_TASK, event.time)
            elif event.type in ("ActivityTaskStarted", "WorkflowTaskStarted") and event.scheduled_event_id:
                step, at = scheduled.get(event.scheduled_event_id, ("?", event.time))
                started[event.scheduled_event_id] = event.time
                queued.setdefault(step, []).append(_ms(at, event.time))
            elif event.type in _CLOSES and event.scheduled_event_id in started:
                step, _ = scheduled[event.scheduled_event_id]
                running.setdefault(step, []).append(_ms(started[event.scheduled_event_id], event.time))
    timings = [
        StepTiming(step=step, count=len(values), schedule_to_start_ms=summarize(values),
                   start_to_close_ms=summarize(running.get(step, [])))
        for step, values in queued.items()
    ]
    return sorted(timings, key=lambda t: -(t.start_to_close_ms.p50 or 0.0))


def _ms(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() * 1000.0


# ---- workloads ---------------------------------------------------------------------------------------------------


class Usage(BaseModel):
    """CPU seconds used during a phase and the peak resident memory of the busiest process."""

    cpu_seconds: float
    peak_rss_mb: float
    processes: int = 1


class Completion(BaseModel):
    """Throughput and latencies computed from when each workflow was submitted, acknowledged and closed."""

    submitted: int
    completed: int
    elapsed_seconds: float
    per_second: float
    submit_rate: float
    receipt_ms: Percentiles
    completion_ms: Percentiles


def completion(
    submitted_at: Mapping[str, datetime],
    receipt_ms: Mapping[str, float],
    closed_at: Mapping[str, datetime],
) -> Completion:
    """Elapsed time runs from the first submission to the last close; latencies are per workflow."""
    if not submitted_at:
        return Completion(submitted=0, completed=0, elapsed_seconds=0.0, per_second=0.0, submit_rate=0.0,
                          receipt_ms=summarize([]), completion_ms=summarize([]))
    first = min(submitted_at.values())
    closed = {wid: at for wid, at in closed_at.items() if wid in submitted_at}
    end = max(closed.values()) if closed else first
    elapsed = (end - first).total_seconds()
    last_submit = max(submitted_at.values())
    submit_span = (last_submit - first).total_seconds()
    return Completion(
        submitted=len(submitted_at),
        completed=len(closed),
        elapsed_seconds=round(elapsed, 2),
        per_second=round(len(closed) / elapsed, 2) if elapsed > 0 else 0.0,
        # One submission spans no time; its rate is undefined and reported as 0.
        submit_rate=round((len(submitted_at) - 1) / submit_span, 2) if submit_span > 0 else 0.0,
        receipt_ms=summarize(receipt_ms.values()),
        completion_ms=summarize(_ms(submitted_at[wid], at) for wid, at in closed.items()),
    )


def per_second_counts(start: datetime, times: Iterable[datetime], seconds: int) -> list[int]:
    """How many of ``times`` fall in each whole second after ``start``, for ``seconds`` buckets (later ones dropped)."""
    buckets = [0] * max(seconds, 0)
    for at in times:
        index = math.floor((at - start).total_seconds())
        if 0 <= index < len(buckets):
            buckets[index] += 1
    return buckets


class WorkloadResult(BaseModel):
    name: str
    workflow_type: str
    item: str = "workflow"  # what is counted: a workflow, or a notification recorded by a stay register
    workers: int
    encrypted: bool
    run: Completion
    activities_per_workflow: int
    activities_per_second: float
    worker: Usage
    server: Usage
    postgres_cpu_seconds: float | None = None
    driver_cpu_seconds: float
    other_cpu_seconds: float  # CPU used on the machine by processes that are not part of this bench
    api: Usage | None = None  # the HTTP API process, in the phases that go through it
    history: HistoryProfile | None = None
    steps: list[StepTiming] = []
    outcomes: dict[str, int] = {}
    notes: list[str] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cpu_ms_per_workflow(self) -> dict[str, float] | None:
        """CPU milliseconds per completed workflow, by process: on a saturated machine the rate is their inverse."""
        done = self.run.completed
        if not done:
            return None
        parts = {"worker": self.worker.cpu_seconds, "server": self.server.cpu_seconds,
                 "postgres": self.postgres_cpu_seconds or 0.0, "driver": self.driver_cpu_seconds}
        if self.api is not None:
            parts["api"] = self.api.cpu_seconds
        per = {k: round(1000 * v / done, 1) for k, v in parts.items()}
        return per | {"total": round(sum(per.values()), 1)}


class StayBurst(BaseModel):
    target_rate: float
    duration_seconds: float
    achieved_submit_rate: float
    completed_in_window: int
    completion_rate_in_window: float
    steady_completions_per_second_min: int | None
    steady_completions_per_second_median: float | None
    drain_seconds: float | None  # from the last submission to the last close
    sustained: bool
    completions_per_second: list[int]


def stay_burst(
    target_rate: float,
    duration_seconds: float,
    submitted_at: Mapping[str, datetime],
    closed_at: Mapping[str, datetime],
) -> StayBurst:
    """Did completions keep up with ``target_rate`` for ``duration_seconds``?

    The steady part of the per-second completion counts leaves out the first and last five seconds (ramp-up and
    the tail of the last submissions).
    """
    if not submitted_at:
        return StayBurst(target_rate=target_rate, duration_seconds=duration_seconds, achieved_submit_rate=0.0,
                         completed_in_window=0, completion_rate_in_window=0.0, steady_completions_per_second_min=None,
                         steady_completions_per_second_median=None, drain_seconds=None, sustained=False,
                         completions_per_second=[])
    first, last = min(submitted_at.values()), max(submitted_at.values())
    window = max(duration_seconds, 1e-9)
    achieved = len(submitted_at) / window
    closed = [at for wid, at in closed_at.items() if wid in submitted_at]
    in_window = sum(1 for at in closed if (at - first).total_seconds() <= window)
    buckets = per_second_counts(first, closed, math.ceil(window))
    steady = buckets[5:-5] if len(buckets) > 12 else buckets
    drain = (max(closed) - last).total_seconds() if closed else None
    all_closed = len(closed) == len(submitted_at)
    sustained = (
        achieved >= target_rate * SUSTAINED_SUBMIT_SHARE
        and all_closed
        and drain is not None
        and drain <= SUSTAINED_DRAIN_SECONDS
    )
    return StayBurst(
        target_rate=target_rate,
        duration_seconds=duration_seconds,
        achieved_submit_rate=round(achieved, 1),
        completed_in_window=in_window,
        completion_rate_in_window=round(in_window / window, 1),
        steady_completions_per_second_min=min(steady) if steady else None,
        steady_completions_per_second_median=round(percentile(sorted(steady), 0.5), 1) if steady else None,
        drain_seconds=round(drain, 2) if drain is not None else None,
        sustained=sustained,
        completions_per_second=buckets,
    )


# ---- the report --------------------------------------------------------------------------------------------------


class Machine(BaseModel):
    cpus: int
    cpu_model: str
    memory_gb: float
    load_average_at_start: tuple[float, float, float]
    python: str
    temporalio: str
    temporal_cli: str
    postgres: str
    # CPU seconds of a fixed pure-Python loop, run before the stack starts. Machines reporting the same CPU model
    # have run the floor at 36-41 workflows/s one day and 10-11 the next, so raw rates of two runs compare only
    # with this figure beside them (the ratio compares within a run).
    speed_probe_seconds: float | None = None


class TargetCheck(BaseModel):
    target: str
    measured: str
    ok: bool | None  # None: not measured in this run


class ProcedureHistory(BaseModel):
    """One dossier of a procedure, approved (fee confirmed at once), as the engine recorded it."""

    procedure: str
    outcome: str
    profile: HistoryProfile


class Round(BaseModel):
    """One floor, shaped floor and cutru run back to back: their rates and the two ratios within the round."""

    number: int
    floor_per_second: float
    shaped_per_second: float | None
    cutru_per_second: float
    ratio: float
    shaped_ratio: float | None  # cutru / shaped floor
    # CPU milliseconds per completed workflow of each phase (floor, shaped floor, cutru): the server's share drifts
    # most between phases; the worker's is what a change to the worker moves.
    server_ms: tuple[float | None, float | None, float | None] = (None, None, None)
    worker_ms: tuple[float | None, float | None, float | None] = (None, None, None)
    total_ms: tuple[float | None, float | None, float | None] = (None, None, None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cpu_ratio(self) -> float | None:
        """Shaped floor / cutru, in total CPU per completed workflow: the price of cutru's own work, read from CPU
        rather than from rates, so that it does not depend on how much of the machine each phase got."""
        _, shaped, cutru = self.total_ms
        return round(shaped / cutru, 3) if shaped and cutru else None

    @classmethod
    def of(cls, number: int, floor: WorkloadResult, shaped: WorkloadResult | None, cutru: WorkloadResult) -> Round:
        shaped_rate = shaped.run.per_second if shaped is not None else None

        def cpu_ms(part: str) -> tuple[float | None, float | None, float | None]:
            def of(workload: WorkloadResult | None) -> float | None:
                cpu = workload.cpu_ms_per_workflow if workload is not None else None
                return cpu[part] if cpu else None
            return of(floor), of(shaped), of(cutru)

        return cls(number=number, floor_per_second=floor.run.per_second, shaped_per_second=shaped_rate,
                   cutru_per_second=cutru.run.per_second, ratio=ratio(cutru, floor),
                   shaped_ratio=round(cutru.run.per_second / shaped_rate, 3) if shaped_rate else None,
                   server_ms=cpu_ms("server"), worker_ms=cpu_ms("worker"), total_ms=cpu_ms("total"))


def median_round(rounds: list[Round]) -> int:
    """Index of the round with the median ratio (the lower middle one of an even count): the round reported in
    full, so that one slow spell of the shared machine, which can move a phase a long way, does not make the
    headline."""
    ordered = sorted(range(len(rounds)), key=lambda i: rounds[i].ratio)
    return ordered[(len(rounds) - 1) // 2]


def pooled_cpu(rounds: list[Round]) -> tuple[float, float] | None:
    """The shaped floor's and cutru's CPU per completed workflow, averaged over every round that measured both: a
    second reading beside the median round's, steadier where one phase's CPU moves by a fifth from one minute to the
    next on a shared machine (docs/benchmarks.md)."""
    pairs = [(r.total_ms[1], r.total_ms[2]) for r in rounds if r.total_ms[1] and r.total_ms[2]]
    if not pairs:
        return None
    return sum(p[0] for p in pairs) / len(pairs), sum(p[1] for p in pairs) / len(pairs)


def median_cpu_round(rounds: list[Round]) -> Round | None:
    """The round with the median CPU ratio (the lower middle one of an even count), None without a shaped floor."""
    measured = sorted((r for r in rounds if r.cpu_ratio is not None), key=lambda r: r.cpu_ratio or 0.0)
    return measured[(len(measured) - 1) // 2] if measured else None


class Backlog(BaseModel):
    """Urgent work first under a backlog: a flood of bulk work on one worker, and in its middle dossiers near their
    legal deadline, some with the priority their working time left gives them, some at the flood's (what every task
    had before priorities: one first-in first-out queue). Submit-to-close latencies, milliseconds."""

    flood: int  # households' stay notifications submitted
    flood_priority: int
    urgent_priority: int
    urgent: Percentiles
    at_flood_priority: Percentiles
    flood_latency: Percentiles
    flood_drain_seconds: float | None  # from the flood's first submission to its last close
    elapsed_seconds: float
    notes: list[str] = []


def backlog(flood: int, flood_priority: int, urgent_priority: int, submitted: Mapping[str, datetime],
            closed: Mapping[str, datetime], urgent: Iterable[str], at_flood: Iterable[str], flooded: Iterable[str],
            elapsed_seconds: float, notes: list[str]) -> Backlog:
    def latencies(ids: Iterable[str]) -> Percentiles:
        return summarize(_ms(submitted[i], closed[i]) for i in ids if i in closed and i in submitted)

    flood_ids = [i for i in flooded if i in submitted]
    closes = [closed[i] for i in flood_ids if i in closed]
    drain = (max(closes) - min(submitted[i] for i in flood_ids)).total_seconds() if closes else None
    return Backlog(flood=flood, flood_priority=flood_priority, urgent_priority=urgent_priority,
                   urgent=latencies(urgent), at_flood_priority=latencies(at_flood), flood_latency=latencies(flood_ids),
                   flood_drain_seconds=round(drain, 1) if drain is not None else None,
                   elapsed_seconds=round(elapsed_seconds, 1), notes=notes)


class BenchReport(BaseModel):
    started_at: datetime
    duration_seconds: float
    machine: Machine
    options: dict[str, object]
    floor: WorkloadResult
    cutru: WorkloadResult
    ratio: float
    # The floor doing a dossier's engine shape too (bench/floor.py): cutru against it is the price of its own work.
    shaped_floor: WorkloadResult | None = None
    paced: WorkloadResult | None = None
    stay: WorkloadResult | None = None
    stay_burst: StayBurst | None = None
    stay_floor: WorkloadResult | None = None  # floor workflows shaped like a stay notification, same burst
    stay_floor_burst: StayBurst | None = None
    stay_note: str | None = None
    # Every round of floor, shaped floor and cutru (--rounds); floor, shaped_floor, cutru and ratio above are the
    # median round's.
    rounds: list[Round] = []
    procedures: list[ProcedureHistory] = []
    # Through the HTTP API: dossiers at full speed (``api_ratio`` against ``api_direct``, the direct client's phase
    # just before it), at half that rate, and a burst of establishments' stay notifications sent in batches.
    api: WorkloadResult | None = None
    api_direct: WorkloadResult | None = None  # the direct client right after the API's run
    api_direct_before: WorkloadResult | None = None  # and the last round's, right before it
    api_ratio: float | None = None  # the API's rate over the mean of the two direct ones
    api_paced: WorkloadResult | None = None
    api_stay: WorkloadResult | None = None
    api_stay_burst: StayBurst | None = None
    api_stay_batch: int | None = None  # notifications per request (one establishment's)
    api_stay_recorded_once: bool | None = None
    api_stay_recorded: str | None = None  # how many of the burst's codes were recorded, and whether any twice
    api_note: str | None = None
    pdf_render_ms: Percentiles | None = None
    backlog: Backlog | None = None
    targets: list[TargetCheck] = []
    observations: list[str] = []
    notes: list[str] = []


def ratio(cutru: WorkloadResult, floor: WorkloadResult) -> float:
    """cutru dossiers/s over floor workflows/s (the issue's headline number)."""
    return round(cutru.run.per_second / floor.run.per_second, 3) if floor.run.per_second else 0.0


def check_targets(report: BenchReport) -> list[TargetCheck]:
    checks = [
        TargetCheck(target=f"ratio cutru/floor >= {TARGET_RATIO}", measured=f"{report.ratio:.2f}",
                    ok=report.ratio >= TARGET_RATIO),
    ]
    burst = report.stay_burst
    stay_target = f"stay notifications >= {TARGET_STAY_RATE:.0f}/s for {TARGET_STAY_SECONDS:.0f} s"
    if burst is None:
        checks.append(TargetCheck(target=stay_target, measured=report.stay_note or "not run", ok=None))
    else:
        long_enough = burst.duration_seconds >= TARGET_STAY_SECONDS
        checks.append(TargetCheck(
            target=stay_target,
            measured=f"{burst.completion_rate_in_window:.1f}/s completed over {burst.duration_seconds:.0f} s "
                     f"(submitted {burst.achieved_submit_rate:.1f}/s, drain {burst.drain_seconds} s)",
            ok=(burst.sustained and burst.target_rate >= TARGET_STAY_RATE) if long_enough else None,
        ))
    paced = report.paced
    p99 = paced.run.receipt_ms.p99 if paced is not None else None
    checks.append(TargetCheck(
        target=f"submit-to-receipt p99 < {TARGET_RECEIPT_P99_MS:.0f} ms at half the peak rate",
        measured=f"{p99:.1f} ms at {paced.run.submit_rate:.1f}/s" if paced is not None and p99 is not None
        else "not run",
        ok=(p99 < TARGET_RECEIPT_P99_MS) if p99 is not None else None,
    ))
    rss = max([w.worker.peak_rss_mb for w in (report.cutru, report.paced, report.stay) if w is not None])
    checks.append(TargetCheck(target=f"worker peak RSS < {TARGET_WORKER_RSS_MB:.0f} MB", measured=f"{rss:.0f} MB",
                              ok=rss < TARGET_WORKER_RSS_MB))
    checks += _api_targets(report)
    checks.append(_backlog_target(report.backlog))
    cpu_round = median_cpu_round(report.rounds)
    if cpu_round is not None and cpu_round.cpu_ratio is not None:
        checks.append(TargetCheck(target=f"CPU ratio shaped floor / cutru >= {TARGET_CPU_RATIO}, median of the rounds",
                                  measured=f"{cpu_round.cpu_ratio:.2f}", ok=cpu_round.cpu_ratio >= TARGET_CPU_RATIO))
    return checks


def _backlog_target(backlog: Backlog | None) -> TargetCheck:
    target = (f"urgent work first: dossiers near their deadline under a flood of stay notifications close, median, "
              f"in < {TARGET_BACKLOG_SHARE} x the time of the same dossiers at the flood's priority")
    if backlog is None or backlog.urgent.p50 is None or backlog.at_flood_priority.p50 is None:
        return TargetCheck(target=target, measured="not run", ok=None)
    urgent, flooded = backlog.urgent.p50 / 1000, backlog.at_flood_priority.p50 / 1000
    return TargetCheck(
        target=target,
        measured=f"{urgent:.1f} s at priority {backlog.urgent_priority} vs {flooded:.1f} s at "
                 f"{backlog.flood_priority} (flood of {backlog.flood}, drained in {backlog.flood_drain_seconds} s)",
        ok=urgent < TARGET_BACKLOG_SHARE * flooded if backlog.flood >= TARGET_BACKLOG_FLOOD else None)


def _api_targets(report: BenchReport) -> list[TargetCheck]:
    not_run = report.api_note or "not run"
    paced = report.api_paced
    p99 = paced.run.receipt_ms.p99 if paced is not None else None
    checks = [TargetCheck(
        target=f"HTTP submit-to-receipt p99 < {TARGET_API_RECEIPT_P99_MS:.0f} ms at half the API's peak rate",
        measured=f"{p99:.1f} ms at {paced.run.submit_rate:.1f}/s" if paced is not None and p99 is not None
        else not_run,
        ok=(p99 < TARGET_API_RECEIPT_P99_MS) if p99 is not None else None,
    )]
    api, direct, before = report.api, report.api_direct, report.api_direct_before
    checks.append(TargetCheck(
        target=f"dossiers through the API >= {TARGET_API_RATIO} x the direct client's, side by side",
        measured=f"{api.run.per_second:.2f} / mean({before.run.per_second:.2f}, {direct.run.per_second:.2f}) = "
                 f"{report.api_ratio:.2f}"
        if api is not None and direct is not None and before is not None and report.api_ratio is not None
        else not_run,
        ok=report.api_ratio >= TARGET_API_RATIO if report.api_ratio is not None else None,
    ))
    burst = report.api_stay_burst
    target = (f"stay notifications through the API in batches per establishment >= {TARGET_API_STAY_RATE:.0f}/s "
              f"for {TARGET_STAY_SECONDS:.0f} s, each recorded once")
    if burst is None:
        checks.append(TargetCheck(target=target, measured=not_run, ok=None))
    else:
        long_enough = burst.duration_seconds >= TARGET_STAY_SECONDS
        once = report.api_stay_recorded or "not checked"
        checks.append(TargetCheck(
            target=target,
            measured=f"{burst.completion_rate_in_window:.1f}/s completed over {burst.duration_seconds:.0f} s "
                     f"(submitted {burst.achieved_submit_rate:.1f}/s in batches of {report.api_stay_batch}, "
                     f"drain {burst.drain_seconds} s; {once})",
            ok=(burst.sustained and burst.target_rate >= TARGET_API_STAY_RATE and bool(report.api_stay_recorded_once))
            if long_enough else None,
        ))
    return checks


def observations(report: BenchReport) -> list[str]:
    """Tuning opportunities read off the measurements, each with its number."""
    found: list[str] = []
    cutru, floor = report.cutru, report.floor
    history = cutru.history
    if history is not None and floor.history is not None:
        found.append(
            f"history: {history.events} events and {history.actions:g} actions per dossier vs "
            f"{floor.history.events} events and {floor.history.actions:g} actions per floor workflow"
        )
    if history is not None:
        billed = history.actions_by_kind.get("search-attribute upserts", 0)
        if history.search_attribute_upserts:
            found.append(
                f"{history.search_attribute_upserts} UpsertWorkflowSearchAttributes per dossier, each one event, "
                f"{billed:g} of them actions: a status that no officer or operator filters on, or in which the "
                "dossier does not rest, need not be upserted"
            )
        if history.timers:
            found.append(f"{history.timers} timer(s) per dossier ({2 * history.timers} events with the cancel, "
                         f"{history.timers} action(s)): the reminder timer of the legal clock")
        audits = history.activity_types.count("record_event")
        if audits:
            found.append(
                f"{audits} record_event activities per dossier ({audits * 3} events, {audits} actions): the audit row "
                "could be written inside the neighbouring activity's transaction (approval with request_payment, "
                "fee_paid with commit_residence)"
            )
        floor_tasks = floor.history.workflow_tasks if floor.history else "?"
        found.append(f"{history.workflow_tasks} workflow tasks per dossier vs {floor_tasks} in the floor")
    slow = [s for s in cutru.steps if s.step != WORKFLOW_TASK and (s.start_to_close_ms.p50 or 0) > 0]
    if slow:
        listed = ", ".join(f"{s.step} {s.start_to_close_ms.p50:.0f} ms" for s in slow[:4])
        found.append(f"slowest activities (start→close p50 at peak): {listed}")
    # (A render too fast to register in process time caps nothing.)
    render_ms = report.pdf_render_ms.p50 if report.pdf_render_ms is not None else None
    if render_ms:
        found.append(
            f"PDF rendering: {_milliseconds(render_ms)} ms CPU per document (p50, in the driver process), two per "
            "approved dossier (CT04, CT08), synchronous on the worker's event loop: it alone caps one worker process "
            f"at about {1000 / (2 * render_ms):.0f} dossiers/s"
        )
    queue = next((s for s in cutru.steps if s.step == WORKFLOW_TASK), None)
    floor_queue = next((s for s in floor.steps if s.step == WORKFLOW_TASK), None)
    if queue is not None and floor_queue is not None:
        found.append(
            f"workflow tasks at peak: schedule→start p50 {queue.schedule_to_start_ms.p50} ms, start→close p50 "
            f"{queue.start_to_close_ms.p50} ms (cutru) vs {floor_queue.schedule_to_start_ms.p50} ms and "
            f"{floor_queue.start_to_close_ms.p50} ms (floor)"
        )
    if cutru.worker.cpu_seconds and cutru.run.completed:
        per = cutru.worker.cpu_seconds / cutru.run.completed * 1000
        floor_per = floor.worker.cpu_seconds / floor.run.completed * 1000 if floor.run.completed else 0.0
        found.append(f"worker CPU per dossier {per:.0f} ms vs {floor_per:.0f} ms per floor workflow")
    stay = report.stay
    if stay is not None and stay.history is not None and stay.run.completed:
        worker_ms = stay.worker.cpu_seconds / stay.run.completed * 1000
        server_ms = stay.server.cpu_seconds / stay.run.completed * 1000
        upserts = stay.history.search_attribute_upserts
        found.append(
            f"stay notification: {stay.history.events} events, {stay.history.actions:g} actions, of which {upserts} "
            f"search-attribute upsert(s); at most {worker_ms:.0f} ms worker CPU per completed notification (one "
            f"worker core: about {1000 / worker_ms:.0f}/s) and {server_ms:.0f} ms server CPU (upper bounds: the "
            "phase's CPU also went to the notifications started but not completed)"
        )
    if report.stay_burst is not None and report.stay_floor_burst is not None:
        # Over the whole phase as well as within the burst: which notifications complete first under overload
        # depends on task scheduling, so the in-window figures of the two can differ more than their totals.
        overall = ""
        if report.stay is not None and report.stay_floor is not None:
            overall = f" ({report.stay.run.per_second:.1f}/s vs {report.stay_floor.run.per_second:.1f}/s overall)"
        found.append(
            f"stay burst: {report.stay_burst.completion_rate_in_window:.1f}/s completed in the window vs "
            f"{report.stay_floor_burst.completion_rate_in_window:.1f}/s for floor workflows of the same shape under "
            f"the same burst{overall}: the floor's figure is what this machine's engine allows at all"
        )
    if cutru.server.cpu_seconds and cutru.run.completed:
        per = cutru.server.cpu_seconds / cutru.run.completed * 1000
        floor_per = floor.server.cpu_seconds / floor.run.completed * 1000 if floor.run.completed else 0.0
        found.append(f"server CPU per dossier {per:.0f} ms vs {floor_per:.0f} ms per floor workflow")
    return found


# ---- text form ---------------------------------------------------------------------------------------------------


def _milliseconds(value: float | None) -> str:
    """Milliseconds as the report prints them: below 10, to a tenth (a form renders in well under one)."""
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _p(p: Percentiles) -> str:
    if p.count == 0:
        return "-"
    return f"{p.p50:.0f} / {p.p95:.0f} / {p.p99:.0f}"


def _workload_lines(w: WorkloadResult) -> list[str]:
    r = w.run
    lines = [
        f"{w.name}: {w.workflow_type}, {w.workers} worker process(es), "
        f"payloads {'encrypted' if w.encrypted else 'plain'}",
        f"  completed {r.completed}/{r.submitted} in {r.elapsed_seconds:.1f} s: {r.per_second:.2f} {w.item}s/s, "
        + (f"{w.activities_per_second:.1f} activities/s ({w.activities_per_workflow} per workflow); "
           if w.activities_per_workflow else "")
        + f"submitted at {r.submit_rate:.1f}/s",
        f"  submit-to-receipt ms p50/p95/p99: {_p(r.receipt_ms)};  submit-to-completion ms p50/p95/p99: "
        f"{_p(r.completion_ms)}",
        f"  worker CPU {w.worker.cpu_seconds:.1f} s, peak RSS {w.worker.peak_rss_mb:.0f} MB; server CPU "
        f"{w.server.cpu_seconds:.1f} s, peak RSS {w.server.peak_rss_mb:.0f} MB; PostgreSQL CPU "
        f"{'-' if w.postgres_cpu_seconds is None else f'{w.postgres_cpu_seconds:.1f} s'}; driver CPU "
        f"{w.driver_cpu_seconds:.1f} s; other processes {w.other_cpu_seconds:.1f} s"
        + (f"; API CPU {w.api.cpu_seconds:.1f} s, peak RSS {w.api.peak_rss_mb:.0f} MB" if w.api is not None else ""),
    ]
    cpu = w.cpu_ms_per_workflow
    if w.api is not None and cpu is not None:
        lines.append(f"  CPU ms per {w.item}: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
    if w.history is not None:
        h = w.history
        lines.append(
            f"  history: {h.events} events, {h.actions:g} actions ("
            + ", ".join(f"{k} {v:g}" for k, v in h.actions_by_kind.items()) + ")"
        )
    if w.outcomes:
        lines.append("  outcomes (sample): " + ", ".join(f"{k} {v}" for k, v in sorted(w.outcomes.items())))
    lines += [f"  note: {n}" for n in w.notes]
    return lines


def _round_lines(report: BenchReport) -> list[str]:
    if len(report.rounds) < 2:
        return []
    chosen = report.rounds[median_round(report.rounds)].number
    def cell(value: float | None, width: int, digits: int) -> str:
        return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"

    lines = [f"rounds (workflows/s):  {'floor':>7} {'shaped':>7} {'cutru':>7} {'ratio':>6} {'cutru/shaped':>12} "
             f"{'CPU ratio':>9}   CPU ms per workflow (floor, shaped, cutru): worker | server"]
    for r in report.rounds:
        mark = "  <- reported above" if r.number == chosen else ""
        lines.append(f"  round {r.number:<14} {r.floor_per_second:>7.2f} {cell(r.shaped_per_second, 7, 2)} "
                     f"{r.cutru_per_second:>7.2f} {r.ratio:>6.2f} {cell(r.shaped_ratio, 12, 2)} "
                     f"{cell(r.cpu_ratio, 9, 2)}   "
                     f"{', '.join(cell(ms, 1, 1) for ms in r.worker_ms)} | "
                     f"{', '.join(cell(ms, 1, 1) for ms in r.server_ms)}{mark}")
    ratios = sorted(r.ratio for r in report.rounds)
    median = "median" if len(ratios) % 2 else "lower median"
    lines.append(f"  ratio over {len(ratios)} rounds: min {ratios[0]:.2f}, {median} {report.ratio:.2f}, "
                 f"max {ratios[-1]:.2f}")
    cpu = sorted(r.cpu_ratio for r in report.rounds if r.cpu_ratio is not None)
    middle = median_cpu_round(report.rounds)
    if middle is not None:  # a round measured it, so cpu holds it
        lines.append(f"  CPU ratio (shaped floor / cutru) over {len(cpu)} rounds: min {cpu[0]:.2f}, "
                     f"{'median' if len(cpu) % 2 else 'lower median'} {middle.cpu_ratio:.2f}, max {cpu[-1]:.2f}")
    return lines


def _cpu_lines(report: BenchReport) -> list[str]:
    """Where the time goes: both phases saturate the machine, so the ratio follows CPU per workflow."""
    rows = [w for w in (report.floor, report.shaped_floor, report.cutru) if w is not None and w.cpu_ms_per_workflow]
    if report.cutru not in rows or report.floor not in rows:
        return []
    lines = [f"CPU per completed workflow, ms: {'worker':>7} {'server':>7} {'PostgreSQL':>10} {'driver':>7} "
             f"{'total':>7}"]
    for w in rows:
        c = w.cpu_ms_per_workflow or {}
        label = w.name.split(" (")[0]  # the shaped floor's explanation is printed with its phase above
        lines.append(f"  {label:<29} {c['worker']:>7.1f} {c['server']:>7.1f} {c['postgres']:>10.1f} "
                     f"{c['driver']:>7.1f} {c['total']:>7.1f}")
    floor_total = (report.floor.cpu_ms_per_workflow or {})["total"]
    cutru_total = (report.cutru.cpu_ms_per_workflow or {})["total"]
    lines.append(f"  floor / cutru CPU = {floor_total:.1f} / {cutru_total:.1f} = {floor_total / cutru_total:.2f}: "
                 "the ratio the CPU alone allows, whatever the tuning of concurrency")
    return lines


def _rate(w: WorkloadResult | None) -> str:
    return f"{w.run.per_second:.2f}" if w is not None else "-"


def _api_lines(report: BenchReport) -> list[str]:
    """The API beside the direct client: throughput, CPU per dossier by process, and the batched stay burst."""
    if report.api is None or report.api_direct is None:
        return [f"through the API: {report.api_note}", ""] if report.api_note else []
    api, direct, before = report.api, report.api_direct, report.api_direct_before
    lines = [f"API / direct client = {api.run.per_second:.2f} / mean of {_rate(before)} (the last round, before) "
             f"and {_rate(direct)} (right after) = {report.api_ratio:.2f} dossiers/s"]
    for label, w in (("direct client before", before), ("through the API", api), ("direct client after", direct),
                     ("API at half its peak", report.api_paced)):
        cpu = w.cpu_ms_per_workflow if w is not None else None
        if cpu:
            lines.append(f"  CPU ms per dossier, {label}: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
    b = report.api_stay_burst
    if b is not None:
        lines.append(
            f"stay notifications through the API, batches of {report.api_stay_batch}: target {b.target_rate:.0f}/s "
            f"for {b.duration_seconds:.0f} s; submitted {b.achieved_submit_rate:.1f}/s; completed "
            f"{b.completed_in_window} in the window ({b.completion_rate_in_window:.1f}/s), steady per-second "
            f"completions min {b.steady_completions_per_second_min} median {b.steady_completions_per_second_median}; "
            f"drain {b.drain_seconds} s; {'sustained' if b.sustained else 'NOT sustained'}; "
            f"{report.api_stay_recorded or 'not checked'}")
    return [*lines, ""]


def _backlog_lines(backlog: Backlog | None) -> list[str]:
    if backlog is None:
        return []
    lines = [f"backlog: {backlog.flood} households' stay notifications at priority {backlog.flood_priority} on one "
             f"worker, drained in {backlog.flood_drain_seconds} s; submit-to-close ms p50/p95/p99: near-deadline "
             f"dossiers at priority {backlog.urgent_priority} {_p(backlog.urgent)}, the same at the flood's priority "
             f"{_p(backlog.at_flood_priority)}, the flood {_p(backlog.flood_latency)} ({backlog.elapsed_seconds} s)"]
    return lines + [f"  {note}" for note in backlog.notes] + [""]


def format_report(report: BenchReport) -> str:
    m = report.machine
    lines = [
        f"cutru benchmark — {report.started_at:%Y-%m-%d %H:%M:%S} UTC, {report.duration_seconds:.0f} s",
        f"machine: {m.cpus} CPU ({m.cpu_model}), {m.memory_gb:.1f} GB, load average at start "
        f"{' '.join(f'{x:.2f}' for x in m.load_average_at_start)}; Python {m.python}, temporalio {m.temporalio}, "
        f"{m.temporal_cli}, PostgreSQL {m.postgres}"
        + (f"; speed probe {m.speed_probe_seconds:.3f} s" if m.speed_probe_seconds is not None else ""),
        "options: " + ", ".join(f"{k}={v}" for k, v in report.options.items()),
        "",
    ]
    for workload in (report.floor, report.shaped_floor, report.cutru, report.paced, report.stay, report.stay_floor,
                     report.api, report.api_direct, report.api_paced, report.api_stay):
        if workload is not None:
            lines += _workload_lines(workload) + [""]
    bursts = (("stay-notification burst", report.stay_burst), ("stay-floor burst", report.stay_floor_burst))
    for title, b in bursts:
        if b is None:
            continue
        lines += [
            f"{title}: target {b.target_rate:.0f}/s for {b.duration_seconds:.0f} s; submitted "
            f"{b.achieved_submit_rate:.1f}/s; completed {b.completed_in_window} in the window "
            f"({b.completion_rate_in_window:.1f}/s), steady per-second completions min "
            f"{b.steady_completions_per_second_min} median {b.steady_completions_per_second_median}; "
            f"drain {b.drain_seconds} s; "
            f"{'sustained' if b.sustained else 'NOT sustained'}",
            "",
        ]
    if report.stay_burst is None and report.stay_note:
        lines += [f"stay-notification burst: {report.stay_note}", ""]
    lines += _api_lines(report)
    lines += _backlog_lines(report.backlog)
    lines.append(f"RATIO cutru / floor = {report.cutru.run.per_second:.2f} / {report.floor.run.per_second:.2f} = "
                 f"{report.ratio:.2f}")
    if report.shaped_floor is not None and report.shaped_floor.run.per_second:
        shaped = report.shaped_floor.run.per_second
        lines.append(f"cutru / shaped floor = {report.cutru.run.per_second:.2f} / {shaped:.2f} = "
                     f"{report.cutru.run.per_second / shaped:.2f}: the engine doing a dossier's whole shape; the rest "
                     "is cutru's own work (forms, database, encryption, validation)")
        if report.floor.run.per_second:
            lines.append(f"shaped floor / floor = {shaped:.2f} / {report.floor.run.per_second:.2f} = "
                         f"{shaped / report.floor.run.per_second:.2f}: the most any workflow of a dossier's engine "
                         "shape reaches against the floor, however little its activities do")
    cpu_round = median_cpu_round(report.rounds)
    if cpu_round is not None:
        _, shaped_ms, cutru_ms = cpu_round.total_ms
        lines.append(f"CPU RATIO shaped floor / cutru = {shaped_ms:.1f} / {cutru_ms:.1f} = {cpu_round.cpu_ratio:.2f} "
                     f"(ms per completed workflow, round {cpu_round.number}, the median of {len(report.rounds)})")
        pooled = pooled_cpu(report.rounds)
        if pooled is not None and len(report.rounds) > 1:
            lines.append(f"  the same over the {len(report.rounds)} rounds' means: {pooled[0]:.1f} / {pooled[1]:.1f} = "
                         f"{pooled[0] / pooled[1]:.2f}")
    lines += _round_lines(report)
    lines += _cpu_lines(report)
    if report.pdf_render_ms is not None:
        render = report.pdf_render_ms
        lines.append(f"PDF render (one CT04, driver process) ms p50/p95/p99: "
                     f"{_milliseconds(render.p50)} / {_milliseconds(render.p95)} / {_milliseconds(render.p99)}")
    lines += ["", "targets:"]
    for check in report.targets:
        verdict = "n/a " if check.ok is None else ("PASS" if check.ok else "FAIL")
        lines.append(f"  [{verdict}] {check.target}: {check.measured}")
    history = report.cutru.history
    if history is not None:
        lines += ["", f"history of one {report.cutru.workflow_type} ({history.events} events):"]
        lines += [f"  {i:>2}. {name}" for i, name in enumerate(history.sequence, start=1)]
    if report.procedures:
        lines += ["", "history of one dossier of every procedure (approved, fee confirmed at once):",
                  f"  {'procedure':<32} {'outcome':<10} {'events':>6} {'actions':>7} {'activities':>10} "
                  f"{'tasks':>5} {'timers':>6} {'upserts':>7}"]
        lines += [f"  {h.procedure:<32} {h.outcome:<10} {h.profile.events:>6} {h.profile.actions:>7.0f} "
                  f"{h.profile.activities:>10} {h.profile.workflow_tasks:>5} {h.profile.timers:>6} "
                  f"{h.profile.search_attribute_upserts:>7}" for h in report.procedures]
    if report.cutru.steps:
        lines += ["", "cutru steps at peak (ms, p50 / p95 / p99): schedule→start | start→close"]
        lines += [f"  {s.step:<22} n={s.count:<5} {_p(s.schedule_to_start_ms):>16} | {_p(s.start_to_close_ms)}"
                  for s in report.cutru.steps]
    if report.observations:
        lines += ["", "tuning opportunities observed:"]
        lines += [f"  - {o}" for o in report.observations]
    lines += ["", f"action counting: {ACTION_RULE}"]
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)

