"""Working-day calendar (lịch ngày làm việc) for the deadlines of the residence procedures.

Pure and deterministic: public holidays are computed once, at import, for ``FIRST_YEAR``–``LAST_YEAR``, so no
call reads a file, a clock or a random source, and the module is safe inside a Temporal workflow.
Every datetime passed in must be timezone-aware; results are in UTC; the rules below apply in Vietnamese local
time (UTC+7).

Rules
-----
1. **Working day (ngày làm việc).** Monday–Friday (and Saturday when ``CalendarConfig.saturday_counts``) that is
   not a public holiday (ngày nghỉ lễ, tết) and not an operator's extra day off. A swapped working day (ngày
   làm bù) is a working day even on a weekend or on a package-listed holiday, so an operator can also correct
   the package's estimate of the Tết days; an extra day off always wins.
2. **Sessions (buổi làm việc).** Each working day has a morning and an afternoon session
   (``office_morning``, ``office_afternoon``; each includes its opening and excludes its close). An instant in
   a session belongs to it; any other instant (lunch break, evening, day off) is deemed to be at the opening of
   the next session: a dossier received outside office hours counts as received at the next opening.
3. **Working-day deadline** of N days (N a multiple of ½): count 2N sessions after the session of receipt;
   the deadline is the close of the last one. A whole number of days always ends at the close of a working day
   (17:00 by default), because the day of receipt is not counted and a period in days ends with its last day
   (Bộ luật Dân sự 2015, Điều 147 khoản 2, Điều 148 khoản 1). The close of office hours, not midnight, ends the
   day because the result must be handed over while the office is open. Examples (all local time):

   * Monday 09:00 or Monday 15:00 + 7 days → Wednesday of the following week, 17:00 (Tuesday is day 1);
   * Monday 09:00 + ½ day → Monday 17:00; Monday 15:00 + ½ day → Tuesday 11:30 (received in the morning,
     returned in the afternoon; received in the afternoon, returned the next morning);
   * from a morning receipt 1 day and 1½ days both end at the next working day's close;
   * 0 days → due at receipt (stay notifications are accepted immediately).

4. **Calendar-day deadline** of N days (e.g. 30 days to verify a residence declaration): the close of office
   hours on the Nth calendar day after the day of (deemed) receipt, moved to the next working day when that day
   is not one (Bộ luật Dân sự 2015, Điều 148 khoản 5).
5. **Operators' declarations** (``CalendarSnapshot``): a day off or a swapped working day that the ``holidays``
   package does not know is declared by an operator with the decision that made it (``cutru calendar declare``,
   docs/rules.md). A dossier's clock is computed under the snapshot of declarations read when its deadline is
   computed (at receipt, and again at each restart after a supplement): the snapshot is an activity's result, so
   every replay computes the same deadline, and a later declaration applies from the dossier's next computation.
6. **Stopping the clock** (a supplement request CT05 stops it; the complete dossier restarts it):
   ``remaining_days(deadline, stopped_at)`` is the number of sessions after the session of the stop up to the
   deadline's last session, in days, and ``resume_deadline(restarted_at, remaining)`` counts as many sessions
   after the session of the restart. Partial sessions are not counted, a stop and restart at the same instant
   leave the deadline unchanged, and a clock stopped after its deadline stays overdue by the same amount.
   Calendar-day deadlines do the same in whole calendar days. (Restarting with ``deadline(restarted_at,
   remaining)`` instead would skip the rest of the restart day and round to a day's end: up to a day's drift
   per stop.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum
from functools import lru_cache
from typing import Literal, cast

import holidays
from holidays.countries.vietnam import VietnamStaticHolidays
from pydantic import BaseModel, model_validator

# Vietnam has kept UTC+7 without daylight saving since 1975: a fixed offset is exact and needs no tz database.
VN_TZ = timezone(timedelta(hours=7), "ICT")

FIRST_YEAR = 2020
LAST_YEAR = 2060

_CULTURE_DAY_NAME = "Ngày Văn hóa Việt Nam"
_SUBSTITUTE_SUFFIX = " (nghỉ bù)"
_EXTRA_DAY_OFF_NAME = "Ngày nghỉ bổ sung (extra day off)"


class DayCount(StrEnum):
    """Unit of a deadline."""

    WORKING = "working"  # ngày làm việc
    CALENDAR = "calendar"  # ngày (theo dương lịch)


class _Session(IntEnum):
    MORNING = 0  # buổi sáng
    AFTERNOON = 1  # buổi chiều


_Slot = tuple[date, _Session]


def _package_holidays() -> dict[date, str]:
    """Public holidays of Bộ luật Lao động 2019 Điều 112 as the ``holidays`` package (country VN) gives them.

    The package already applies Điều 111 (a holiday on a Saturday or Sunday moves to the next working day, named
    "… (nghỉ bù)"), the National Day adjacent day (1 or 3 September) since 2021, Tết as five working days
    around the lunar new year, and the Prime Minister's published swaps (e.g. 31 August 2026 off for Saturday
    22 August 2026). Vietnamese Culture Day is left out here because its start date is configuration
    (``CalendarConfig.culture_day_from``); the package would add it for all of 2026.
    The language is explicit so the names never depend on the process locale.
    """
    table = holidays.VN(years=range(FIRST_YEAR, LAST_YEAR + 1), language="vi")
    return {day: name for day, name in table.items() if not name.startswith(_CULTURE_DAY_NAME)}


def _package_swapped_working_days() -> frozenset[date]:
    """Weekend days worked in exchange for a day off (ngày làm bù).

    The package lists each swap as (month, day off, month, day worked[, year worked]) but only adds the day
    off; without the worked day a deadline spanning the swap would end one day late.
    """
    worked: set[date] = set()
    for year, entries in VietnamStaticHolidays.special_public_holidays.items():
        for entry in entries if isinstance(entries[0], tuple) else (entries,):
            # The package leaves the table unannotated; every Vietnamese entry is a tuple of ints.
            _, _, month, day, *worked_year = cast(tuple[int, ...], entry)
            worked.add(date(worked_year[0] if worked_year else year, month, day))
    return frozenset(worked)


_PACKAGE_HOLIDAYS = _package_holidays()
_PACKAGE_SWAPPED_WORKING_DAYS = _package_swapped_working_days()


class CalendarConfig(BaseModel, frozen=True):
    """Operator configuration of the working-day calendar; local dates and times (UTC+7)."""

    # UNCONFIRMED: offices receive on Saturday morning, but whether Saturday counts toward deadlines is not settled.
    # When it counts, a Saturday is a whole working day with the weekday sessions.
    saturday_counts: bool = False
    # Days off the package does not know: Tết beyond the statutory five days, one-off decisions of the Prime Minister.
    extra_days_off: tuple[date, ...] = ()
    # Weekend (or package-estimated holiday) days declared working days by a Prime-Minister swap.
    swapped_working_days: tuple[date, ...] = ()
    # UNCONFIRMED: 24 November, Vietnamese Culture Day, reported as a public holiday from 2026-07-01; None disables it.
    culture_day_from: date | None = date(2026, 7, 1)
    office_morning: tuple[time, time] = (time(7, 30), time(11, 30))
    office_afternoon: tuple[time, time] = (time(13, 30), time(17, 0))

    @model_validator(mode="after")
    def _consistent(self) -> CalendarConfig:
        (morning_open, morning_close), (afternoon_open, afternoon_close) = self.office_morning, self.office_afternoon
        if not morning_open < morning_close <= afternoon_open < afternoon_close:
            raise ValueError("office hours must be a morning session followed by an afternoon session")
        if both := set(self.extra_days_off) & set(self.swapped_working_days):
            raise ValueError(f"dates both off and swapped to working days: {sorted(both)}")
        return self


class CalendarDeclaration(BaseModel, frozen=True):
    """An operator's calendar exception: a day off (ngày nghỉ) or a swapped working day (ngày làm bù)."""

    day: date
    kind: Literal["day_off", "working_day"]
    decision: str  # the decision that made it, e.g. "Thông báo 6150/TB-BLĐTBXH ngày 08/11/2024"


class CalendarSnapshot(BaseModel, frozen=True):
    """The operators' declarations in force at one moment; ``version`` is the last declaration counted (0: none).

    One declaration per day: a later declaration of the same day replaces an earlier one.
    """

    version: int = 0
    declarations: tuple[CalendarDeclaration, ...] = ()

    def config(self) -> CalendarConfig:
        return CalendarConfig(
            extra_days_off=tuple(d.day for d in self.declarations if d.kind == "day_off"),
            swapped_working_days=tuple(d.day for d in self.declarations if d.kind == "working_day"),
        )

    def decision_on(self, day: date) -> str | None:
        return next((d.decision for d in self.declarations if d.day == day), None)


@lru_cache(maxsize=64)
def calendar_of(snapshot: CalendarSnapshot | None) -> WorkingCalendar:
    """The working-day calendar under an operators' snapshot (None: no declaration, as before they existed).

    Cached because a calendar computes forty years of holidays and a snapshot changes rarely."""
    return WorkingCalendar(snapshot.config() if snapshot else None)


def _local(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"timezone-aware datetime required, got {at!r}")
    return at.astimezone(VN_TZ)


def _signed_half_days(days: Decimal | float | int) -> int:
    # Floats go through str() so that 0.5 is exactly one half and 0.1 is rejected rather than rounded.
    doubled = (Decimal(str(days)) if isinstance(days, float) else Decimal(days)) * 2
    if doubled != doubled.to_integral_value():
        raise ValueError(f"a day amount must be a multiple of 0.5, got {days}")
    return int(doubled)


def _half_days(days: Decimal | float | int) -> int:
    half_days = _signed_half_days(days)
    if half_days < 0:
        raise ValueError(f"a deadline must not be negative, got {days}")
    return half_days


def local_date(at: datetime) -> date:
    """The Vietnamese calendar date of an aware instant: the day a dossier was received, for ``rules_for``."""
    return _local(at).date()


def format_date(value: date | datetime) -> str:
    """dd/mm/yyyy, as the forms and the refusals print a date; a datetime is shown in Vietnam time."""
    if isinstance(value, datetime):
        value = value.astimezone(VN_TZ)
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


class WorkingCalendar:
    """Working days, public holidays and deadlines under one ``CalendarConfig`` (see the module rules)."""

    def __init__(self, config: CalendarConfig | None = None) -> None:
        self.config = config or CalendarConfig()
        self._extra_days_off = frozenset(self.config.extra_days_off)
        self._swapped = frozenset(self.config.swapped_working_days) | _PACKAGE_SWAPPED_WORKING_DAYS
        self._holidays = _PACKAGE_HOLIDAYS | self._culture_days()
        self._sessions = {
            _Session.MORNING: self.config.office_morning,
            _Session.AFTERNOON: self.config.office_afternoon,
        }

    def _culture_days(self) -> dict[date, str]:
        start = self.config.culture_day_from
        if start is None:
            return {}
        days: dict[date, str] = {}
        for year in range(max(start.year, FIRST_YEAR), LAST_YEAR + 1):
            day = date(year, 11, 24)
            if day < start:
                continue
            days[day] = _CULTURE_DAY_NAME
            if day.weekday() >= 5:
                # Bộ luật Lao động Điều 111: a holiday on the weekly rest day is taken on the next working day.
                substitute = day + timedelta(days=7 - day.weekday())
                while substitute in _PACKAGE_HOLIDAYS:
                    substitute += timedelta(days=1)
                days[substitute] = _CULTURE_DAY_NAME + _SUBSTITUTE_SUFFIX
        return days

    # Days

    def is_working_day(self, d: date) -> bool:
        if not FIRST_YEAR <= d.year <= LAST_YEAR:
            raise ValueError(f"the working-day calendar covers {FIRST_YEAR}–{LAST_YEAR}, not {d}")
        if d in self._extra_days_off:
            return False
        if d in self._swapped:
            return True
        if d in self._holidays:
            return False
        return d.weekday() < 5 or (d.weekday() == 5 and self.config.saturday_counts)

    def is_swapped_working_day(self, d: date) -> bool:
        """A working day only by a swap (ngày làm bù): a weekend day or a holiday worked in exchange."""
        return d in self._swapped and d not in self._extra_days_off

    def holiday_name(self, d: date) -> str | None:
        """Vietnamese name of the public holiday or operator day off on ``d``; None on a working or rest day."""
        if d in self._extra_days_off:
            return _EXTRA_DAY_OFF_NAME
        if d in self._swapped:
            return None
        return self._holidays.get(d)

    def next_working_day(self, d: date) -> date:
        """First working day strictly after ``d``."""
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def previous_working_day(self, d: date) -> date:
        """Last working day strictly before ``d``."""
        d -= timedelta(days=1)
        while not self.is_working_day(d):
            d -= timedelta(days=1)
        return d

    # Sessions

    def _slot_at_or_after(self, at: datetime) -> _Slot:
        local = _local(at)
        day, moment = local.date(), local.time()
        if self.is_working_day(day):
            for session in _Session:
                if moment < self._sessions[session][1]:
                    return day, session
        return self.next_working_day(day), _Session.MORNING

    def _slot_before(self, at: datetime) -> _Slot:
        """The latest session opened before ``at`` (for a session's close: that session)."""
        local = _local(at)
        day, moment = local.date(), local.time()
        if self.is_working_day(day):
            for session in reversed(_Session):
                if moment > self._sessions[session][0]:
                    return day, session
        return self.previous_working_day(day), _Session.AFTERNOON

    def _shift(self, slot: _Slot, sessions: int) -> _Slot:
        day, position = slot[0], slot[1] + sessions
        while position > _Session.AFTERNOON:
            day, position = self.next_working_day(day), position - 2
        while position < _Session.MORNING:
            day, position = self.previous_working_day(day), position + 2
        return day, _Session(position)

    def _distance(self, start: _Slot, end: _Slot) -> int:
        """Number of sessions from ``start`` to ``end`` (negative when ``end`` is earlier)."""
        if end < start:
            return -self._distance(end, start)
        sessions, day = end[1] - start[1], start[0]
        while day < end[0]:
            day, sessions = self.next_working_day(day), sessions + 2
        return sessions

    def _close(self, slot: _Slot) -> datetime:
        return datetime.combine(slot[0], self._sessions[slot[1]][1], VN_TZ).astimezone(UTC)

    def _close_of_working_day_from(self, day: date) -> datetime:
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return self._close((day, _Session.AFTERNOON))

    def deemed_receipt(self, at: datetime) -> datetime:
        """``at`` itself during office hours, else the next opening (rule 2)."""
        day, session = self._slot_at_or_after(at)
        opening = datetime.combine(day, self._sessions[session][0], VN_TZ)
        return max(at, opening).astimezone(UTC)

    # Deadlines

    def add_working_days(self, start: datetime, days: Decimal | float | int) -> datetime:
        """Deadline of ``days`` working days for a dossier received at ``start`` (rule 3)."""
        half_days = _half_days(days)
        if half_days == 0:
            return start.astimezone(UTC)
        day, session = self._shift(self._slot_at_or_after(start), half_days)
        if half_days % 2 == 0:
            session = _Session.AFTERNOON
        return self._close((day, session))

    def add_calendar_days(self, start: datetime, days: int) -> datetime:
        """Deadline of ``days`` calendar days for a dossier received at ``start`` (rule 4)."""
        if days < 0:
            raise ValueError(f"a calendar-day amount must not be negative, got {days}")
        return self._close_of_working_day_from(self._slot_at_or_after(start)[0] + timedelta(days=days))

    def working_days_between(self, a: datetime, b: datetime) -> Decimal:
        """Working time from ``a`` to ``b`` in days, counted in whole sessions (half days).

        The sessions counted run from the one ``a`` falls in (or the next, outside office hours) up to, not
        including, the one ``b`` falls in; negative when ``b`` is earlier. Monday 09:00 → Monday 17:30 is 1,
        Monday 11:00 → Monday 14:00 is 0.5, Monday 09:00 → Monday 11:00 is 0.
        """
        return Decimal(self._distance(self._slot_at_or_after(a), self._slot_at_or_after(b))) / 2

    def deadline(self, start: datetime, days: Decimal | float | int, unit: DayCount = DayCount.WORKING) -> datetime:
        """Deadline of ``days`` in ``unit`` for a dossier received at ``start`` (rules 3 and 4)."""
        if unit is DayCount.WORKING:
            return self.add_working_days(start, days)
        half_days = _half_days(days)
        if half_days % 2:
            raise ValueError(f"a calendar-day deadline is a whole number of days, got {days}")
        return self.add_calendar_days(start, half_days // 2)

    # Stopping the clock (rule 6)

    def remaining_days(self, deadline: datetime, at: datetime, unit: DayCount = DayCount.WORKING) -> Decimal:
        """Time left at ``at`` before ``deadline``, in ``unit``; negative when overdue.

        Call it when the clock stops (CT05 issued) and keep the result for ``resume_deadline``.
        """
        if unit is DayCount.WORKING:
            return Decimal(self._distance(self._slot_at_or_after(at), self._slot_before(deadline))) / 2
        return Decimal((_local(deadline).date() - self._slot_at_or_after(at)[0]).days)

    def resume_deadline(self, at: datetime, remaining: Decimal, unit: DayCount = DayCount.WORKING) -> datetime:
        """New deadline when the clock restarts at ``at`` with ``remaining`` from ``remaining_days``.

        Unlike ``deadline`` this neither skips the rest of the day of restart nor rounds to the end of a day:
        the time left continues exactly, so a stop and restart at the same instant change nothing.
        """
        slot = self._slot_at_or_after(at)
        if unit is DayCount.WORKING:
            return self._close(self._shift(slot, _signed_half_days(remaining)))
        return self._close_of_working_day_from(slot[0] + timedelta(days=int(remaining)))
