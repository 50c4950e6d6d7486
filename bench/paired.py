"""``python -m bench.paired``: what one worker setting, or a change of the code, does to a worker's CPU per workflow,
measured in pairs.

    python -m bench.paired --set CUTRU_EVENT_LOOP=asyncio [--workload cutru|floor] [--pairs 6] [--dossiers 150]
    python -m bench.paired --code /tmp/change     # side B's workers run another checkout's code (a clone, a worktree)

Run one after the other, two ``make bench`` runs cannot show a change of a few per cent on a shared machine: the
same code's worker CPU per dossier moves by more than that between rounds (docs/benchmarks.md). Here the two sides
run at once, on the same dev server and database, each on worker processes of its own: side A with the
environment as it is, side B with ``--set`` (and the code of ``--code``'s checkout, started from there with the
same interpreter). Whatever the machine does during a pair, it does to both. Each pair
starts the other side first, and the report gives every pair's figures, each side's mean, and in how many pairs B
took less CPU, with the two-sided sign test's p-value (six pairs of six: 0.031).

Worker CPU is counted from the moment the side's workers poll (their start is left out) to its last completion.
Both sides share the machine, so the rates say nothing here: ``make bench`` measures throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from bench.floor import FloorPlan
from bench.population import Applicant, load_applicants
from bench.run import CODE_VARIABLE, RESULTS_DIR, Bench, Options, bench_stack, worker_tuning
from cutru.platform.config import TUNING_VARIABLES

Side = Literal["A", "B"]
# A permanent-residence dossier's activities: three before the officer's decision, three after (the probe of
# ``make bench`` prints it).
DOSSIER_PLAN = FloorPlan(before=3, after=3)


class Pair(BaseModel):
    number: int
    first: Side  # the side whose workers started first
    a_ms: float  # worker CPU per completed workflow, milliseconds
    b_ms: float
    completed: tuple[int, int]
    # CPU of the PostgreSQL backends serving each side's workers, per completed workflow, milliseconds
    a_pg_ms: float = 0.0
    b_pg_ms: float = 0.0


class PairedReport(BaseModel):
    started_at: datetime
    workload: Literal["cutru", "floor"]
    dossiers_per_side: int
    settings: dict[str, str]  # side B's
    environment: dict[str, str]  # the CUTRU_* tuning both sides were given
    pairs: list[Pair]

    @property
    def mean_a(self) -> float:
        return statistics.mean(p.a_ms for p in self.pairs)

    @property
    def mean_b(self) -> float:
        return statistics.mean(p.b_ms for p in self.pairs)

    @property
    def b_lower(self) -> int:
        return sum(p.b_ms < p.a_ms for p in self.pairs)

    @property
    def ties(self) -> int:
        return sum(p.b_ms == p.a_ms for p in self.pairs)


def sign_test(lower: int, pairs: int) -> float:
    """Two-sided sign test: how likely a split at least this uneven is when neither side is cheaper (``pairs``
    without the ties)."""
    if pairs == 0:
        return 1.0
    tail = min(lower, pairs - lower)
    return min(1.0, 2 * sum(math.comb(pairs, k) for k in range(tail + 1)) / 2**pairs)


def format_report(report: PairedReport) -> str:
    setting = " ".join(f"{k}={v}" for k, v in report.settings.items())
    # A floor's workers touch no database: its PostgreSQL columns would be all zeros.
    postgres = report.workload == "cutru"
    lines = [
        f"paired worker comparison - {report.started_at:%Y-%m-%d %H:%M:%S} UTC",
        f"workload: {report.workload}, {report.dossiers_per_side} workflows a side a pair; "
        f"A: the environment ({', '.join(f'{k}={v}' for k, v in report.environment.items()) or 'defaults'}); "
        f"B: {setting}",
        "worker CPU ms per workflow:    A       B   (started first)"
        + ("   PostgreSQL of each side's workers:   A      B" if postgres else ""),
    ]
    lines += [f"  pair {p.number:<8} {p.a_ms:>10.1f} {p.b_ms:>7.1f}   {p.first}"
              + (f" {p.a_pg_ms:>40.2f} {p.b_pg_ms:>6.2f}" if postgres else "") for p in report.pairs]
    if report.pairs:
        change = (report.mean_b - report.mean_a) / report.mean_a * 100
        ties = f", {report.ties} tied" if report.ties else ""
        untied = len(report.pairs) - report.ties
        lines += [
            f"  mean {'':<8} {report.mean_a:>10.1f} {report.mean_b:>7.1f}   B - A = {change:+.1f} %",
            f"B took less CPU in {report.b_lower} of {len(report.pairs)} pairs{ties} "
            f"(sign test, two-sided: p = {sign_test(report.b_lower, untied):.3f})",
        ]
        if postgres:
            lower = sum(p.b_pg_ms < p.a_pg_ms for p in report.pairs)
            untied = sum(p.b_pg_ms != p.a_pg_ms for p in report.pairs)
            means = [statistics.mean(getattr(p, side) for p in report.pairs) for side in ("a_pg_ms", "b_pg_ms")]
            lines.append(f"PostgreSQL of each side's workers: mean {means[0]:.2f} and "
                         f"{means[1]:.2f} ms per workflow, B lower in {lower} of {len(report.pairs)} pairs "
                         f"(sign test, two-sided: p = {sign_test(lower, untied):.3f})")
    return "\n".join(lines)


async def one_pair(runner: Bench, number: int, workload: str, people: Sequence[Applicant], settings: dict[str, str],
                   n: int) -> Pair:
    first: Side = "A" if number % 2 else "B"
    timeout = 120 + n
    rounds = {"A": 2 * number, "B": 2 * number + 1}  # a queue and workflow ids of each side's own
    envs: dict[Side, dict[str, str]] = {"A": {}, "B": settings}
    share = {"A": people[:n], "B": people[n:2 * n]}

    async def side(name: Side) -> tuple[float, int, float]:
        if workload == "floor":
            phase, measured = await runner.floor_phase(DOSSIER_PLAN, n, timeout, round_number=rounds[name],
                                                       env=envs[name])
        else:
            phase, measured = await runner.dossier_phase("cutru", share[name], rate=None, timeout=timeout,
                                                         round_number=rounds[name], env=envs[name])
        completed = len(phase.closed_at)
        per = 1000 / max(completed, 1)
        return measured.usage["worker"].cpu_seconds * per, completed, measured.workers_postgres_cpu_seconds * per

    order: tuple[Side, Side] = ("A", "B") if first == "A" else ("B", "A")
    results = dict(zip(order, await asyncio.gather(side(order[0]), side(order[1])), strict=True))
    return Pair(number=number, first=first, a_ms=round(results["A"][0], 1), b_ms=round(results["B"][0], 1),
                completed=(results["A"][1], results["B"][1]),
                a_pg_ms=round(results["A"][2], 2), b_pg_ms=round(results["B"][2], 2))


async def paired(workload: Literal["cutru", "floor"], settings: dict[str, str], pairs: int, n: int,
                 keep: bool) -> PairedReport:
    options = Options(dossiers=n, workers=1, stay_seconds=0, stay_rate=0, paced_seconds=0, encrypt=True,
                      json_path=None, keep=keep, quick=False)
    report = PairedReport(started_at=datetime.now(UTC), workload=workload, dossiers_per_side=n, settings=settings,
                          environment=worker_tuning(), pairs=[])
    async with bench_stack(options) as runner:
        people = await load_applicants(runner.database.url, 2 * n * pairs, runner.tag) if workload == "cutru" else []
        for number in range(1, pairs + 1):
            share = people[2 * n * (number - 1):2 * n * number]
            report.pairs.append(await one_pair(runner, number, workload, share, settings, n))
            pair = report.pairs[-1]
            print(f"pair {number}: A {pair.a_ms:.1f}, B {pair.b_ms:.1f} ms per workflow "
                  f"(their PostgreSQL backends {pair.a_pg_ms:.1f}, {pair.b_pg_ms:.1f})", flush=True)
    return report


def setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or name not in TUNING_VARIABLES:
        raise argparse.ArgumentTypeError(f"expected VAR=VALUE with VAR one of {', '.join(TUNING_VARIABLES)}")
    return name, value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.paired", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", dest="settings", type=setting, action="append", default=[],
                        help="side B's worker setting, VAR=VALUE (repeat for several)")
    parser.add_argument("--code", type=Path,
                        help="side B's workers run the code of this checkout of the project (a clone, a worktree)")
    parser.add_argument("--workload", choices=("cutru", "floor"), default="cutru")
    parser.add_argument("--pairs", type=int, default=6, help="pairs to run, 2 to 20 (default 6)")
    parser.add_argument("--dossiers", type=int, default=150, help="workflows a side a pair, 20 to 1000 (default 150)")
    parser.add_argument("--json", type=Path, help="where to write the JSON report (default bench/results/)")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, SQLite file)")
    args = parser.parse_args(argv)
    if not args.settings and args.code is None:
        parser.error("give side B a worker setting (--set) or another checkout's code (--code)")
    if args.code is not None:
        if not (args.code / "local" / "cutru_local").is_dir():
            parser.error(f"--code {args.code} is not a checkout of cutru")
        args.settings.append((CODE_VARIABLE, str(args.code.resolve())))
    if not 2 <= args.pairs <= 20:
        parser.error("--pairs must be between 2 and 20")
    if not 20 <= args.dossiers <= 1000:
        parser.error("--dossiers must be between 20 and 1000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = asyncio.run(paired(args.workload, dict(args.settings), args.pairs, args.dossiers, args.keep))
    print()
    print(format_report(report))
    path = args.json or RESULTS_DIR / f"paired-{report.started_at:%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2))
    print(f"\nJSON report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
