"""``python -m bench.eager``: eager workflow start against a normal start, measured in pairs of batches.

    python -m bench.eager [--workflows 300] [--pairs 5] [--rate 0]

With eager start (``request_eager_start``) the server hands a new workflow's first workflow task back in the start
response instead of queueing it for a poller, saving one poll round trip. The SDK asks for it only when a worker
of the same ``Client``, in the same process, has a free workflow-task slot, so the worker and the starter run here
in one process (unlike ``make bench``, whose driver, like the portal's backend, runs no worker). The dev server
grants eager starts by default.

Each pair runs a batch of floor workflows (a dossier's six no-op activities, no update: the start is what differs)
with normal starts and one with eager starts, the other first every pair, on one fresh dev server. ``--rate 0``
starts them all at once, 100 in flight (throughput at saturation, as ``make bench`` measures it); ``--rate R``
starts R a second (the latency at a sustainable load). Per batch: workflows/s, the dev server's and this process's
CPU per workflow, the start call's and start-to-completion latency, and how many starts the server made eager.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import psutil
from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from bench.floor import FLOOR_WORKFLOW, FloorPlan, FloorWorkflow, noop
from bench.paired import sign_test
from bench.stack import NAMESPACE, TemporalServer
from workflows.sandbox import workflow_runner

PLAN = FloorPlan(before=6, after=0, wait_for_update=False)
IN_FLIGHT = 100  # start calls outstanding at once when starting at saturation
TASK_QUEUE = "bench-eager"


class Batch(BaseModel):
    eager: bool
    workflows: int
    eager_granted: int  # starts whose response carried the first workflow task
    per_second: float
    server_ms: float  # dev server CPU per completed workflow
    process_ms: float  # this process's CPU (worker and starter) per completed workflow
    start_p50_ms: float
    start_p99_ms: float
    completion_p50_ms: float  # start call issued to workflow closed


class EagerReport(BaseModel):
    workflows: int
    rate: float  # 0: all at once
    batches: list[Batch]

    def side(self, eager: bool) -> list[Batch]:
        return [b for b in self.batches if b.eager == eager]


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _row(number: int, b: Batch) -> str:
    return (f"{number:>5}   {'eager' if b.eager else 'normal':<6}  {b.eager_granted:>5} of {b.workflows:<5}"
            f"  {b.per_second:>6.1f}   {b.server_ms:>9.1f}   {b.process_ms:>10.1f}   "
            f"{b.start_p50_ms:>7.0f} / {b.start_p99_ms:<7.0f}  {b.completion_p50_ms:>12.0f}")


def format_report(report: EagerReport) -> str:
    load = "all at once" if report.rate == 0 else f"{report.rate:g} a second"
    lines = [f"eager workflow start: {report.workflows} floor workflows a batch, started {load}",
             "batch   start   eager granted   wf/s   server ms   process ms   start p50/p99 ms   completion p50 ms"]
    lines += [_row(number, b) for number, b in enumerate(report.batches, start=1)]
    normal, eager = report.side(False), report.side(True)
    if normal and eager:
        for label, key in (("wf/s", "per_second"), ("server ms", "server_ms"), ("process ms", "process_ms"),
                           ("completion p50 ms", "completion_p50_ms")):
            a = statistics.mean(getattr(b, key) for b in normal)
            e = statistics.mean(getattr(b, key) for b in eager)
            pairs = list(zip(normal, eager, strict=False))
            higher = sum(getattr(y, key) > getattr(x, key) for x, y in pairs)
            lines.append(f"{label:<18} normal {a:>8.1f}   eager {e:>8.1f}   ({(e - a) / a * 100:+.1f} %; eager higher "
                         f"in {higher} of {len(pairs)} pairs, sign test p = {sign_test(higher, len(pairs)):.3f})")
    return "\n".join(lines)


async def run_batch(client: Client, server: psutil.Process, eager: bool, workflows: int, rate: float) -> Batch:
    gate = asyncio.Semaphore(IN_FLIGHT)
    start_ms: list[float] = []
    completion_ms: list[float] = []
    granted = 0

    async def one(index: int) -> None:
        nonlocal granted
        if rate:
            await asyncio.sleep(index / rate)
        async with gate:
            issued = time.perf_counter()
            handle: WorkflowHandle[object, object] = await client.start_workflow(
                FLOOR_WORKFLOW, PLAN, id=f"eager-{uuid.uuid4()}", task_queue=TASK_QUEUE, request_eager_start=eager)
            start_ms.append((time.perf_counter() - issued) * 1000)
        # The SDK marks the handle so; it has no public accessor for it.
        granted += bool(getattr(handle, "__temporal_eagerly_started", False))
        await handle.result()
        completion_ms.append((time.perf_counter() - issued) * 1000)

    me = psutil.Process()
    server_before, me_before = sum(server.cpu_times()[:2]), sum(me.cpu_times()[:2])
    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(workflows)))
    elapsed = time.perf_counter() - began
    return Batch(
        eager=eager, workflows=workflows, eager_granted=granted, per_second=round(workflows / elapsed, 2),
        server_ms=round((sum(server.cpu_times()[:2]) - server_before) * 1000 / workflows, 1),
        process_ms=round((sum(me.cpu_times()[:2]) - me_before) * 1000 / workflows, 1),
        start_p50_ms=round(statistics.median(start_ms), 1), start_p99_ms=round(_percentile(start_ms, 0.99), 1),
        completion_p50_ms=round(statistics.median(completion_ms), 1),
    )


async def compare(workflows: int, pairs: int, rate: float) -> EagerReport:
    report = EagerReport(workflows=workflows, rate=rate, batches=[])
    with tempfile.TemporaryDirectory(prefix="cutru-eager-") as directory:
        server = TemporalServer.start(Path(directory))
        try:
            client = await Client.connect(server.address, namespace=NAMESPACE)
            async with Worker(client, task_queue=TASK_QUEUE, workflows=[FloorWorkflow], activities=[noop],
                              workflow_runner=workflow_runner()):
                process = psutil.Process(server.process.pid)
                await run_batch(client, process, False, min(workflows, 50), rate)  # warm-up, not reported
                for number in range(pairs):
                    for eager in ((False, True) if number % 2 == 0 else (True, False)):
                        report.batches.append(await run_batch(client, process, eager, workflows, rate))
                        print(_row(len(report.batches), report.batches[-1]), flush=True)
        finally:
            server.stop()
    return report


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.eager", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=300, help="workflows a batch, 20 to 2000 (default 300)")
    parser.add_argument("--pairs", type=int, default=5, help="pairs of batches, 1 to 20 (default 5)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="starts a second; 0 (the default) starts them all at once, 100 in flight")
    args = parser.parse_args(argv)
    if not 20 <= args.workflows <= 2000:
        parser.error("--workflows must be between 20 and 2000")
    if not 1 <= args.pairs <= 20:
        parser.error("--pairs must be between 1 and 20")
    if args.rate < 0:
        parser.error("--rate must be 0 (all at once) or a positive number of starts a second")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = asyncio.run(compare(args.workflows, args.pairs, args.rate))
    print()
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
