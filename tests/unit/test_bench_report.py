"""The bench's statistics and report code (``bench.stats``), and the events it reads from a history
(``bench.run.to_events``): pure functions, no stack, nothing timed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import stats
from bench.run import to_events
from cutru.clients.audit import load_history

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def ev(event_id: int, kind: str, ms: float, **fields: object) -> stats.Event:
    return stats.Event(event_id=event_id, type=kind, time=at(ms), **fields)  # type: ignore[arg-type]


def dossier_like_history() -> list[stats.Event]:
    """Start, one activity, an upsert and a timer, the update, a retried activity, completion."""
    return [
        ev(1, "WorkflowExecutionStarted", 0),
        ev(2, "WorkflowTaskScheduled", 0),
        ev(3, "WorkflowTaskStarted", 10, scheduled_event_id=2),
        ev(4, "WorkflowTaskCompleted", 30, scheduled_event_id=2),
        ev(5, "ActivityTaskScheduled", 30, activity_type="validate_identity"),
        ev(6, "ActivityTaskStarted", 35, scheduled_event_id=5, attempt=1),
        ev(7, "ActivityTaskCompleted", 135, scheduled_event_id=5),
        ev(8, "WorkflowTaskScheduled", 135),
        ev(9, "WorkflowTaskStarted", 140, scheduled_event_id=8),
        ev(10, "WorkflowTaskCompleted", 150, scheduled_event_id=8),
        ev(11, "UpsertWorkflowSearchAttributes", 150),
        ev(12, "TimerStarted", 150),
        ev(13, "WorkflowTaskScheduled", 500),
        ev(14, "WorkflowTaskStarted", 505, scheduled_event_id=13),
        ev(15, "WorkflowTaskCompleted", 515, scheduled_event_id=13),
        ev(16, "WorkflowExecutionUpdateAccepted", 515, update_name="decide"),
        ev(17, "WorkflowExecutionUpdateCompleted", 515),
        ev(18, "TimerCanceled", 515),
        ev(19, "ActivityTaskScheduled", 515, activity_type="deliver_result"),
        ev(20, "ActivityTaskStarted", 2515, scheduled_event_id=19, attempt=3),
        ev(21, "ActivityTaskCompleted", 2615, scheduled_event_id=19),
        ev(22, "WorkflowTaskScheduled", 2615),
        ev(23, "WorkflowTaskStarted", 2620, scheduled_event_id=22),
        ev(24, "WorkflowTaskCompleted", 2630, scheduled_event_id=22),
        ev(25, "WorkflowExecutionCompleted", 2630),
    ]


def test_percentiles_interpolate_between_ranks() -> None:
    values = list(range(1, 101))  # 1..100
    assert stats.percentile(values, 0.0) == 1
    assert stats.percentile(values, 1.0) == 100
    assert stats.percentile(values, 0.5) == pytest.approx(50.5)
    assert stats.percentile(values, 0.99) == pytest.approx(99.01)
    summary = stats.summarize(reversed(values))
    assert (summary.count, summary.p50, summary.p95, summary.p99, summary.max) == (100, 50.5, 95.0, 99.0, 100)


def test_percentile_edge_cases() -> None:
    assert stats.percentile([7.0], 0.99) == 7.0
    assert stats.summarize([]) == stats.Percentiles(count=0)
    with pytest.raises(ValueError):
        stats.percentile([], 0.5)
    with pytest.raises(ValueError):
        stats.percentile([1.0], 1.5)


def test_event_type_names_match_the_web_ui() -> None:
    assert stats.event_type_name("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED") == "ActivityTaskScheduled"
    assert stats.event_type_name("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == "WorkflowExecutionUpdateAccepted"
    assert stats.event_type_name("EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES") == "UpsertWorkflowSearchAttributes"


def test_profile_counts_events_and_actions() -> None:
    profile = stats.profile_history(dossier_like_history(), rejected_updates=0.5)
    assert profile.events == 25
    assert profile.activities == 2
    assert profile.activity_types == ["validate_identity", "deliver_result"]
    assert profile.activities_before_update == 1
    assert profile.activity_attempts == 4  # the second activity ran on its third attempt
    assert profile.workflow_tasks == 4
    assert (profile.timers, profile.updates, profile.search_attribute_upserts, profile.signals) == (1, 1, 1, 0)
    # 1 start + 4 activity attempts + 1 timer + (1 accepted + 0.5 rejected) update + 1 upsert
    assert profile.actions == pytest.approx(8.5)
    assert profile.actions_by_kind == {
        "workflow started": 1, "activity attempts": 4, "timers started": 1, "updates": 1.5,
        "search-attribute upserts": 1,
    }
    assert "ActivityTaskScheduled(validate_identity)" in profile.sequence
    assert "WorkflowExecutionUpdateAccepted(decide)" in profile.sequence


def test_profile_counts_local_activities_as_steps_and_says_which() -> None:
    """A local activity leaves one marker; the patch marker before it is no step."""
    history = dossier_like_history()
    local = [ev(4, "MarkerRecorded", 30, marker_name="core_patch"),
             ev(4, "MarkerRecorded", 30, marker_name=stats.LOCAL_ACTIVITY_MARKER, activity_type="check_eligibility")]
    profile = stats.profile_history(history[:4] + local + history[4:])
    assert profile.activity_types == ["check_eligibility", "validate_identity", "deliver_result"]
    assert profile.local_steps == [0]
    assert (profile.activities, profile.activities_before_update, profile.markers) == (3, 2, 2)
    assert "MarkerRecorded(local check_eligibility)" in profile.sequence
    assert stats.profile_history(history).local_steps == []


def test_profile_without_update_counts_every_activity_as_before_it() -> None:
    history = [e for e in dossier_like_history() if e.type != "WorkflowExecutionUpdateAccepted"]
    assert stats.profile_history(history).activities_before_update == 2


def test_step_timings_split_queueing_from_execution() -> None:
    timings = {t.step: t for t in stats.step_timings([dossier_like_history(), dossier_like_history()])}
    identity = timings["validate_identity"]
    assert identity.count == 2
    assert identity.schedule_to_start_ms.p50 == pytest.approx(5.0)
    assert identity.start_to_close_ms.p50 == pytest.approx(100.0)
    assert timings["deliver_result"].schedule_to_start_ms.p50 == pytest.approx(2000.0)
    tasks = timings[stats.WORKFLOW_TASK]
    assert tasks.count == 8
    assert tasks.start_to_close_ms.max == pytest.approx(20.0)
    # The slowest step by execution comes first.
    assert stats.step_timings([dossier_like_history()])[0].step == "validate_identity"


def test_typical_history_is_the_most_common_shape() -> None:
    full = dossier_like_history()
    folded = full[:12] + full[15:]  # an update folded into a running task: three events fewer
    assert stats.typical_history([folded, full, full]) is not None
    assert len(stats.typical_history([folded, full, full]) or []) == len(full)
    assert len(stats.typical_history([folded, folded, full]) or []) == len(folded)
    assert len(stats.typical_history([folded, full]) or []) == len(full)  # a tie goes to the longer one
    assert stats.typical_history([]) is None


def test_completion_measures_from_first_submit_to_last_close() -> None:
    submitted = {"a": at(0), "b": at(500), "c": at(1000)}
    receipts = {"a": 10.0, "b": 20.0, "c": 30.0}
    closed = {"a": at(2000), "b": at(3000), "x": at(9000)}  # c never closed; x is not ours
    run = stats.completion(submitted, receipts, closed)
    assert (run.submitted, run.completed) == (3, 2)
    assert run.elapsed_seconds == 3.0
    assert run.per_second == pytest.approx(0.67)
    assert run.submit_rate == 2.0  # three submissions over one second
    assert run.receipt_ms.p50 == 20.0
    assert run.completion_ms.p50 == pytest.approx(2250.0)


def test_completion_of_nothing_and_of_one() -> None:
    assert stats.completion({}, {}, {}).per_second == 0.0
    one = stats.completion({"a": at(0)}, {"a": 5.0}, {"a": at(400)})
    assert (one.per_second, one.submit_rate, one.completion_ms.p50) == (2.5, 0.0, 400.0)


def test_per_second_counts_drop_what_falls_outside() -> None:
    times = [at(100), at(900), at(1500), at(-1), at(3000)]
    assert stats.per_second_counts(T0, times, 3) == [2, 1, 0]


def _burst(rate: float, seconds: int, lag_ms: float, *, missing: int = 0) -> tuple[dict[str, datetime], ...]:
    submitted = {f"s{i}": at(i * 1000 / rate) for i in range(int(rate * seconds))}
    closed = {k: v + timedelta(milliseconds=lag_ms) for k, v in list(submitted.items())[missing:]}
    return submitted, closed


def test_a_burst_that_keeps_up_is_sustained() -> None:
    submitted, closed = _burst(100, 60, 300)
    burst = stats.stay_burst(100, 60, submitted, closed)
    assert burst.sustained
    assert burst.achieved_submit_rate == 100.0
    assert burst.steady_completions_per_second_min == 100
    assert burst.drain_seconds == pytest.approx(0.3)


def test_a_burst_with_a_long_tail_or_losses_is_not_sustained() -> None:
    submitted, closed = _burst(100, 20, 8000)
    assert not stats.stay_burst(100, 20, submitted, closed).sustained  # the backlog takes 8 s to clear
    submitted, closed = _burst(100, 20, 100, missing=5)
    assert not stats.stay_burst(100, 20, submitted, closed).sustained  # five never completed
    submitted, closed = _burst(50, 20, 100)
    assert not stats.stay_burst(100, 20, submitted, closed).sustained  # only half the target was offered
    empty = stats.stay_burst(100, 60, {}, {})
    assert not empty.sustained and empty.completions_per_second == []


def _workload(name: str, per_second: float, *, rss: float = 150.0, receipt_p99: float = 40.0) -> stats.WorkloadResult:
    run = stats.Completion(
        submitted=100, completed=100, elapsed_seconds=100 / per_second if per_second else 0.0,
        per_second=per_second, submit_rate=per_second,
        receipt_ms=stats.Percentiles(count=100, p50=5.0, p95=20.0, p99=receipt_p99, max=receipt_p99),
        completion_ms=stats.Percentiles(count=100, p50=500.0, p95=900.0, p99=990.0, max=1000.0),
    )
    history = stats.profile_history(dossier_like_history())
    return stats.WorkloadResult(
        name=name, workflow_type="PermanentResidenceRegistration", workers=1, encrypted=True, run=run,
        activities_per_workflow=history.activities, activities_per_second=per_second * history.activities,
        worker=stats.Usage(cpu_seconds=20.0, peak_rss_mb=rss), server=stats.Usage(cpu_seconds=10.0, peak_rss_mb=250),
        postgres_cpu_seconds=1.0, driver_cpu_seconds=0.5, other_cpu_seconds=3.0, history=history,
        steps=stats.step_timings([dossier_like_history()]), outcomes={"completed": 30},
    )


def _report(cutru_rate: float, floor_rate: float) -> stats.BenchReport:
    machine = stats.Machine(cpus=2, cpu_model="Test CPU", memory_gb=8.0, load_average_at_start=(0.1, 0.2, 0.3),
                            python="3.11", temporalio="1.35.0", temporal_cli="temporal 1.9.1", postgres="15",
                            speed_probe_seconds=0.135)
    floor, cutru = _workload("floor", floor_rate), _workload("cutru", cutru_rate)
    paced = _workload("paced", cutru_rate / 2, rss=320.0, receipt_p99=120.0)
    report = stats.BenchReport(
        started_at=T0, duration_seconds=300.0, machine=machine, options={"dossiers": 100}, floor=floor, cutru=cutru,
        ratio=stats.ratio(cutru, floor), paced=paced, stay_note="skipped: no StayNotification workflow",
        pdf_render_ms=stats.Percentiles(count=10, p50=50.0, p95=60.0, p99=61.0, max=61.0),
    )
    report.targets = stats.check_targets(report)
    report.observations = stats.observations(report)
    return report


def test_ratio_and_targets() -> None:
    report = _report(cutru_rate=27.0, floor_rate=30.0)
    assert report.ratio == pytest.approx(0.9)
    verdicts = {check.target.split(" ")[0]: check.ok for check in report.targets}
    # The API's lines (HTTP receipt, dossiers through the API, stays through the API) are n/a when not run.
    assert verdicts == {"ratio": True, "stay": None, "submit-to-receipt": False, "worker": False, "HTTP": None,
                        "dossiers": None, "urgent": None}
    assert _report(cutru_rate=10.0, floor_rate=30.0).targets[0].ok is False
    assert stats.ratio(_workload("c", 5.0), _workload("f", 0.0)) == 0.0


def test_api_targets_compare_with_the_direct_client_around_it() -> None:
    report = _report(cutru_rate=27.0, floor_rate=30.0).model_copy(update={
        "api": _workload("api", 25.0), "api_direct_before": _workload("cutru", 27.0),
        "api_direct": _workload("direct", 29.0), "api_ratio": 25.0 / 28.0,
        "api_paced": _workload("api paced", 12.5, receipt_p99=60.0),
    })
    report.api.api = stats.Usage(cpu_seconds=0.5, peak_rss_mb=140.0)  # type: ignore[union-attr]
    checks = {check.target.split(" ")[0]: check for check in stats.check_targets(report) if "API" in check.target}
    assert checks["HTTP"].ok is False and "60.0 ms" in checks["HTTP"].measured
    assert checks["dossiers"].ok is False and checks["dossiers"].measured == "25.00 / mean(27.00, 29.00) = 0.89"
    assert checks["stay"].ok is None
    assert report.api.cpu_ms_per_workflow == {"worker": 200.0, "server": 100.0, "postgres": 10.0,  # type: ignore[union-attr]
                                              "driver": 5.0, "api": 5.0, "total": 320.0}
    assert "CPU ms per dossier, through the API: worker 200.0" in stats.format_report(report)


def test_the_backlog_target_sets_urgent_dossiers_against_the_same_at_the_floods_priority() -> None:
    submitted = {code: T0 for code in ("U0", "U1", "F0", "F1", "B0", "B1")}
    closed = {"U0": at(5_000), "U1": at(6_000), "F0": at(20_000), "F1": at(22_000), "B0": at(9_000)}
    backlog = stats.backlog(stats.TARGET_BACKLOG_FLOOD, 4, 1, submitted, closed, ["U0", "U1"], ["F0", "F1"],
                            ["B0", "B1"], 50.0, [])
    assert (backlog.urgent.p50, backlog.at_flood_priority.p50, backlog.flood_latency.count) == (5_500.0, 21_000.0, 1)
    assert backlog.flood_drain_seconds == 9.0
    report = _report(cutru_rate=27.0, floor_rate=30.0).model_copy(update={"backlog": backlog})

    def verdict(measured: stats.Backlog) -> stats.TargetCheck:
        [check] = [c for c in stats.check_targets(report.model_copy(update={"backlog": measured}))
                   if c.target.startswith("urgent")]
        return check

    assert verdict(backlog).ok is True and verdict(backlog).measured.startswith("5.5 s at priority 1 vs 21.0 s at 4")
    assert verdict(backlog.model_copy(update={"urgent": stats.summarize([12_000.0])})).ok is False
    assert verdict(backlog.model_copy(update={"flood": stats.TARGET_BACKLOG_FLOOD - 1})).ok is None
    assert "near-deadline dossiers at priority 1 5500" in stats.format_report(report.model_copy(
        update={"backlog": backlog}))


def test_speed_probe_times_a_fixed_loop() -> None:
    from bench.run import speed_probe

    small, large = speed_probe(steps=200_000, rounds=3), speed_probe(steps=2_000_000, rounds=3)
    assert 0 < small < large


def test_observations_carry_numbers() -> None:
    found = _report(cutru_rate=10.0, floor_rate=30.0).observations
    assert any("25 events" in line and "actions per dossier" in line for line in found)
    assert any("1 UpsertWorkflowSearchAttributes" in line for line in found)
    assert any(line.startswith("PDF rendering: 50 ms") and "10 dossiers/s" in line for line in found)
    assert any("worker CPU per dossier 200 ms vs 200 ms" in line for line in found)


def test_report_text_and_json_round_trip() -> None:
    report = _report(cutru_rate=10.0, floor_rate=30.0)
    text = stats.format_report(report)
    for expected in ("RATIO cutru / floor = 10.00 / 30.00 = 0.33", "[FAIL] ratio cutru/floor >= 0.85",
                     "[n/a ] stay notifications", "skipped: no StayNotification workflow",
                     "WorkflowExecutionUpdateAccepted(decide)", "tuning opportunities observed:",
                     "submit-to-receipt ms p50/p95/p99: 5 / 20 / 40", "speed probe 0.135 s", stats.ACTION_RULE):
        assert expected in text
    assert stats.BenchReport.model_validate_json(report.model_dump_json()) == report


def test_report_compares_the_stay_burst_with_its_floor() -> None:
    report = _report(cutru_rate=10.0, floor_rate=30.0)
    submitted, closed = _burst(100, 60, 300)
    report.stay_burst = stats.stay_burst(100, 60, submitted, dict(list(closed.items())[:3000]))
    report.stay_floor_burst = stats.stay_burst(100, 60, submitted, closed)
    report.targets = stats.check_targets(report)
    report.observations = stats.observations(report)
    text = stats.format_report(report)
    assert "stay-notification burst: target 100/s for 60 s" in text and "NOT sustained" in text
    assert "stay-floor burst: target 100/s for 60 s" in text and "; sustained" in text
    assert report.targets[1].ok is False
    assert any(line.startswith("stay burst: 50.0/s completed in the window vs 99.5/s") for line in report.observations)


def test_report_lists_the_history_of_every_procedure() -> None:
    report = _report(cutru_rate=10.0, floor_rate=30.0)
    profile = stats.profile_history(dossier_like_history())
    report.procedures = [stats.ProcedureHistory(procedure="PermanentResidenceRegistration", outcome="completed",
                                                profile=profile)]
    lines = stats.format_report(report).splitlines()
    row = next(line for line in lines if line.strip().startswith("PermanentResidenceRegistration"))
    # events, actions, activities, workflow tasks, timers, upserts
    assert row.split()[1:] == ["completed", "25", "8", "2", "4", "1", "1"]
    assert stats.BenchReport.model_validate_json(report.model_dump_json()) == report


def test_a_render_too_fast_to_measure_caps_nothing() -> None:
    report = _report(cutru_rate=10.0, floor_rate=30.0)
    report.pdf_render_ms = stats.Percentiles(count=10, p50=0.0, p95=0.0, p99=0.0, max=0.0)
    assert not any(line.startswith("PDF rendering") for line in stats.observations(report))


def test_report_sets_cutru_against_the_floor_of_the_dossier_shape() -> None:
    report = _report(cutru_rate=10.0, floor_rate=30.0)
    assert "shaped floor" not in stats.format_report(report)
    report.shaped_floor = _workload("shaped floor", 12.5)
    text = stats.format_report(report)
    assert "cutru / shaped floor = 10.00 / 12.50 = 0.80" in text
    assert "shaped floor / floor = 12.50 / 30.00 = 0.42: the most any workflow" in text
    assert "RATIO cutru / floor = 10.00 / 30.00 = 0.33" in text  # the headline stays against the bare floor


def test_report_prices_each_workflow_in_cpu_by_process() -> None:
    report = _report(cutru_rate=10.0, floor_rate=30.0)
    report.floor.worker.cpu_seconds = 5.0
    assert report.cutru.cpu_ms_per_workflow == {"worker": 200.0, "server": 100.0, "postgres": 10.0, "driver": 5.0,
                                                "total": 315.0}
    lines = stats.format_report(report).splitlines()
    floor_row = next(line for line in lines if line.startswith("  floor "))
    assert floor_row.split()[1:] == ["50.0", "100.0", "10.0", "5.0", "165.0"]
    assert "  floor / cutru CPU = 165.0 / 315.0 = 0.52: the ratio the CPU alone allows" in lines[
        lines.index(floor_row) + 2]
    assert stats.BenchReport.model_validate_json(report.model_dump_json()) == report
    report.shaped_floor = _workload("shaped floor (the dossier's search attributes, upserts, reminder timer)", 12.5)
    lines = stats.format_report(report).splitlines()
    shaped_row = next(line for line in lines if line.startswith("  shaped floor "))
    def worker_column_end(row: str, cell: str) -> int:
        return row.index(cell) + len(cell)

    # The numbers are right-aligned under their headings whatever the phase's name.
    assert worker_column_end(shaped_row, shaped_row.split()[2]) == worker_column_end(floor_row, floor_row.split()[1])
    report.cutru.run.completed = 0
    assert report.cutru.cpu_ms_per_workflow is None
    assert not any(line.startswith("CPU per completed workflow") for line in stats.format_report(report).splitlines())


def test_rounds_report_the_median_round_and_every_rounds_rates() -> None:
    rates = [(26.4, 21.1, 14.3), (19.8, 15.5, 12.7), (21.0, 19.1, 16.6)]  # ratios 0.54, 0.64, 0.79
    def shaped(per_second: float) -> stats.WorkloadResult:
        workload = _workload("shaped floor", per_second)
        workload.server.cpu_seconds = 15.0
        return workload

    def cutru(per_second: float, worker_seconds: float) -> stats.WorkloadResult:
        workload = _workload("cutru", per_second)
        workload.worker.cpu_seconds = worker_seconds
        return workload

    rounds = [stats.Round.of(i, _workload("floor", f), shaped(s), cutru(c, worker))
              for i, ((f, s, c), worker) in enumerate(zip(rates, (20.0, 30.0, 40.0), strict=True), start=1)]
    assert [r.ratio for r in rounds] == [0.542, 0.641, 0.79] and rounds[2].shaped_ratio == 0.869
    assert stats.median_round(rounds) == 1
    assert stats.median_round(rounds[:2]) == 0  # of two, the lower: the headline never picks the luckier
    report = _report(cutru_rate=12.7, floor_rate=19.8)
    report.rounds = rounds
    lines = stats.format_report(report).splitlines()
    rows = [line.split() for line in lines if line.startswith("  round ")]
    assert [row[1:7] for row in rows] == [["1", "26.40", "21.10", "14.30", "0.54", "0.68"],
                                         ["2", "19.80", "15.50", "12.70", "0.64", "0.82"],
                                         ["3", "21.00", "19.10", "16.60", "0.79", "0.87"]]
    # CPU per workflow: the shaped floor's 365 ms; cutru's 315, 415, 515 (its worker 20, 30, 40 s for 100).
    assert [row[7] for row in rows] == ["1.16", "0.88", "0.71"]
    # Worker CPU seconds per 100 workflows in the first round: 20 each; the server's: 10, 15, 10.
    assert rows[0][8:15] == ["200.0,", "200.0,", "200.0", "|", "100.0,", "150.0,", "100.0"]
    assert [" ".join(row[15:]) for row in rows] == ["", "<- reported above", ""]
    assert "  ratio over 3 rounds: min 0.54, median 0.64, max 0.79" in lines
    assert "  CPU ratio (shaped floor / cutru) over 3 rounds: min 0.71, median 0.88, max 1.16" in lines
    assert stats.BenchReport.model_validate_json(report.model_dump_json()) == report
    report.rounds = rounds[1:]
    assert "  ratio over 2 rounds: min 0.64, lower median 0.64, max 0.79" in stats.format_report(report).splitlines()
    report.rounds = rounds[:1]  # one round: nothing to add to the headline
    assert not any(line.startswith("rounds") for line in stats.format_report(report).splitlines())


def test_rounds_are_bounded_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.run import parse_options

    assert parse_options(["--rounds", "3"]).rounds == 3 and parse_options(["--quick", "--rounds", "2"]).rounds == 2
    # By default, as many rounds as the budget has room for; a smoke run has one.
    assert parse_options([]).rounds is None and parse_options(["--quick"]).rounds == 1
    for bad in ("0", "6"):
        with pytest.raises(SystemExit):
            parse_options(["--rounds", bad])
        assert "--rounds must be between 1 and 5" in capsys.readouterr().err


def test_a_budget_allows_a_round_only_beside_the_later_phases_share() -> None:
    from bench.run import Budget

    budget = Budget(100.0)
    assert budget.allows(50.0, reserved_for_later=40.0)
    assert not budget.allows(70.0, reserved_for_later=40.0)
    assert not Budget(-1.0).allows(0.0, reserved_for_later=0.0)


def test_cpu_ratio_is_the_median_rounds_shaped_floor_over_cutru_cpu() -> None:
    def phase(name: str, worker_seconds: float) -> stats.WorkloadResult:
        workload = _workload(name, 20.0)
        workload.worker.cpu_seconds = worker_seconds
        return workload

    # Total CPU per workflow: the shaped floor 20 + 10 + 1 + 0.5 = 31.5 s per 100 workflows; cutru's by worker.
    rounds = [stats.Round.of(i, phase("floor", 20.0), phase("shaped floor", 20.0), phase("cutru", c))
              for i, c in enumerate((40.0, 30.0, 50.0), start=1)]
    assert [r.cpu_ratio for r in rounds] == [0.612, 0.759, 0.512]
    report = _report(cutru_rate=20.0, floor_rate=20.0)
    report.rounds = rounds
    line = "CPU RATIO shaped floor / cutru = 315.0 / 515.0 = 0.61 (ms per completed workflow, round 1, the median of 3)"
    assert line in stats.format_report(report).splitlines()
    # Beside it, the rounds pooled: 315 against the mean of 515, 415 and 615.
    assert "  the same over the 3 rounds' means: 315.0 / 515.0 = 0.61" in stats.format_report(report).splitlines()
    rounds[2].total_ms = (None, 315.0, 1015.0)
    assert "  the same over the 3 rounds' means: 315.0 / 648.3 = 0.49" in stats.format_report(report).splitlines()
    rounds[2].total_ms = (None, 315.0, 615.0)
    check = stats.check_targets(report)[-1]
    assert check.target.startswith("CPU ratio") and check.measured == "0.61" and check.ok is False
    rounds[1].total_ms = (None, 300.0, 310.0)
    rounds[0].total_ms = (None, 300.0, 320.0)
    assert stats.median_cpu_round(rounds) is rounds[0] and stats.check_targets(report)[-1].ok is True
    report.rounds = []
    assert stats.median_cpu_round(report.rounds) is None
    assert not any(check.target.startswith("CPU ratio") for check in stats.check_targets(report))


def test_a_recorded_historys_task_events_name_the_event_that_scheduled_them() -> None:
    recorded = Path(__file__).resolve().parent.parent / "histories"
    events = to_events(load_history(min(recorded.glob("*@PermanentResidenceRegistration-completed.json"))).events)
    types = {e.event_id: e.type for e in events}
    tasks = [e for e in events if e.type.startswith(("ActivityTask", "WorkflowTask")) and "Scheduled" not in e.type]
    assert {e.type for e in tasks} >= {"ActivityTaskStarted", "ActivityTaskCompleted", "WorkflowTaskStarted",
                                       "WorkflowTaskCompleted"}
    for e in tasks:
        assert e.scheduled_event_id is not None, e
        assert types[e.scheduled_event_id] == e.type.split("Task")[0] + "TaskScheduled", e
