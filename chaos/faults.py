"""The fault schedule and its injection.

Five kinds, each on its own timeline drawn from the campaign's seed, so they overlap as real incidents do:

- ``worker``: SIGKILL one of the worker processes (mid-activity, mid-workflow-task), start it again a moment later;
- ``temporal``: SIGKILL the Temporal server, start it again on the same SQLite file and port;
- ``postgres``: stop PostgreSQL (alternately ``immediate``, a crash, and ``fast``), start it again;
- ``smtp`` and ``webhook``: SIGKILL the mail server or the webhook subscriber (``chaos.outlets``), start it again.

The schedule (when, how long down, which worker, which stop mode) is deterministic for a seed; what each fault
interrupts depends on timing and is not.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum

from cutru_local.postgres import LocalPostgres
from pydantic import BaseModel

from chaos.outlets import Outlet
from chaos.stack import PrivateTemporal, WorkerProcess


class FaultKind(StrEnum):
    WORKER = "worker SIGKILL + restart"
    TEMPORAL = "Temporal server SIGKILL + restart"
    POSTGRES = "PostgreSQL stop + restart"
    SMTP = "SMTP server SIGKILL + restart"
    WEBHOOK = "webhook subscriber SIGKILL + restart"


class Fault(BaseModel, frozen=True):
    kind: FaultKind
    at: float  # seconds after the start of the fault window
    down: float  # seconds the process stays down
    worker: int = 0  # which worker (WORKER)
    mode: str = "immediate"  # pg_ctl stop mode (POSTGRES)


def schedule(rng: random.Random, per_kind: int, window: float, workers: int) -> list[Fault]:
    """``per_kind`` faults of each kind spread over ``window`` seconds: one per slot, at a random point of it."""
    faults: list[Fault] = []
    slot = window / max(1, per_kind)
    for kind in FaultKind:
        for index in range(per_kind):
            at = slot * (index + rng.uniform(0.05, 0.6))
            if kind == FaultKind.WORKER:
                faults.append(Fault(kind=kind, at=at, down=rng.uniform(0.2, 2.5), worker=rng.randrange(workers)))
            elif kind in (FaultKind.TEMPORAL, FaultKind.SMTP, FaultKind.WEBHOOK):
                faults.append(Fault(kind=kind, at=at, down=rng.uniform(0.3, 2.0)))
            else:
                faults.append(Fault(kind=kind, at=at, down=rng.uniform(0.3, 2.5),
                                    mode=rng.choice(("immediate", "fast"))))
    return sorted(faults, key=lambda f: f.at)


class Injector:
    """Applies a schedule to the private stack; each kind runs on its own task, in order, never two at once."""

    def __init__(self, temporal: PrivateTemporal, postgres: LocalPostgres, workers: Sequence[WorkerProcess],
                 outlets: dict[FaultKind, Outlet]) -> None:
        self.temporal = temporal
        self.outlets = outlets
        self.postgres = postgres
        self.workers = workers
        self.injected: Counter[FaultKind] = Counter()
        self.held_down: set[int] = set()  # workers the injector keeps down: the supervisor leaves them alone
        self.log: list[str] = []

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
            await self._inject(fault, started)

    async def _inject(self, fault: Fault, started: float) -> None:
        self.log.append(f"{time.monotonic() - started:7.1f}s {fault.kind.value} (down {fault.down:.1f}s"
                        + (f", worker {fault.worker}" if fault.kind == FaultKind.WORKER else "")
                        + (f", {fault.mode}" if fault.kind == FaultKind.POSTGRES else "") + ")")
        if fault.kind == FaultKind.WORKER:
            worker = self.workers[fault.worker]
            self.held_down.add(fault.worker)
            try:
                worker.kill()
                await asyncio.sleep(fault.down)
                worker.start()
            finally:
                self.held_down.discard(fault.worker)
        elif fault.kind == FaultKind.TEMPORAL:
            self.temporal.kill()
            await asyncio.sleep(fault.down)
            await asyncio.to_thread(self.temporal.start)
        elif fault.kind in self.outlets:
            outlet = self.outlets[fault.kind]
            outlet.kill()
            await asyncio.sleep(fault.down)
            await asyncio.to_thread(outlet.start)
        else:
            await asyncio.to_thread(self.postgres.stop, fault.mode)
            await asyncio.sleep(fault.down)
            await asyncio.to_thread(self.postgres.start)
        self.injected[fault.kind] += 1


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
