"""The legal deadline clock of a dossier, and the proof of how its appointment date was counted.

The clock starts when a complete dossier is received, stops while a supplement (CT05) is awaited and restarts, with
the time that was left, when the dossier is complete again. It counts under the operators' calendar declarations
(``CalendarSnapshot``) read when the deadline was computed: at the start, and again at each restart. Pure and
deterministic: the workflow keeps it as state and passes the snapshots in from an activity's result.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.calendar import VN_TZ, CalendarSnapshot, DayCount, WorkingCalendar, calendar_of, format_date, local_date
from domain.kinds import Procedure
from domain.models import Boundary
from domain.rulesets import Deadline, DeadlineCase, rules_for

_WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
_PACKAGE_SWAP_VI = "Ngày làm bù theo quyết định của Thủ tướng Chính phủ"


def deadline_for(procedure: Procedure, received_at: datetime, case: DeadlineCase = DeadlineCase.STANDARD) -> Deadline:
    """The time allowed, by the rule set in force on the (Vietnamese) day the dossier was received."""
    return rules_for(received_at).procedures[procedure].deadline(case)


class ClockPause(Boundary):
    """One stop of the clock for a supplement (CT05) and its restart."""

    stopped_at: datetime
    remaining: Decimal  # time left when it stopped, in the clock's unit
    restarted_at: datetime | None = None


class DeadlineClock(Boundary):
    started_at: datetime
    deadline: datetime
    unit: DayCount
    allowed: Decimal = Decimal(0)
    rule_set: date | None = None  # effective_from of the rule set that gave ``allowed``
    calendar: CalendarSnapshot | None = None  # the operators' declarations the deadline was last computed under
    pauses: tuple[ClockPause, ...] = ()

    @property
    def remaining(self) -> Decimal | None:
        """The time left while the clock is stopped; None while it runs."""
        if self.pauses and self.pauses[-1].restarted_at is None:
            return self.pauses[-1].remaining
        return None

    def working_calendar(self) -> WorkingCalendar:
        return calendar_of(self.calendar)

    @classmethod
    def start(cls, at: datetime, allowed: Deadline, calendar: CalendarSnapshot | None = None) -> DeadlineClock:
        deadline = calendar_of(calendar).deadline(at, allowed.days, allowed.unit)
        return cls(started_at=at, deadline=deadline, unit=allowed.unit, allowed=allowed.days,
                   rule_set=rules_for(at).effective_from, calendar=calendar)

    def pause(self, at: datetime) -> DeadlineClock:
        remaining = self.working_calendar().remaining_days(self.deadline, at, self.unit)
        pause = ClockPause(stopped_at=at, remaining=remaining)
        return self.model_copy(update={"pauses": (*self.pauses, pause)})

    def resume(self, at: datetime, calendar: CalendarSnapshot | None = None) -> DeadlineClock:
        """Restart with the time that was left; ``calendar`` (read at the restart) replaces the one in use."""
        remaining = self.remaining
        assert remaining is not None, "resume follows pause"
        snapshot = calendar if calendar is not None else self.calendar
        deadline = calendar_of(snapshot).resume_deadline(at, remaining, self.unit)
        pauses = (*self.pauses[:-1], self.pauses[-1].model_copy(update={"restarted_at": at}))
        return self.model_copy(update={"deadline": deadline, "calendar": snapshot, "pauses": pauses})

    def reminder_at(self, fraction_left: float) -> datetime:
        """When only ``fraction_left`` of the time remains."""
        return self.started_at + (self.deadline - self.started_at) * (1 - fraction_left)


class CalendarDay(Boundary):
    """A day the proof names: skipped (not a working day) or worked by a swap, and why."""

    day: date
    reason: str


class DeadlineProof(Boundary):
    """How the appointment date (ngày hẹn trả kết quả) was counted; printed on CT04, carried by the status."""

    received_at: datetime
    counted_from: datetime  # the receipt, or the next office opening when it came outside office hours
    allowed: Decimal
    unit: DayCount
    rule_set: date | None
    calendar_version: int  # the operators' declarations counted (0: none)
    days_counted: tuple[date, ...]  # working days (calendar days for a calendar-day deadline) counted
    days_skipped: tuple[CalendarDay, ...]  # weekends, public holidays, declared days off within the count
    swapped_working_days: tuple[CalendarDay, ...]  # weekend days or holidays counted because they were worked
    pauses: tuple[ClockPause, ...]
    deadline: datetime

    def lines_vi(self) -> tuple[str, ...]:
        """The proof in Vietnamese sentences, as CT04 prints it."""
        unit = "ngày làm việc" if self.unit is DayCount.WORKING else "ngày"
        lines = [f"Thời hạn giải quyết: {_number_vi(self.allowed)} {unit}, theo bộ quy định có hiệu lực từ "
                 f"{_date_vi(self.rule_set)}; tính từ {_moment_vi(self.counted_from)}."]
        if self.days_counted:
            lines.append(f"Ngày được tính ({len(self.days_counted)}): "
                         + ", ".join(_date_vi(d) for d in self.days_counted) + ".")
        if self.days_skipped:
            lines.append("Ngày không tính: " + "; ".join(f"{_date_vi(d.day)} ({d.reason})"
                                                          for d in self.days_skipped) + ".")
        if self.swapped_working_days:
            lines.append("Ngày làm bù được tính: " + "; ".join(f"{_date_vi(d.day)} ({d.reason})"
                                                               for d in self.swapped_working_days) + ".")
        for pause in self.pauses:
            restart = _moment_vi(pause.restarted_at) if pause.restarted_at else "chưa bổ sung"
            lines.append(f"Tạm dừng để bổ sung hồ sơ từ {_moment_vi(pause.stopped_at)} đến {restart} "
                         f"(còn lại {_number_vi(pause.remaining)} {unit}).")
        if self.calendar_version:
            lines.append(f"Lịch ngày nghỉ, ngày làm bù đã khai báo: phiên bản {self.calendar_version}.")
        return tuple(lines)


def deadline_proof(received_at: datetime, clock: DeadlineClock) -> DeadlineProof:
    """Every day between the (deemed) receipt and the appointment, counted or skipped and why, and every pause.

    The day of receipt is not counted (Bộ luật Dân sự 2015, Điều 147); nor are the days while the clock stood.
    """
    calendar = clock.working_calendar()
    runs: list[tuple[datetime, datetime]] = []
    run_from = clock.started_at
    for pause in clock.pauses:
        runs.append((run_from, pause.stopped_at))
        if pause.restarted_at is None:
            break
        run_from = pause.restarted_at
    else:
        runs.append((run_from, clock.deadline))
    counted: list[date] = []
    skipped: list[CalendarDay] = []
    swapped: list[CalendarDay] = []
    for begin, end in runs:
        day, last = local_date(calendar.deemed_receipt(begin)), local_date(end)
        while day < last:
            day += timedelta(days=1)
            working = calendar.is_working_day(day)
            if working or clock.unit is DayCount.CALENDAR:
                counted.append(day)
            if not working:
                skipped.append(CalendarDay(day=day, reason=_day_off_reason(calendar, clock.calendar, day)))
            elif calendar.is_swapped_working_day(day):
                decision = clock.calendar.decision_on(day) if clock.calendar else None
                swapped.append(CalendarDay(day=day, reason=decision or _PACKAGE_SWAP_VI))
    return DeadlineProof(
        received_at=received_at, counted_from=calendar.deemed_receipt(clock.started_at), allowed=clock.allowed,
        unit=clock.unit, rule_set=clock.rule_set, calendar_version=clock.calendar.version if clock.calendar else 0,
        days_counted=tuple(counted), days_skipped=tuple(skipped), swapped_working_days=tuple(swapped),
        pauses=clock.pauses, deadline=clock.deadline,
    )


def _day_off_reason(calendar: WorkingCalendar, snapshot: CalendarSnapshot | None, day: date) -> str:
    declared = snapshot.decision_on(day) if snapshot else None
    if declared:
        return f"ngày nghỉ theo {declared}"
    return calendar.holiday_name(day) or _WEEKDAYS_VI[day.weekday()]


def _date_vi(day: date | None) -> str:
    return format_date(day) if day else "—"


def _moment_vi(at: datetime) -> str:
    return f"{at.astimezone(VN_TZ):%H giờ %M} ngày {format_date(at)}"


def _number_vi(value: Decimal) -> str:
    return f"{value.normalize():f}".replace(".", ",")
