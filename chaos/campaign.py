"""One campaign: private stack up, population seeded, load and faults together, drain, verify, report, clean up."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from cutru_local.postgres import SOCKET_FILE, LocalPostgres
from cutru_local.seed import DEMO_UNIT_CODE, seed
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError

from activities.notify import lane_lease
from chaos.actors import Actors
from chaos.faults import FaultKind, Injector, Switches, schedule, supervise
from chaos.network import BlackHole
from chaos.outlets import OutboxCheck, Outlet, check_outbox, wait_for_outbox
from chaos.population import (
    BUILDERS,
    COMPETING_PLAN,
    PROCESSING,
    Case,
    Plan,
    Population,
    competing_pair,
    draw_plan,
    paper,
    today_in_vietnam,
)
from chaos.stack import DATABASE, PrivateTemporal, WorkerProcess, private_postgres
from chaos.subscriber import SECRET_ENV
from chaos.verify import Verification, verify
from chaos.worker import DISK_FULL_ENV, GATEWAY_FAULT_ENV, full_disk_hook
from cutru.clients.client import SubmissionRejected, check_submission
from cutru.platform.codec import KeyRing, data_converter, new_key_line
from cutru.platform.config import processing_environment
from cutru.platform.db.migrate import create_database, migrate
from cutru.platform.signing import DecisionKeyRing
from cutru.platform.storage import FileStore
from cutru.platform.temporal import set_current_version, task_queue_pollers
from domain import webhooks
from domain.kinds import Procedure
from domain.procedures.catalogue import submission_model
from workflows.dispatch import NOT_A_DOSSIER
from workflows.procedures import WORKFLOWS

TASK_QUEUE = "cutru-chaos"
DEPLOYMENT = "cutru-chaos"  # the Worker Deployment the workers poll as
COMPETING = "competing dossiers on one household"


@dataclass(frozen=True)
class CampaignConfig:
    seed: int = 1
    dossiers: int = 1_000
    faults_per_kind: int = 20
    kinds: tuple[FaultKind, ...] = tuple(FaultKind)  # the kinds injected, ``faults_per_kind`` of each
    competing: int = 20  # pairs of dossiers competing for one household (among ``dossiers``)
    load_seconds: float = 300.0  # submissions are spread over this window
    fault_seconds: float = 420.0  # faults of each kind are spread over this window (from the first submission)
    # After the last fault, every dossier must reach its final state. The drain ends when all have, when none has
    # closed for ``stall_seconds`` (the open ones are stuck), or after ``drain_seconds`` at most: a machine busy with
    # other work slows the campaign down, which must not be mistaken for stuck dossiers.
    drain_seconds: float = 900.0
    stall_seconds: float = 120.0
    people: int = 2_000  # seeded population (police units and officers come with it)
    units: int = 4  # police units the dossiers are spread over
    workers: int = 2
    work_dir: Path | None = None  # default: a fresh temporary directory, removed unless keep or failure
    keep: bool = False
    progress: bool = True  # one line every few seconds on stderr


class CampaignReport(BaseModel):
    seed: int
    procedures: list[str]
    skipped_procedures: dict[str, str]
    submitted: int
    faults_planned: dict[str, int]
    faults_injected: dict[str, int]
    flooded: list[str] = []
    rolling_restarts: list[tuple[float, float]] = []  # each: seconds to drain and stop, to poll again
    payload_key_rotations: int = 0
    build: str = ""
    worker_self_restarts: int
    activities_by_worker: dict[str, int]
    actions: dict[str, int]
    driver_errors: dict[str, int]
    verification: Verification
    outbox: OutboxCheck
    seconds: dict[str, float]
    work_dir: str | None

    @property
    def ok(self) -> bool:
        every_fault = all(self.faults_injected.get(k, 0) >= n for k, n in self.faults_planned.items())
        return (self.verification.ok and self.outbox.ok and every_fault
                and self.submitted == self.verification.dossiers)

    def figures(self) -> list[tuple[str, int]]:
        """The figures the table ends with, one a line: every one but ``fault kinds`` must be 0."""
        v, o = self.verification, self.outbox
        return [("lost", v.lost), ("duplicated", v.duplicated), ("stuck", v.stuck),
                ("unexpected effects", v.unexpected),
                ("read model disagreeing", v.read_model_mismatches), ("audit disagreeing", v.audit_disagreeing),
                ("histories not replaying", v.not_replaying),
                ("documents mismatched", v.documents_mismatched),
                ("attachments mismatched", v.attachments_mismatched),
                ("household conflicts", v.household_conflicts), ("payloads unencrypted", v.payloads_unencrypted),
                ("notifications missing", o.notifications_missing),
                ("notifications duplicated", o.notifications_duplicated), ("events missing", o.events_missing),
                ("fault kinds", sum(1 for k, n in self.faults_planned.items()
                                    if n and self.faults_injected.get(k, 0) >= n))]

    def table(self) -> str:
        v = self.verification
        seen = sorted(v.payload_keys_seen.items(), key=lambda item: (len(item[0]), item[0]))  # k2 before k10
        keys = (f"{len(seen)} keys: {seen[0][0]} {seen[0][1]}" + (f" … {seen[-1][0]} {seen[-1][1]}" if len(seen) > 1
                                                                    else "")) if seen else ""
        lines = [f"cutru chaos campaign — seed {self.seed}, {len(self.procedures)} procedures, "
                 f"{self.seconds.get('total', 0):.0f} s",
                 f"payload encryption: on (AES-256-GCM, every worker and client); {self.payload_key_rotations} key "
                 f"rotations; {self.build}",
                 "seconds: " + ", ".join(f"{stage} {n:.0f}" for stage, n in self.seconds.items() if stage != "total")]

        def row(label: str, value: object) -> None:
            lines.append(f"  {label:<50} {value}")

        lines.append("")
        row("dossiers submitted", self.submitted)
        row("of which stay notices through a register", v.through_registers)
        row("of which competing for a household (pairs)", v.competing_pairs)
        for kind, planned in self.faults_planned.items():
            row(f"faults: {kind}", f"{self.faults_injected.get(kind, 0)} / {planned} planned")
        row("worker restarts after exiting on their own", self.worker_self_restarts)
        if self.rolling_restarts:
            drains = sorted(a for a, _ in self.rolling_restarts)
            polls = sorted(b for _, b in self.rolling_restarts)
            row("rolling restarts (median s to drain, to poll again)",
                f"{len(polls)} ({drains[len(drains) // 2]:.1f}, {polls[len(polls) // 2]:.1f})")
        for worker, n in sorted(self.activities_by_worker.items()):
            row(f"activity tasks run by {worker}", n)
        for action, n in sorted(self.actions.items()):
            row(f"action: {action}", n)
        lines.append("")
        for state, n in sorted(v.final_states.items(), key=lambda item: -item[1]):
            row(f"final state: {state}", n)
        lines.append("")
        row("workflow-task timeouts (killed workers)", v.workflow_task_timeouts)
        row("activity attempts > 1 (retried after a fault)", v.activity_retries)
        row("e-mails sent (each once)", self.outbox.notifications_sent)
        row("events delivered to the subscriber", self.outbox.events_delivered)
        row("documents checked against their SHA-256", v.documents_checked)
        row("attachments checked against their SHA-256", v.attachments_checked)
        row("history payloads checked (encrypted)", v.payloads_checked)
        row("payloads by key id", keys or "none")
        for cause, n in sorted(v.benign_task_failures.items()):
            row(f"benign workflow-task failures: {cause}", n)
        lines.append("")
        lines.append(f"  {'procedure':<34} " + " ".join(f"{s:>10}" for s in _STATES))
        for procedure, states in v.by_procedure.items():
            lines.append(f"  {procedure:<34} " + " ".join(f"{states.get(s, 0):>10}" for s in _STATES))
        for procedure, reason in self.skipped_procedures.items():
            lines.append(f"  skipped {procedure}: {reason}")
        if v.examples:
            lines.append("")
            lines.append("  problems (first ones):")
            lines += [f"    {example}" for example in v.examples]
        lines.append("")
        lines.append("  RESULT: " + ("OK — nothing lost, duplicated or stuck" if self.ok else "FAILED"))
        lines.append("")
        lines += [f"{label} {value}" for label, value in self.figures()]
        return "\n".join(lines)


_STATES = ("completed", "refused", "cancelled", "withdrawn", "still running")


@dataclass
class _Run:
    config: CampaignConfig
    root: Path
    rng: random.Random
    postgres: LocalPostgres
    temporal: PrivateTemporal
    workers: list[WorkerProcess] = field(default_factory=list)
    outlets: dict[FaultKind, Outlet] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    link: BlackHole | None = None  # between the workers and PostgreSQL
    # The run's own keys: workers refuse to start without them, and the campaign's client and actors use them too.
    # Payload keys: one for each rotation and one more, all generated now; the workers hold the active key first,
    # the older ones, and the next one staged (decrypting only), so that no worker meets a payload under a key it
    # does not hold while the others are restarted with the next.
    payload_keys: list[str] = field(default_factory=list)
    rotations: int = 0
    builds: int = 1
    decision_keys: DecisionKeyRing = field(default_factory=lambda: DecisionKeyRing.generate("chaos"))
    webhook_secret: str = field(default_factory=webhooks.new_secret)

    def worker_keys(self) -> str:
        """The workers' ring after ``rotations`` rotations: the active key, the older ones, the staged one."""
        active = self.rotations
        return ",".join([*reversed(self.payload_keys[:active + 1]), self.payload_keys[active + 1]])

    def rotate_key(self) -> dict[str, str]:
        self.rotations += 1
        return {"CUTRU_PAYLOAD_KEYS": self.worker_keys()}

    def version(self) -> WorkerDeploymentVersion:
        """The Worker Deployment Version the workers poll as after ``builds`` builds (the same code each time)."""
        return WorkerDeploymentVersion(deployment_name=DEPLOYMENT, build_id=f"build-{self.builds}")

    def next_build(self) -> dict[str, str]:
        self.builds += 1
        return {"CUTRU_BUILD_ID": self.version().build_id}

    def say(self, message: str) -> None:
        if self.config.progress:
            print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


async def run_campaign(config: CampaignConfig) -> CampaignReport:
    """Run one campaign and return its report; every process it started is stopped before it returns."""
    root = config.work_dir or Path(tempfile.mkdtemp(prefix="cutru-chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    run = _Run(config, root, random.Random(config.seed), private_postgres(root / "postgres"),
               PrivateTemporal(root / "temporal"),
               payload_keys=[new_key_line(f"chaos-k{i}") for i in range(config.faults_per_kind + 2)])
    report: CampaignReport | None = None
    # Interrupted (Ctrl-C, a test timeout), the event loop may not get to run the teardown: the interpreter's exit
    # still kills every process the campaign started.
    atexit.register(_kill_everything, run)
    try:
        report = await _campaign(run)
        return report
    finally:
        await _teardown(run)
        atexit.unregister(_kill_everything)
        if report is not None and report.ok and not config.keep and config.work_dir is None:
            run.postgres.remove()  # run as root, its files live outside the campaign's directory
            shutil.rmtree(root, ignore_errors=True)
        elif report is not None:
            report.work_dir = str(root)


async def _campaign(run: _Run) -> CampaignReport:
    config = run.config
    started = time.monotonic()
    run.say(f"private stack in {run.root}, PostgreSQL in {run.postgres.home}")
    await asyncio.to_thread(run.postgres.init)
    await asyncio.to_thread(run.postgres.start)
    await create_database(run.postgres.url("postgres"), DATABASE)
    url = run.postgres.url()
    await migrate(url)
    await seed(url, people=config.people, seed=config.seed, progress=False,
               reference_date=today_in_vietnam(datetime.now(UTC)))
    cases, skipped = await _build_cases(run, url)
    run.seconds["setup"] = time.monotonic() - started
    run.say(f"{len(cases)} dossiers built over {len({c.procedure for c in cases})} procedures"
            + (f"; skipped {sorted(skipped)}" if skipped else ""))

    run.outlets = {FaultKind.SMTP: Outlet.mail_server(run.root, dict(os.environ)),
                   FaultKind.WEBHOOK: Outlet.subscriber(run.root, {**os.environ, SECRET_ENV: run.webhook_secret})}
    for outlet in run.outlets.values():
        await asyncio.to_thread(outlet.start)
    subscriber = f"http://127.0.0.1:{run.outlets[FaultKind.WEBHOOK].port}/events"
    async with asyncpg.create_pool(url, min_size=0, max_size=1) as setup:
        await setup.execute("INSERT INTO subscriptions (client, url, secret) VALUES ('statistics', $1, $2)",
                            subscriber, run.webhook_secret)
    await asyncio.to_thread(run.temporal.start)
    # The workers reach PostgreSQL over TCP through the link the faults drop and slow; the campaign's own pool (the
    # API's, the citizens') goes straight to its socket.
    run.link = BlackHole(str(run.postgres.socket_dir / SOCKET_FILE), None)
    link_url = f"postgresql://postgres@127.0.0.1:{await run.link.start()}{urlsplit(url).path}"
    # The first worker's gateway confirms an order at once, the others' a few seconds after it was created, so an
    # order the citizen does not pay is still paid (activities run where their workflow is cached, so an order
    # polled only by a worker that never confirms would wait forever); half of the plans have the citizen pay
    # first through the portal and the callback signal.
    run.workers = [WorkerProcess(f"worker-{i}", _worker_env(run, link_url), run.root / f"worker-{i}.log",
                                 auto_confirm_seconds=3 * i) for i in range(config.workers)]
    for worker in run.workers:
        worker.start()
    # The campaign's client (the portal's, the officers') encrypts with the first key and reads every payload.
    client = await _connect(run.temporal.address, KeyRing.parse(",".join(run.payload_keys), "the campaign's keys"))
    # Versioned workers take nothing until their version is the deployment's current one.
    await _polling(client, run.workers[0])
    await set_current_version(client, run.version())
    pool = await asyncpg.create_pool(url, min_size=0, max_size=4)
    try:
        return await _load_and_faults(run, client, pool, cases, skipped, started)
    finally:
        await pool.close()


async def _load_and_faults(run: _Run, client: Client, pool: asyncpg.Pool, cases: list[Case],
                           skipped: dict[str, str], started: float) -> CampaignReport:
    config = run.config
    store = FileStore(run.root / "attachments")
    # The campaign's uploads meet the full disk too, as the API's would.
    sys.addaudithook(full_disk_hook(store.root, run.root / "disk-full"))
    actors = Actors(client, TASK_QUEUE, pool, cases, config.load_seconds, store, decision_keys=run.decision_keys)
    faults = schedule(random.Random(f"{config.seed}-faults"), config.faults_per_kind, config.fault_seconds,
                      config.workers, config.kinds, load=config.load_seconds)
    assert run.link is not None
    switches = Switches(link=run.link, disk_full=run.root / "disk-full", gateway_fault=run.root / "gateway-fault",
                        double_callbacks=actors.double_callbacks, flood=actors.flood, rotate_key=run.rotate_key,
                        next_build=run.next_build)
    injector = Injector(run.temporal, run.postgres, run.workers, run.outlets, switches,
                        lambda worker: _polling(client, worker),
                        lambda: _promote(client, run.version()))
    stop_supervisor, stop_faults = asyncio.Event(), asyncio.Event()
    self_restarts: Counter[str] = Counter()
    load_started = time.monotonic()
    tasks = [asyncio.create_task(actors.react_forever()),
             asyncio.create_task(supervise(run.workers, injector, stop_supervisor, self_restarts))]
    progress = asyncio.create_task(_progress(run, client, actors, injector))
    try:
        injecting = asyncio.create_task(injector.run(faults, stop_faults))
        await actors.submit_all()
        await injecting
        run.seconds["load and faults"] = time.monotonic() - load_started
        run.say(f"faults done {dict(injector.injected)}; draining")
        drain_started = time.monotonic()
        await _drain(client, actors, config.drain_seconds, config.stall_seconds)
        run.seconds["drain"] = time.monotonic() - drain_started
    finally:
        stop_faults.set()
        actors.stop()
        stop_supervisor.set()
        progress.cancel()
        await asyncio.gather(*tasks, progress, return_exceptions=True)

    outbox_started = time.monotonic()
    # A worker killed, or the database lost, while a webhook lane posted leaves the lane's deliveries claimed until
    # the lease ends (a minute by default): they come due only then, and the wait allows for that.
    await wait_for_outbox(pool, max(config.stall_seconds, lane_lease().total_seconds() + 15))
    run.seconds["outbox"] = time.monotonic() - outbox_started
    verify_started = time.monotonic()
    submitted = {code: actors.cases[code].procedure for code in actors.submitted}
    households: dict[int, list[str]] = {}
    for case in cases:
        if case.household is not None:
            households.setdefault(case.household, []).append(case.code)
    raced = {h: codes for h, codes in households.items() if all(c in submitted for c in codes)}
    papers = {c.code: c.submission["attachments"][0]["sha256"] for c in cases
              if c.paper is not None and c.code in submitted}
    verification, _ = await verify(client, pool, submitted, registered=actors.registered, store=store,
                                   papers=papers, households=raced)
    outbox = await check_outbox(pool, sorted(submitted), run.root)
    run.seconds["verify"] = time.monotonic() - verify_started
    run.seconds["total"] = time.monotonic() - started
    planned = Counter(f.kind.value for f in faults)
    injected = Counter(k.value for k in injector.injected.elements())
    # Competing dossiers are a fault of the load itself: planned with the cases, "injected" when both were filed.
    if households:
        planned[COMPETING] = len(households)
        injected[COMPETING] = len(raced)
    return CampaignReport(
        seed=config.seed,
        procedures=sorted({c.procedure.value for c in cases}),
        skipped_procedures=skipped,
        submitted=len(submitted),
        faults_planned={k: n for k, n in planned.items() if n},
        faults_injected=dict(injected),
        flooded=injector.flooded,
        rolling_restarts=[(round(a, 1), round(b, 1)) for a, b in injector.restarts],
        payload_key_rotations=run.rotations,
        build=f"{run.builds - 1} rolling upgrades (workers ended on {run.version().build_id})",
        worker_self_restarts=sum(self_restarts.values()),
        activities_by_worker=_by_worker(verification.activities_by_identity, run.workers),
        actions=dict(actors.actions),
        driver_errors=dict(actors.errors),
        verification=verification,
        outbox=outbox,
        seconds={k: round(v, 1) for k, v in run.seconds.items()},
        work_dir=None,
    )


def _by_worker(identities: dict[str, int], workers: list[WorkerProcess]) -> dict[str, int]:
    """Activity tasks per worker process (its successive PIDs), from the ``pid@host`` identities in histories."""
    names = {pid: worker.name for worker in workers for pid in worker.pids}
    counts: Counter[str] = Counter()
    for identity, n in identities.items():
        pid = identity.split("@", 1)[0]
        counts[names.get(int(pid), "another process") if pid.isdigit() else "another process"] += n
    return dict(counts)


async def _build_cases(run: _Run, url: str) -> tuple[list[Case], dict[str, str]]:
    """Dossiers spread evenly over the procedures that have both a workflow and a builder, in a seeded order.

    A procedure whose built submission the current models refuse is skipped with the reason (a builder out of
    date with the models), so that the campaign still runs for the others."""
    config = run.config
    procedures = [p for p in Procedure if p in WORKFLOWS and p in BUILDERS]
    skipped = {p.value: "no workflow yet" for p in Procedure if p not in WORKFLOWS}
    conn = await asyncpg.connect(url)
    try:
        units = [r["unit_code"] for r in await conn.fetch(
            "SELECT DISTINCT unit_code FROM officers WHERE role = 'officer' AND active ORDER BY unit_code")]
        others = [u for u in units if u != DEMO_UNIT_CODE]
        chosen = [DEMO_UNIT_CODE, *run.rng.sample(others, min(len(others), config.units - 1))]
        population = Population(conn, run.rng, chosen, today_in_vietnam(datetime.now(UTC)))
        mix = [procedures[i % len(procedures)] for i in range(config.dossiers - 2 * config.competing)]
        run.rng.shuffle(mix)
        cases: list[Case] = []
        async with conn.transaction():
            for index, procedure in enumerate(mix):
                if procedure.value in skipped:
                    continue
                code = f"HS-CHAOS-{config.seed}-{index:05d}"
                submission = await BUILDERS[procedure](population, code, run.rng.choice(chosen))
                case = _case(run, code, procedure, submission, draw_plan(run.rng, procedure), email=index % 2 == 0,
                             attach=index % 3 == 0)
                try:
                    check_submission(case.materialize(datetime.now(UTC)))
                except SubmissionRejected as error:
                    skipped[procedure.value] = f"built submission refused by the model: {error.errors[:2]}"
                    continue
                cases.append(case)
            # Each pair is submitted one right after the other, somewhere in the load, so that the two race.
            for pair in range(config.competing):
                codes = (f"HS-CHAOS-{config.seed}-C{pair:03d}A", f"HS-CHAOS-{config.seed}-C{pair:03d}B")
                household, built = await competing_pair(population, codes, run.rng.choice(chosen))
                at = run.rng.randrange(len(cases) + 1)
                cases[at:at] = [_case(run, code, procedure, submission, COMPETING_PLAN, email=False, attach=False,
                                      household=household)
                                for code, (procedure, submission) in zip(codes, built, strict=True)]
    finally:
        await conn.close()
    return [c for c in cases if c.procedure.value not in skipped], skipped


def _case(run: _Run, code: str, procedure: Procedure, submission: dict[str, Any], plan: Plan, *, email: bool,
          attach: bool, household: int | None = None) -> Case:
    """The case of one built submission: half the applicants are told by e-mail as well, a third attach a paper."""
    if email:
        submission["contact"] = {"channel": "email", "email": f"{code.lower()}@chaos.test"}
    content = None
    kinds = submission_model(procedure).attachment_kinds if attach else ()
    if kinds:
        content, reference = paper(code, run.rng.choice(kinds).value)
        submission["attachments"] = [reference]
    return Case(code=code, procedure=procedure, submission=submission, plan=plan, household=household,
                paper=content, stamp_arrival=procedure == Procedure.STAY_NOTIFICATION)


def _worker_env(run: _Run, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CUTRU_PAYLOAD_KEY_FILE", "CUTRU_DECISION_KEY_FILE", "CUTRU_METRICS_PORT")}
    env.update({
        "TEMPORAL_ADDRESS": run.temporal.address,
        "TEMPORAL_NAMESPACE": run.temporal.namespace,
        "CUTRU_TASK_QUEUE": TASK_QUEUE,
        "DATABASE_URL": url,
        "CUTRU_STATE_DIR": str(run.root / "state"),  # its own state and documents, never the developer's .cutru
        "CUTRU_DOCUMENT_DIR": str(run.root / "documents"),
        "CUTRU_LOG_LEVEL": "WARNING",
        **processing_environment(PROCESSING),
        "CUTRU_PAYLOAD_KEYS": run.worker_keys(),
        "CUTRU_DEPLOYMENT_NAME": DEPLOYMENT,
        "CUTRU_BUILD_ID": run.version().build_id,
        DISK_FULL_ENV: str(run.root / "disk-full"),
        GATEWAY_FAULT_ENV: str(run.root / "gateway-fault"),
        "CUTRU_DECISION_KEYS": run.decision_keys.env_value(),
        # The outbox: the campaign's mail server, and retries close together, so that it empties soon after a fault.
        "CUTRU_SMTP_HOST": "127.0.0.1",
        "CUTRU_SMTP_PORT": str(run.outlets[FaultKind.SMTP].port),
        "CUTRU_SMTP_FROM": "no-reply@chaos.test",
        "CUTRU_OUTBOX_RETRY_FIRST": "0.2",
        "CUTRU_OUTBOX_RETRY_LONGEST": "2",
        "CUTRU_EVENT_ATTEMPTS": "1000",
    })
    return env


def _quiet_runtime() -> Runtime:
    """The campaign's own client meets dead servers on purpose: the SDK core's retry warnings are only noise."""
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
        filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))))


async def _polling(client: Client, worker: WorkerProcess, timeout: float = 60.0) -> None:
    """Until the worker's latest process polls the task queue (its identity is ``pid@host``), or ``timeout``; a
    process that exited by itself meanwhile (a database down at its start) is started again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.exited_by_itself:
            worker.start()
        try:
            pollers = await task_queue_pollers(client, TASK_QUEUE, timeout=timedelta(seconds=5))
        except RPCError:  # the server is being restarted
            pollers = set()
        if any(identity.startswith(f"{worker.pids[-1]}@") for identity in pollers):
            return
        await asyncio.sleep(0.5)


async def _promote(client: Client, version: WorkerDeploymentVersion, timeout: float = 60.0) -> None:
    """Make ``version`` current, then wait (``timeout`` at most) until no stay register, the one pinned workflow
    type, is still open on an older version: the last worker of the old build may then go. A Temporal server
    killed meanwhile (another fault) is waited out, as an operator's rollout would."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await set_current_version(client, version)
            break
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    while time.monotonic() < deadline:
        try:
            if not (await client.count_workflows(
                    "WorkflowType = 'StayRegister' AND ExecutionStatus = 'Running'")).count:
                return
        except RPCError:  # the server is being restarted
            pass
        await asyncio.sleep(0.5)


async def _connect(address: str, keyring: KeyRing, timeout: float = 30.0) -> Client:
    deadline = time.monotonic() + timeout
    runtime = _quiet_runtime()
    while True:
        try:
            return await Client.connect(address, data_converter=data_converter(keyring), runtime=runtime)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _open_count(client: Client) -> int:
    return (await client.count_workflows(f"ExecutionStatus = 'Running' AND {NOT_A_DOSSIER}")).count


async def _drain(client: Client, actors: Actors, timeout: float, stall: float) -> None:
    """Wait until every submitted dossier's workflow has closed, or none has closed for ``stall`` seconds, or
    ``timeout`` has passed; whatever is still open then counts as stuck."""
    started = last_progress = time.monotonic()
    fewest: int | None = None
    while time.monotonic() - started < timeout and time.monotonic() - last_progress < stall:
        try:
            open_now = await _open_count(client)
        except Exception:  # the server may be restarting: ask again
            open_now = None
        if open_now is not None:
            if actors.all_submitted and open_now == 0:
                return
            if fewest is None or open_now < fewest:
                fewest, last_progress = open_now, time.monotonic()
        await asyncio.sleep(1.0)


async def _progress(run: _Run, client: Client, actors: Actors, injector: Injector) -> None:
    while True:
        await asyncio.sleep(10)
        try:
            running = await _open_count(client)
        except Exception:  # the server may be down right now
            running = -1
        faults = ", ".join(f"{k.name.lower()} {n}" for k, n in injector.injected.items())
        run.say(f"submitted {len(actors.submitted)}/{len(actors.order)}, open {running if running >= 0 else '?'}, "
                f"faults: {faults or 'none yet'}")


def _kill_everything(run: _Run) -> None:
    for worker in run.workers:
        worker.kill()
    for outlet in run.outlets.values():
        outlet.kill()
    run.temporal.kill()
    if run.postgres.running:
        with contextlib.suppress(Exception):
            run.postgres.stop("immediate")


async def _teardown(run: _Run) -> None:
    await asyncio.gather(*(asyncio.to_thread(worker.stop, 10.0) for worker in run.workers))
    if run.link is not None:
        run.link.heal()
        await run.link.close()
    for outlet in run.outlets.values():
        outlet.kill()
    run.temporal.kill()
    if run.postgres.running:
        with contextlib.suppress(Exception):  # already stopped: nothing left to do
            await asyncio.to_thread(run.postgres.stop, "fast")
