"""The legal deadline clock of a dossier, in working days.

It starts when a complete dossier is received, stops while a supplement (CT05) is awaited and restarts, with the
time that was left, when the dossier is complete again. Pure and deterministic: the workflow keeps it as state.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.calendar import WorkingCalendar
from domain.models import Boundary
from domain.procedures import Procedure
from domain.rulesets import rules_for

CALENDAR = WorkingCalendar()


def deadline_for(procedure: Procedure, received_at: datetime) -> Decimal:
    """Working days allowed, by the rule set in force on the day the dossier was received."""
    return rules_for(received_at.date()).procedures[procedure].deadline_working_days


class DeadlineClock(Boundary):
    started_at: datetime
    deadline: datetime
    days: Decimal
    paused_at: datetime | None = None

    @classmethod
    def start(cls, at: datetime, days: Decimal) -> DeadlineClock:
        return cls(started_at=at, deadline=CALENDAR.add_working_days(at, days), days=days)

    def pause(self, at: datetime) -> DeadlineClock:
        used = CALENDAR.working_days_between(self.started_at, at)
        return self.model_copy(update={"paused_at": at, "days": max(self.days - used, Decimal(0))})

    def resume(self, at: datetime) -> DeadlineClock:
        return DeadlineClock.start(at, self.days)

    def reminder_at(self, fraction_left: float) -> datetime:
        """When only ``fraction_left`` of the time remains."""
        return self.started_at + (self.deadline - self.started_at) * (1 - fraction_left)
