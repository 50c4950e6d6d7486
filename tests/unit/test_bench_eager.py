"""The eager-start comparison's report and options (``bench/eager.py``); its runs need a machine."""

from __future__ import annotations

import pytest

from bench.eager import Batch, EagerReport, format_report, parse_args


def _batch(eager: bool, per_second: float, server_ms: float) -> Batch:
    return Batch(eager=eager, workflows=300, eager_granted=180 if eager else 0, per_second=per_second,
                 server_ms=server_ms, process_ms=25.0, start_p50_ms=500.0, start_p99_ms=900.0,
                 completion_p50_ms=7000.0)


def test_the_report_gives_every_batch_and_compares_the_sides_pair_by_pair() -> None:
    report = EagerReport(workflows=300, rate=0, batches=[
        _batch(False, 24.0, 50.0), _batch(True, 22.0, 56.0), _batch(True, 20.0, 61.0), _batch(False, 23.0, 54.0)])
    lines = format_report(report).splitlines()
    assert lines[0] == "eager workflow start: 300 floor workflows a batch, started all at once"
    assert [line.split()[:5] for line in lines[2:6]] == [
        ["1", "normal", "0", "of", "300"], ["2", "eager", "180", "of", "300"],
        ["3", "eager", "180", "of", "300"], ["4", "normal", "0", "of", "300"]]
    assert lines[6].startswith("wf/s") and "normal     23.5   eager     21.0" in lines[6]
    assert lines[6].endswith("(-10.6 %; eager higher in 0 of 2 pairs, sign test p = 0.500)")
    assert lines[7].startswith("server ms") and "eager higher in 2 of 2 pairs" in lines[7]
    assert "started 10 a second" in format_report(EagerReport(workflows=200, rate=10, batches=[]))


def test_options_stay_within_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args([])
    assert (args.workflows, args.pairs, args.rate) == (300, 5, 0.0)
    for argv, message in ((["--workflows", "5"], "--workflows must be between"),
                          (["--pairs", "0"], "--pairs must be between"),
                          (["--rate", "-1"], "--rate must be 0")):
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert message in capsys.readouterr().err
