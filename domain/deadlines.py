"""The legal deadline clock of a dossier.

It starts when a complete dossier is received, stops while a supplement (CT05) is awaited and restarts, with the
time that was left, when the dossier is complete again. Pure and deterministic: the workflow keeps it as state.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.calendar import DayCount, WorkingCalendar
from domain.kinds import Procedure
from domain.models import Boundary
from domain.rulesets import Deadline, DeadlineCase, rules_for

CALENDAR = WorkingCalendar()


def deadline_for(procedure: Procedure, received_at: datetime, case: DeadlineCase = DeadlineCase.STANDARD) -> Deadline:
    """The time allowed, by the rule set in force on the (Vietnamese) day the dossier was received."""
    return rules_for(received_at).procedures[procedure].deadline(case)


class DeadlineClock(Boundary):
    started_at: datetime
    deadline: datetime
    unit: DayCount
    remaining: Decimal | None = None  # set while the clock is stopped

    @classmethod
    def start(cls, at: datetime, allowed: Deadline) -> DeadlineClock:
        return cls(started_at=at, deadline=CALENDAR.deadline(at, allowed.days, allowed.unit), unit=allowed.unit)

    def pause(self, at: datetime) -> DeadlineClock:
        return self.model_copy(update={"remaining": CALENDAR.remaining_days(self.deadline, at, self.unit)})

    def resume(self, at: datetime) -> DeadlineClock:
        assert self.remaining is not None, "resume follows pause"
        deadline = CALENDAR.resume_deadline(at, self.remaining, self.unit)
        return self.model_copy(update={"deadline": deadline, "remaining": None})

    def reminder_at(self, fraction_left: float) -> datetime:
        """When only ``fraction_left`` of the time remains."""
        return self.started_at + (self.deadline - self.started_at) * (1 - fraction_left)
