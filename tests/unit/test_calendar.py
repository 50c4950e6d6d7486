"""Working-day calendar: holidays on concrete dates, deadlines, out-of-hours receipt and the stopped clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.calendar import VN_TZ, CalendarConfig, DayCount, WorkingCalendar, local_date

CALENDAR = WorkingCalendar()


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local (UTC+7) instant."""
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


# What holidays.VN gives (checked for 2026 and 2027), plus what the calendar adds.


def test_tet_2027_is_thursday_4_to_wednesday_10_february() -> None:
    # Lunar new year 2027 is Saturday 6 February; the package moves the weekend days to 29 Tết and mùng 5.
    tet = [date(2027, 2, day) for day in range(4, 11)]
    assert [CALENDAR.is_working_day(d) for d in tet] == [False] * 7
    assert CALENDAR.holiday_name(date(2027, 2, 6)) == "Tết Nguyên Đán"
    assert CALENDAR.holiday_name(date(2027, 2, 4)) == "29 Tết"
    assert CALENDAR.holiday_name(date(2027, 2, 10)) == "Mùng năm Tết Nguyên Đán"
    assert CALENDAR.is_working_day(date(2027, 2, 3))
    assert CALENDAR.is_working_day(date(2027, 2, 11))


def test_tet_2026_is_monday_16_to_friday_20_february() -> None:
    assert [CALENDAR.is_working_day(date(2026, 2, day)) for day in range(13, 24)] == [
        True,  # Fri 13
        False,  # Sat
        False,  # Sun
        False,  # Mon 16, Giao thừa
        False,
        False,
        False,
        False,  # Fri 20, Mùng bốn
        False,  # Sat
        False,  # Sun
        True,  # Mon 23
    ]


def test_seven_working_days_spanning_tet_2027() -> None:
    # Tuesday 2 February: day 1 is Wednesday 3, then Tết until Wednesday 10; day 7 is Thursday 18 February.
    assert CALENDAR.add_working_days(vn(2027, 2, 2, 10), 7) == vn(2027, 2, 18, 17)


def test_holiday_on_sunday_moves_to_monday() -> None:
    # Giỗ Tổ Hùng Vương 2026 (10/3 lunar) is Sunday 26 April: Monday 27 April is the substitute day off.
    assert CALENDAR.holiday_name(date(2026, 4, 26)) == "Ngày Giỗ Tổ Hùng Vương"
    assert not CALENDAR.is_working_day(date(2026, 4, 27))
    assert CALENDAR.holiday_name(date(2026, 4, 27)) == "Ngày Giỗ Tổ Hùng Vương (nghỉ bù)"
    # Friday 24 April + 3: Tuesday 28 (1), Wednesday 29 (2), then 30 April and 1 May off, Monday 4 May (3).
    assert CALENDAR.add_working_days(vn(2026, 4, 24, 9), 3) == vn(2026, 5, 4, 17)


def test_holiday_on_saturday_moves_to_monday() -> None:
    # 1 May 2027 is a Saturday; civil servants' weekly rest days are Saturday and Sunday (Điều 111).
    assert not CALENDAR.is_working_day(date(2027, 5, 3))
    assert CALENDAR.holiday_name(date(2027, 5, 3)) == "Ngày Quốc tế Lao động (nghỉ bù)"


def test_30_april_and_1_may() -> None:
    assert CALENDAR.holiday_name(date(2026, 4, 30)) == "Ngày Chiến thắng"
    assert CALENDAR.holiday_name(date(2026, 5, 1)) == "Ngày Quốc tế Lao động"
    # Wednesday 29 April 2026 + 3: Thursday and Friday are holidays; Monday 4 (1), Tuesday 5 (2), Wednesday 6 (3).
    assert CALENDAR.add_working_days(vn(2026, 4, 29, 9), 3) == vn(2026, 5, 6, 17)


def test_national_day_with_its_adjacent_day() -> None:
    # 2027: 2 September is a Thursday, the adjacent day Friday 3 September.
    assert not CALENDAR.is_working_day(date(2027, 9, 2))
    assert not CALENDAR.is_working_day(date(2027, 9, 3))
    assert CALENDAR.is_working_day(date(2027, 9, 1))
    assert CALENDAR.add_working_days(vn(2027, 9, 1, 10), 2) == vn(2027, 9, 7, 17)
    # 2026: Wednesday 2 September with Tuesday 1 September.
    assert CALENDAR.holiday_name(date(2026, 9, 1)) == "Quốc khánh"
    assert CALENDAR.holiday_name(date(2026, 9, 2)) == "Quốc khánh"


def test_prime_minister_swap_of_2026_counts_the_worked_saturday() -> None:
    # Monday 31 August 2026 is off in exchange for work on Saturday 22 August; the package only lists the day off.
    assert not CALENDAR.is_working_day(date(2026, 8, 31))
    assert CALENDAR.is_working_day(date(2026, 8, 22))
    assert CALENDAR.add_working_days(vn(2026, 8, 21, 10), 1) == vn(2026, 8, 22, 17)


def test_operator_swapped_saturday_counts() -> None:
    swapped = WorkingCalendar(CalendarConfig(swapped_working_days=(date(2027, 1, 9),)))
    assert CALENDAR.add_working_days(vn(2027, 1, 8, 10), 1) == vn(2027, 1, 11, 17)
    assert swapped.add_working_days(vn(2027, 1, 8, 10), 1) == vn(2027, 1, 9, 17)


def test_operator_swap_corrects_a_package_estimate_of_tet() -> None:
    swapped = WorkingCalendar(CalendarConfig(swapped_working_days=(date(2027, 2, 4),)))
    assert swapped.is_working_day(date(2027, 2, 4))
    assert swapped.holiday_name(date(2027, 2, 4)) is None


def test_extra_day_off_does_not_count() -> None:
    longer_tet = WorkingCalendar(CalendarConfig(extra_days_off=(date(2027, 2, 11),)))
    assert not longer_tet.is_working_day(date(2027, 2, 11))
    assert longer_tet.holiday_name(date(2027, 2, 11)) == "Ngày nghỉ bổ sung (extra day off)"
    assert longer_tet.add_working_days(vn(2027, 2, 2, 10), 7) == vn(2027, 2, 19, 17)


def test_saturday_counts_when_configured() -> None:
    with_saturday = WorkingCalendar(CalendarConfig(saturday_counts=True))
    assert CALENDAR.add_working_days(vn(2026, 3, 6, 10), 1) == vn(2026, 3, 9, 17)
    assert with_saturday.add_working_days(vn(2026, 3, 6, 10), 1) == vn(2026, 3, 7, 17)
    assert not with_saturday.is_working_day(date(2026, 3, 8))


# Vietnamese Culture Day, 24 November


def test_culture_day_from_1_july_2026_by_default() -> None:
    assert CALENDAR.holiday_name(date(2026, 11, 24)) == "Ngày Văn hóa Việt Nam"
    assert CALENDAR.is_working_day(date(2025, 11, 24))
    # 24 November 2030 is a Sunday: Monday 25 is the substitute day.
    assert CALENDAR.holiday_name(date(2030, 11, 25)) == "Ngày Văn hóa Việt Nam (nghỉ bù)"
    assert CALENDAR.add_working_days(vn(2026, 11, 23, 9), 1) == vn(2026, 11, 25, 17)


def test_culture_day_only_from_the_configured_date() -> None:
    later = WorkingCalendar(CalendarConfig(culture_day_from=date(2027, 1, 1)))
    assert later.is_working_day(date(2026, 11, 24))
    assert not later.is_working_day(date(2027, 11, 24))
    earlier = WorkingCalendar(CalendarConfig(culture_day_from=date(2025, 1, 1)))
    assert earlier.holiday_name(date(2025, 11, 24)) == "Ngày Văn hóa Việt Nam"


def test_culture_day_disabled() -> None:
    without = WorkingCalendar(CalendarConfig(culture_day_from=None))
    assert without.is_working_day(date(2026, 11, 24))
    assert without.is_working_day(date(2030, 11, 25))
    assert without.holiday_name(date(2030, 11, 24)) is None


# Deadlines


def test_whole_days_end_at_the_close_of_the_nth_working_day_after_receipt() -> None:
    # Monday 2 March 2026: Tuesday is day 1, Wednesday of the following week day 7.
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 9), 7) == vn(2026, 3, 11, 17)
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 15), 7) == vn(2026, 3, 11, 17)
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 9), 1) == vn(2026, 3, 3, 17)


def test_half_day_counts_the_next_session() -> None:
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 9), Decimal("0.5")) == vn(2026, 3, 2, 17)
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 9), 0.5) == vn(2026, 3, 2, 17)
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 15), 0.5) == vn(2026, 3, 3, 11, 30)
    # Friday afternoon: the next session is Monday morning.
    assert CALENDAR.add_working_days(vn(2026, 3, 6, 15), 0.5) == vn(2026, 3, 9, 11, 30)
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 15), Decimal("1.5")) == vn(2026, 3, 4, 11, 30)


def test_zero_days_is_due_at_receipt() -> None:
    assert CALENDAR.add_working_days(vn(2026, 3, 7, 23, 30), 0) == vn(2026, 3, 7, 23, 30)


def test_received_outside_office_hours_counts_from_the_next_opening() -> None:
    # Monday 18:00 is deemed received on Tuesday at 07:30: Wednesday is day 1, one day later than Monday 16:59.
    assert CALENDAR.deemed_receipt(vn(2026, 3, 2, 18)) == vn(2026, 3, 3, 7, 30)
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 16, 59), 7) == vn(2026, 3, 11, 17)
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 18), 7) == vn(2026, 3, 12, 17)
    # A Saturday or an early Monday receipt is a Monday-morning receipt.
    assert CALENDAR.add_working_days(vn(2026, 3, 7, 10), 0.5) == vn(2026, 3, 9, 17)
    assert CALENDAR.add_working_days(vn(2026, 3, 9, 6), 0.5) == vn(2026, 3, 9, 17)
    # Lunch break and the close belong to the next session.
    assert CALENDAR.deemed_receipt(vn(2026, 3, 2, 12)) == vn(2026, 3, 2, 13, 30)
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 11, 30), 0.5) == vn(2026, 3, 3, 11, 30)
    assert CALENDAR.add_working_days(vn(2026, 3, 2, 17), 0.5) == vn(2026, 3, 3, 17)
    assert CALENDAR.deemed_receipt(vn(2026, 3, 2, 9)) == vn(2026, 3, 2, 9)


def test_results_are_utc() -> None:
    deadline = CALENDAR.add_working_days(datetime(2026, 3, 2, 2, tzinfo=UTC), 7)
    assert deadline.tzinfo is UTC
    assert deadline == datetime(2026, 3, 11, 10, tzinfo=UTC)


def test_calendar_day_deadline_moves_off_a_day_off() -> None:
    # 30 days: the close of the 30th day after receipt, or of the next working day (Bộ luật Dân sự Điều 148 khoản 5).
    assert CALENDAR.add_calendar_days(vn(2026, 3, 2, 9), 30) == vn(2026, 4, 1, 17)
    assert CALENDAR.add_calendar_days(vn(2026, 4, 2, 9), 30) == vn(2026, 5, 4, 17)
    assert CALENDAR.deadline(vn(2026, 3, 2, 9), 30, DayCount.CALENDAR) == vn(2026, 4, 1, 17)
    assert CALENDAR.deadline(vn(2026, 3, 2, 9), 7) == vn(2026, 3, 11, 17)


@pytest.mark.parametrize("days", [Decimal("0.3"), 0.1, -1, Decimal("-0.5")])
def test_deadline_amounts_must_be_non_negative_halves(days: Decimal | float | int) -> None:
    with pytest.raises(ValueError):
        CALENDAR.add_working_days(vn(2026, 3, 2, 9), days)


def test_calendar_day_deadline_must_be_whole_days() -> None:
    with pytest.raises(ValueError, match="whole number"):
        CALENDAR.deadline(vn(2026, 3, 2, 9), Decimal("30.5"), DayCount.CALENDAR)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.add_working_days(datetime(2026, 3, 2, 9), 1)


def test_years_outside_the_calendar_are_refused() -> None:
    with pytest.raises(ValueError, match="2020–2060"):
        CALENDAR.is_working_day(date(2061, 1, 3))


def test_invalid_configuration_is_refused() -> None:
    with pytest.raises(ValidationError, match="office hours"):
        CalendarConfig(office_morning=(time(11, 30), time(7, 30)))
    with pytest.raises(ValidationError, match="both off and swapped"):
        CalendarConfig(extra_days_off=(date(2027, 1, 9),), swapped_working_days=(date(2027, 1, 9),))


def test_local_date_is_the_vietnamese_day() -> None:
    assert local_date(datetime(2026, 6, 30, 18, tzinfo=UTC)) == date(2026, 7, 1)


# Elapsed working time and the stopped clock


def test_working_days_between() -> None:
    assert CALENDAR.working_days_between(vn(2026, 3, 2, 9), vn(2026, 3, 2, 17, 30)) == 1
    assert CALENDAR.working_days_between(vn(2026, 3, 2, 11), vn(2026, 3, 2, 14)) == Decimal("0.5")
    assert CALENDAR.working_days_between(vn(2026, 3, 2, 9), vn(2026, 3, 2, 11)) == 0
    assert CALENDAR.working_days_between(vn(2026, 3, 6, 16), vn(2026, 3, 9, 8)) == Decimal("0.5")
    # Across Tết 2027: Wednesday 3 February, then Thursday 11 February morning.
    assert CALENDAR.working_days_between(vn(2027, 2, 3, 9), vn(2027, 2, 11, 14)) == Decimal("1.5")
    assert CALENDAR.working_days_between(vn(2026, 3, 4, 9), vn(2026, 3, 2, 9)) == -2


def test_stop_and_restart_extends_the_deadline_by_the_stopped_time() -> None:
    deadline = CALENDAR.add_working_days(vn(2026, 3, 2, 9), 7)
    assert deadline == vn(2026, 3, 11, 17)
    # CT05 on Wednesday 4 March at 10:00: the rest of Wednesday to Wednesday 11 March 17:00 is 5½ days.
    remaining = CALENDAR.remaining_days(deadline, vn(2026, 3, 4, 10))
    assert remaining == Decimal("5.5")
    # Complete again on Friday 6 March at 09:00: two working days stopped, so the deadline is Friday 13 March.
    assert CALENDAR.resume_deadline(vn(2026, 3, 6, 9), remaining) == vn(2026, 3, 13, 17)


def test_stop_and_restart_across_tet() -> None:
    deadline = CALENDAR.add_working_days(vn(2027, 1, 28, 9), 5)
    assert deadline == vn(2027, 2, 11, 17)  # Fri 29, Mon 1, Tue 2, Wed 3, Thu 11 February
    remaining = CALENDAR.remaining_days(deadline, vn(2027, 2, 3, 9))
    assert remaining == Decimal("1.5")
    assert CALENDAR.resume_deadline(vn(2027, 2, 12, 9), remaining) == vn(2027, 2, 15, 17)


def test_stop_and_restart_at_the_same_instant_changes_nothing() -> None:
    start = vn(2026, 3, 2)
    for received_hours in range(0, 24 * 7, 5):
        received = start + timedelta(hours=received_hours, minutes=15)
        for days in (Decimal("0.5"), Decimal(1), Decimal(3), Decimal(7)):
            deadline = CALENDAR.add_working_days(received, days)
            for stop_hours in range(0, 24 * 3, 7):
                stopped = received + timedelta(hours=stop_hours)
                remaining = CALENDAR.remaining_days(deadline, stopped)
                assert CALENDAR.resume_deadline(stopped, remaining) == deadline, (received, days, stopped)


def test_a_clock_stopped_when_overdue_stays_overdue() -> None:
    deadline = CALENDAR.add_working_days(vn(2026, 3, 2, 9), 0.5)
    assert deadline == vn(2026, 3, 2, 17)
    remaining = CALENDAR.remaining_days(deadline, vn(2026, 3, 3, 15))
    assert remaining == -1
    assert CALENDAR.resume_deadline(vn(2026, 3, 4, 9), remaining) == vn(2026, 3, 3, 11, 30)


def test_calendar_day_clock_stops_in_whole_days() -> None:
    deadline = CALENDAR.deadline(vn(2026, 3, 2, 9), 30, DayCount.CALENDAR)
    remaining = CALENDAR.remaining_days(deadline, vn(2026, 3, 10, 9), DayCount.CALENDAR)
    assert remaining == 22
    assert CALENDAR.resume_deadline(vn(2026, 3, 16, 9), remaining, DayCount.CALENDAR) == vn(2026, 4, 7, 17)
