"""``python -m chaos.run`` (``make chaos``): the fault campaign on a private stack, with a printed report.

    python -m chaos.run                              # full run: 1,000 dossiers, 20 faults of each kind
    python -m chaos.run --seed 7 --dossiers 60 --faults 4 --competing 2 --load-seconds 20 --fault-seconds 30
    python -m chaos.run --dossiers 20 --faults 1 --kinds worker,blackhole,disk_full   # some kinds only
    python -m chaos.run --json report.json --keep    # keep the directory (logs, databases) and write the report

Exit status 0 when nothing was lost, duplicated or stuck and every planned fault was injected; 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from chaos.campaign import CampaignConfig, run_campaign
from chaos.faults import FaultKind


def parser() -> argparse.ArgumentParser:
    defaults = CampaignConfig()
    root = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    root.add_argument("--seed", type=int, default=defaults.seed, help="drives the data, the plans and the faults")
    root.add_argument("--dossiers", type=int, default=defaults.dossiers)
    root.add_argument("--faults", type=int, default=defaults.faults_per_kind, help="faults of each kind")
    root.add_argument("--kinds", type=_kinds, default=defaults.kinds,
                      help="comma-separated fault kinds (default all: " + ",".join(k.name.lower() for k in FaultKind)
                      + ")")
    root.add_argument("--competing", type=int, default=defaults.competing,
                      help="pairs of dossiers competing for one household")
    root.add_argument("--load-seconds", type=float, default=defaults.load_seconds,
                      help="window over which the dossiers are submitted")
    root.add_argument("--fault-seconds", type=float, default=defaults.fault_seconds,
                      help="window over which the faults of each kind are spread")
    root.add_argument("--drain-seconds", type=float, default=defaults.drain_seconds,
                      help="at most this long for open dossiers to close after the last fault")
    root.add_argument("--stall-seconds", type=float, default=defaults.stall_seconds,
                      help="dossiers still open when none has closed for this long count as stuck")
    root.add_argument("--people", type=int, default=defaults.people, help="seeded population")
    root.add_argument("--workers", type=int, default=defaults.workers)
    root.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    root.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    root.add_argument("--json", type=Path, default=None, help="also write the report as JSON to this file")
    root.add_argument("--quiet", action="store_true", help="no progress lines")
    return root


def _kinds(text: str) -> tuple[FaultKind, ...]:
    try:
        return tuple(FaultKind[name.strip().upper()] for name in text.split(",") if name.strip())
    except KeyError as error:
        raise argparse.ArgumentTypeError(f"unknown fault kind {error}: use "
                                         + ",".join(k.name.lower() for k in FaultKind)) from None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    config = CampaignConfig(
        seed=args.seed, dossiers=args.dossiers, faults_per_kind=args.faults, kinds=args.kinds,
        competing=args.competing, load_seconds=args.load_seconds,
        fault_seconds=args.fault_seconds, drain_seconds=args.drain_seconds, stall_seconds=args.stall_seconds,
        people=args.people,
        workers=args.workers, work_dir=args.dir, keep=args.keep, progress=not args.quiet,
    )
    report = asyncio.run(run_campaign(config))
    print(report.table())
    if report.work_dir:
        print(f"  work directory kept: {report.work_dir}")
    if args.json is not None:
        args.json.write_text(json.dumps({**report.model_dump(mode="json"), "ok": report.ok}, indent=2,
                                        ensure_ascii=False))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
