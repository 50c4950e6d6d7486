"""The fault schedule and its injection.

Each kind runs on its own timeline drawn from the campaign's seed, so they overlap as real incidents do:

- ``worker``: SIGKILL one of the worker processes (mid-activity, mid-workflow-task), start it again a moment later;
- ``temporal``: SIGKILL the Temporal server, start it again on the same SQLite file and port;
- ``postgres``: stop PostgreSQL (alternately ``immediate``, a crash, and ``fast``), start it again;
- ``blackhole``: the network between the workers and PostgreSQL drops every packet (``chaos.network``), then heals;
- ``slow database``: the same link delays every chunk by a fraction of a second to over a second;
- ``disk full``: the documents directory fails every write with ENOSPC (``chaos.worker``); the attachment store,
  written by the campaign's own uploads, too;
- ``payment gateway``: every gateway call fails or hangs past the activity timeout (``chaos.worker``), and the
  citizens' payment callbacks arrive two and three times;
- ``signal flood``: one open dossier receives a burst of stray and malformed signals;
- ``rolling upgrade``: the workers are drained (SIGTERM) and started again one at a time with a new build id of the
  Worker Deployment (``CUTRU_BUILD_ID``), each polling again before the next is stopped; once the first polls, its
  version becomes the current one and the last worker of the old build waits until no stay register (pinned to its
  version) is open;
- ``key rotation``: the payload key staged at the last rotation becomes the active one and a new one is staged, on
  every worker in turn (so that no worker meets a payload under a key it does not hold);
- ``smtp`` and ``webhook``: SIGKILL the mail server or the webhook subscriber (``chaos.outlets``), start it again.

The schedule (when, how long, which worker, which stop mode) is deterministic for a seed; what each fault interrupts
depends on timing and is not.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cutru_local.postgres import LocalPostgres
from pydantic import BaseModel

from chaos.network import BlackHole
from chaos.outlets import Outlet
from chaos.stack import PrivateTemporal, WorkerProcess


class FaultKind(StrEnum):
    WORKER = "worker SIGKILL + restart"
    TEMPORAL = "Temporal server SIGKILL + restart"
    POSTGRES = "PostgreSQL stop + restart"
    BLACKHOLE = "PostgreSQL black-holed (packets dropped)"
    SLOW_DATABASE = "slow database (delayed packets)"
    DISK_FULL = "documents disk full (ENOSPC)"
    GATEWAY = "payment gateway errors, timeouts, double callbacks"
    SIGNAL_FLOOD = "signal flood on one dossier"
    UPGRADE = "rolling worker upgrade (new build id)"
    KEY_ROTATION = "payload-key rotation"
    SMTP = "SMTP server SIGKILL + restart"
    WEBHOOK = "webhook subscriber SIGKILL + restart"


# Kinds a short run can afford one of each (the in-suite campaign): no rolling restarts of the workers.
CHEAP = frozenset(FaultKind) - {FaultKind.UPGRADE, FaultKind.KEY_ROTATION}


class Fault(BaseModel, frozen=True):
    kind: FaultKind
    at: float  # seconds after the start of the fault window
    down: float  # seconds the process stays down, or the fault lasts
    worker: int = 0  # which worker (WORKER)
    mode: str = ""  # pg_ctl stop mode (POSTGRES); "error" or "timeout" (GATEWAY)
    delay: float = 0.0  # seconds added to each chunk (SLOW_DATABASE)


def schedule(rng: random.Random, per_kind: int, window: float, workers: int,
             kinds: Sequence[FaultKind] = tuple(FaultKind), load: float | None = None) -> list[Fault]:
    """``per_kind`` faults of each kind spread over ``window`` seconds: one per slot, at a random point of it. The
    signal floods over the first ``load`` seconds only, while dossiers are still coming in: a flood needs a dossier
    waiting on someone, and once the load ends the last ones are soon decided."""
    faults: list[Fault] = []
    for kind in kinds:
        span = min(window, load) if kind == FaultKind.SIGNAL_FLOOD and load is not None else window
        slot = span / max(1, per_kind)
        for index in range(per_kind):
            at = slot * (index + rng.uniform(0.05, 0.6))
            if kind == FaultKind.WORKER:
                faults.append(Fault(kind=kind, at=at, down=rng.uniform(0.2, 2.5), worker=rng.randrange(workers)))
            elif kind == FaultKind.POSTGRES:
                faults.append(Fault(kind=kind, at=at, down=rng.uniform(0.3, 2.5),
                                    mode=rng.choice(("immediate", "fast"))))
            elif kind == FaultKind.SLOW_DATABASE:
                faults.append(Fault(kind=kind, at=at, down=rng.uniform(2.0, 6.0), delay=rng.uniform(0.2, 1.5)))
            elif kind == FaultKind.GATEWAY:
                faults.append(Fault(kind=kind, at=at, down=rng.uniform(2.0, 8.0),
                                    mode=rng.choice(("error", "timeout"))))
            elif kind in (FaultKind.BLACKHOLE, FaultKind.DISK_FULL):
                faults.append(Fault(kind=kind, at=at, down=rng.uniform(1.0, 6.0)))
            else:
                faults.append(Fault(kind=kind, at=at, down=rng.uniform(0.3, 2.0)))
    return sorted(faults, key=lambda f: f.at)


@dataclass
class Switches:
    """What the injector turns on and off beside processes: the database link, the flag files ``chaos.worker``
    watches, and the actors' side of the gateway fault and of the signal flood."""

    link: BlackHole
    disk_full: Path
    gateway_fault: Path
    double_callbacks: Callable[[bool], None]
    flood: Callable[[], Awaitable[str | None]]
    rotate_key: Callable[[], dict[str, str]]  # the workers' new environment entries
    next_build: Callable[[], dict[str, str]]


class Injector:
    """Applies a schedule to the private stack; each kind runs on its own task, in order, never two at once."""

    def __init__(self, temporal: PrivateTemporal, postgres: LocalPostgres, workers: Sequence[WorkerProcess],
                 outlets: dict[FaultKind, Outlet], switches: Switches,
                 ready: Callable[[WorkerProcess], Awaitable[None]], promote: Callable[[], Awaitable[None]]) -> None:
        self.temporal = temporal
        self.outlets = outlets
        self.postgres = postgres
        self.workers = workers
        self.switches = switches
        self.ready = ready
        self.promote = promote
        self.injected: Counter[FaultKind] = Counter()
        self.held_down: set[int] = set()  # workers the injector keeps down: the supervisor leaves them alone
        self.log: list[str] = []
        self.flooded: list[str] = []  # the dossiers each flood hit
        self.restarts: list[tuple[float, float]] = []  # rolling restarts: seconds to drain and stop, to poll again
        self._worker_locks = [asyncio.Lock() for _ in workers]

    async def run(self, faults: Sequence[Fault], stop: asyncio.Event) -> None:
        started = time.monotonic()
        await asyncio.gather(*(self._timeline([f for f in faults if f.kind == kind], started, stop)
                               for kind in FaultKind))

    async def _timeline(self, faults: Sequence[Fault], started: float, stop: asyncio.Event) -> None:
        for fault in faults:
            wait = started + fault.at - time.monotonic()
            if wait > 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                    return  # the campaign ended before this fault was due
                except TimeoutError:
                    pass
            self.log.append(f"{time.monotonic() - started:7.1f}s {fault.kind.value} (down {fault.down:.1f}s"
                            + (f", worker {fault.worker}" if fault.kind == FaultKind.WORKER else "")
                            + (f", {fault.mode}" if fault.mode else "") + ")")
            if await self._inject(fault):
                self.injected[fault.kind] += 1

    async def _inject(self, fault: Fault) -> bool:
        """Apply one fault; False when it found nothing to act on (a flood with no open dossier)."""
        s = self.switches
        match fault.kind:
            case FaultKind.WORKER:
                async with self._held(fault.worker):
                    self.workers[fault.worker].kill()
                    await asyncio.sleep(fault.down)
                    self.workers[fault.worker].start()
            case FaultKind.TEMPORAL:
                self.temporal.kill()
                await asyncio.sleep(fault.down)
                await asyncio.to_thread(self.temporal.start)
            case FaultKind.POSTGRES:
                await asyncio.to_thread(self.postgres.stop, fault.mode)
                await asyncio.sleep(fault.down)
                await asyncio.to_thread(self.postgres.start)
            case FaultKind.BLACKHOLE:
                s.link.drop()
                await asyncio.sleep(fault.down)
                s.link.heal()
            case FaultKind.SLOW_DATABASE:
                s.link.slow(fault.delay)
                await asyncio.sleep(fault.down)
                s.link.heal()
            case FaultKind.DISK_FULL:
                s.disk_full.touch()
                await asyncio.sleep(fault.down)
                s.disk_full.unlink()
            case FaultKind.GATEWAY:
                s.gateway_fault.write_text(fault.mode, encoding="utf-8")
                s.double_callbacks(True)
                await asyncio.sleep(fault.down)
                s.gateway_fault.unlink()
                s.double_callbacks(False)
            case FaultKind.SIGNAL_FLOOD:
                for _ in range(60):  # no dossier waiting on anyone right now: a moment later
                    if (target := await s.flood()) is not None:
                        self.flooded.append(target)
                        return True
                    await asyncio.sleep(1.0)
                return False
            case FaultKind.UPGRADE:
                await self._roll(s.next_build(), promote_after_first=True)
            case FaultKind.KEY_ROTATION:
                await self._roll(s.rotate_key())
            case _:
                outlet = self.outlets[fault.kind]
                outlet.kill()
                await asyncio.sleep(fault.down)
                await asyncio.to_thread(outlet.start)
        return True

    async def _roll(self, env: dict[str, str], *, promote_after_first: bool = False) -> None:
        """Each worker in turn: drained (SIGTERM) and stopped, started with ``env``, polling again before the next
        one (a rolling update of one unavailable, no surge: a second process each would slow the 2-core machine
        more than the update it stands for)."""
        for index, worker in enumerate(self.workers):
            async with self._held(index):
                started = time.monotonic()
                await asyncio.to_thread(worker.stop)
                stopped = time.monotonic()
                worker.env.update(env)
                worker.start()
                await self.ready(worker)
                self.restarts.append((stopped - started, time.monotonic() - stopped))
            if promote_after_first and index == 0:
                # A new build: current once its first worker polls, the old build's pinned work drained.
                await self.promote()

    def _held(self, index: int) -> _Held:
        return _Held(self, index)


class _Held:
    """One worker kept down by the injector (the supervisor leaves it), one fault on it at a time."""

    def __init__(self, injector: Injector, index: int) -> None:
        self.injector = injector
        self.index = index

    async def __aenter__(self) -> None:
        await self.injector._worker_locks[self.index].acquire()
        self.injector.held_down.add(self.index)

    async def __aexit__(self, *_: object) -> None:
        self.injector.held_down.discard(self.index)
        self.injector._worker_locks[self.index].release()


async def supervise(workers: Sequence[WorkerProcess], injector: Injector, stop: asyncio.Event,
                    restarts: Counter[str]) -> None:
    """Keep every worker running, as a process manager would: a worker that exits by itself (it could not reach
    Temporal or PostgreSQL at start-up, both being down) is started again."""
    while not stop.is_set():
        for index, worker in enumerate(workers):
            if index not in injector.held_down and not worker.alive:
                if worker.exited_by_itself:
                    restarts[worker.name] += 1
                worker.start()
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.5)
        except TimeoutError:
            pass
