"""The paired worker comparison's arithmetic, report and options (``bench/paired.py``), and where a side's
workers run from; its runs need a machine."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest

from bench.paired import Pair, PairedReport, format_report, parse_args, sign_test
from bench.run import CODE_VARIABLE, worker_checkout
from cutru.platform.config import PROJECT_ROOT


def test_the_sign_test_is_two_sided_and_drops_nothing_but_ties() -> None:
    assert sign_test(6, 6) == sign_test(0, 6) == pytest.approx(2 / 64)
    assert sign_test(5, 6) == pytest.approx(2 * 7 / 64)
    assert sign_test(3, 6) == 1.0
    assert sign_test(0, 0) == 1.0  # every pair tied: no evidence either way


def _report(pairs: list[tuple[float, float]], postgres: tuple[tuple[float, float], ...] = (),
            workload: Literal["cutru", "floor"] = "cutru") -> PairedReport:
    return PairedReport(
        started_at=datetime(2026, 12, 3, 21, 0, tzinfo=UTC), workload=workload, dossiers_per_side=150,
        settings={"CUTRU_EVENT_LOOP": "asyncio"}, environment={},
        pairs=[Pair(number=i, first="A" if i % 2 else "B", a_ms=a, b_ms=b, completed=(150, 150),
                    **(dict(zip(("a_pg_ms", "b_pg_ms"), postgres[i - 1], strict=True)) if postgres else {}))
               for i, (a, b) in enumerate(pairs, start=1)],
    )


def test_the_report_gives_every_pair_the_means_and_the_split() -> None:
    report = _report([(77.5, 82.9), (78.3, 85.8), (70.7, 70.7)], ((6.2, 5.3), (6.0, 6.1), (5.9, 5.1)))
    lines = format_report(report).splitlines()
    assert "B: CUTRU_EVENT_LOOP=asyncio" in lines[1] and "A: the environment (defaults)" in lines[1]
    assert [line.split()[1:] for line in lines if line.startswith("  pair ")] == [
        ["1", "77.5", "82.9", "A", "6.20", "5.30"], ["2", "78.3", "85.8", "B", "6.00", "6.10"],
        ["3", "70.7", "70.7", "A", "5.90", "5.10"]]
    assert lines[-3].split()[1:3] == ["75.5", "79.8"] and lines[-3].endswith("B - A = +5.7 %")
    assert lines[-2] == "B took less CPU in 0 of 3 pairs, 1 tied (sign test, two-sided: p = 0.500)"
    assert lines[-1] == ("PostgreSQL of each side's workers: mean 6.03 and 5.50 ms per workflow, "
                         "B lower in 2 of 3 pairs (sign test, two-sided: p = 1.000)")
    assert PairedReport.model_validate_json(report.model_dump_json()) == report


def test_a_floors_report_has_no_database_columns() -> None:
    lines = format_report(_report([(40.1, 39.0), (41.0, 40.2)], workload="floor")).splitlines()
    assert [line.split()[1:] for line in lines if line.startswith("  pair ")] == [
        ["1", "40.1", "39.0", "A"], ["2", "41.0", "40.2", "B"]]
    assert not any("PostgreSQL" in line for line in lines)


def test_options_name_a_worker_setting_and_stay_within_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(["--set", "CUTRU_EVENT_LOOP=asyncio", "--set", "CUTRU_DATABASE_POOL_SIZE=4"])
    assert dict(args.settings) == {"CUTRU_EVENT_LOOP": "asyncio", "CUTRU_DATABASE_POOL_SIZE": "4"}
    assert (args.workload, args.pairs, args.dossiers) == ("cutru", 6, 150)
    for argv, message in ((["--set", "DATABASE_URL=postgresql://elsewhere"], "VAR one of CUTRU_MAX_CONCURRENT"),
                          (["--set", "CUTRU_EVENT_LOOP"], "expected VAR=VALUE"),
                          (["--set", "CUTRU_EVENT_LOOP=asyncio", "--pairs", "1"], "--pairs must be between 2 and 20"),
                          (["--set", "CUTRU_EVENT_LOOP=asyncio", "--dossiers", "5"], "--dossiers must be between"),
                          ([], "--set")):
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert message in capsys.readouterr().err


def test_side_b_may_run_another_checkouts_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "change" / "local" / "cutru_local").mkdir(parents=True)
    args = parse_args(["--code", str(tmp_path / "change"), "--set", "CUTRU_EVENT_LOOP=asyncio"])
    assert dict(args.settings) == {"CUTRU_EVENT_LOOP": "asyncio", CODE_VARIABLE: str(tmp_path / "change")}
    with pytest.raises(SystemExit):
        parse_args(["--code", str(tmp_path)])
    assert "is not a checkout of cutru" in capsys.readouterr().err

    code, env = worker_checkout({"PATH": "/usr/bin", CODE_VARIABLE: str(tmp_path / "change")})
    assert code == tmp_path / "change"
    assert env["PYTHONPATH"].split(os.pathsep) == [str(tmp_path / "change" / "local"), str(tmp_path / "change")]
    assert worker_checkout({"PATH": "/usr/bin"}) == (PROJECT_ROOT, {"PATH": "/usr/bin"})


async def test_a_process_in_two_groups_is_counted_once_against_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    # A side's database backends are metered in "postgres" and, apart, as its workers' own.
    from bench import stack

    busy = iter([100.0, 110.0])
    monkeypatch.setattr(stack, "machine_busy_seconds", lambda: next(busy))
    cpu = {"seconds": 1.0}
    monkeypatch.setattr(stack, "cpu_seconds", lambda pid: cpu["seconds"])
    monkeypatch.setattr(stack, "rss_bytes", lambda pid: 0)
    meter = stack.PhaseMeter({"postgres": [7]})
    meter.start()
    cpu["seconds"] = 3.0
    meter.add("workers' postgres", [7])
    usage, other = await meter.stop()
    assert usage["postgres"].cpu_seconds == usage["workers' postgres"].cpu_seconds == 2.0
    assert other == 8.0
