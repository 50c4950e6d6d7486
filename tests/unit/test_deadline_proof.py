"""The clock under operators' calendar declarations, and the proof of how an appointment date was counted."""

from __future__ import annotations

from datetime import date, datetime

from domain.calendar import VN_TZ, CalendarDeclaration, CalendarSnapshot, calendar_of
from domain.deadlines import DeadlineClock, deadline_for, deadline_proof
from domain.kinds import Procedure

RECEIVED = datetime(2027, 3, 1, 9, tzinfo=VN_TZ)  # a Monday
SEVEN = deadline_for(Procedure.PERMANENT_RESIDENCE_REGISTRATION, RECEIVED)


def snapshot(*declarations: tuple[date, str], version: int = 1) -> CalendarSnapshot:
    return CalendarSnapshot(version=version, declarations=tuple(
        CalendarDeclaration(day=day, kind=kind, decision=f"Quyết định {n}/QĐ-TTg")  # type: ignore[arg-type]
        for n, (day, kind) in enumerate(declarations, start=1)))


def test_a_declared_day_off_and_a_declared_working_day_move_the_deadline():
    plain = DeadlineClock.start(RECEIVED, SEVEN)
    assert plain.deadline == datetime(2027, 3, 10, 17, tzinfo=VN_TZ)
    off = DeadlineClock.start(RECEIVED, SEVEN, snapshot((date(2027, 3, 3), "day_off")))
    assert off.deadline == datetime(2027, 3, 11, 17, tzinfo=VN_TZ)
    worked = DeadlineClock.start(RECEIVED, SEVEN, snapshot((date(2027, 3, 6), "working_day")))
    assert worked.deadline == datetime(2027, 3, 9, 17, tzinfo=VN_TZ)


def test_the_same_snapshot_gives_the_same_calendar_and_none_is_the_package_alone():
    declared = snapshot((date(2027, 3, 3), "day_off"))
    assert calendar_of(declared) is calendar_of(declared.model_copy())
    assert calendar_of(None).is_working_day(date(2027, 3, 3))
    assert not calendar_of(declared).is_working_day(date(2027, 3, 3))


def test_a_restart_reads_the_new_snapshot():
    """Stopped on Tuesday 2 March with 6½ days left; a day off declared meanwhile for 9 March counts at the restart:
    the appointment is one working day later than without it."""
    clock = DeadlineClock.start(RECEIVED, SEVEN).pause(datetime(2027, 3, 2, 9, tzinfo=VN_TZ))
    assert clock.remaining == 6.5
    restart = datetime(2027, 3, 4, 9, tzinfo=VN_TZ)
    later = snapshot((date(2027, 3, 9), "day_off"), version=2)
    resumed = clock.resume(restart, later)
    assert resumed.calendar == later and resumed.remaining is None
    assert clock.resume(restart).deadline == datetime(2027, 3, 12, 17, tzinfo=VN_TZ)
    assert resumed.deadline == datetime(2027, 3, 15, 17, tzinfo=VN_TZ)


def test_the_proof_names_counted_days_skipped_days_swaps_pauses_and_the_rule_set():
    declared = snapshot((date(2027, 3, 3), "day_off"), (date(2027, 3, 6), "working_day"), version=7)
    clock = DeadlineClock.start(RECEIVED, SEVEN, declared)
    clock = clock.pause(datetime(2027, 3, 2, 14, tzinfo=VN_TZ)).resume(datetime(2027, 3, 4, 9, tzinfo=VN_TZ))
    proof = deadline_proof(RECEIVED, clock)
    assert proof.rule_set == date(2026, 7, 1) and proof.allowed == 7 and proof.calendar_version == 7
    assert proof.days_counted[0] == date(2027, 3, 2) and date(2027, 3, 6) in proof.days_counted
    assert [(d.day, d.reason) for d in proof.days_skipped][:1] == [(date(2027, 3, 7), "Chủ nhật")]
    assert [d.reason for d in proof.swapped_working_days] == ["Quyết định 2/QĐ-TTg"]
    assert len(proof.pauses) == 1 and proof.pauses[0].restarted_at == datetime(2027, 3, 4, 9, tzinfo=VN_TZ)
    assert proof.deadline == clock.deadline
    text = "\n".join(proof.lines_vi())
    assert "7 ngày làm việc, theo bộ quy định có hiệu lực từ 01/07/2026" in text
    assert "Tạm dừng để bổ sung hồ sơ từ 14 giờ 00 ngày 02/03/2027 đến 09 giờ 00 ngày 04/03/2027" in text
    assert "06/03/2027 (Quyết định 2/QĐ-TTg)" in text


def test_the_proof_of_a_holiday_names_it():
    tet = datetime(2027, 2, 1, 9, tzinfo=VN_TZ)
    proof = deadline_proof(tet, DeadlineClock.start(tet, SEVEN))
    assert len(proof.days_counted) == 7
    assert any(d.reason.startswith("Mùng") for d in proof.days_skipped)
