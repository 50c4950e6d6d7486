"""Which of the task queue's waiting tasks go first under a backlog: Temporal's task priority (a key from 1, first,
to 5; 3 when none is given) from the working time left to a dossier's legal deadline, and the fairness keys that
share one priority level between police units and between establishments (docs/reliability.md, urgent work first).

Pure: the starter computes a dossier's key from its receipt and term, the workflow from its clock at each activity.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.calendar import calendar_of
from domain.deadlines import DeadlineClock, deadline_for
from domain.kinds import Procedure

URGENT = 1  # half a working day or less left, or overdue
SOON = 2  # a working day or less left
ORDINARY = 3  # the server's default: every dossier with more time than that
BULK = 4  # stay notifications, which have no legal term and come in floods
URGENT_LEFT = Decimal("0.5")
SOON_LEFT = Decimal(1)
# The server keeps fairness keys up to 64 bytes.
FAIRNESS_KEY_BYTES = 64


def priority_key(left: Decimal) -> int:
    """The key for a dossier with ``left`` (working) days to its deadline; negative when overdue."""
    if left <= URGENT_LEFT:
        return URGENT
    if left <= SOON_LEFT:
        return SOON
    return ORDINARY


def clock_priority(clock: DeadlineClock, at: datetime) -> int:
    """The key of a dossier whose clock is ``clock`` at ``at``; while the clock is stopped for a supplement, from
    the time it kept."""
    left = clock.remaining
    if left is None:
        left = clock.working_calendar().remaining_days(clock.deadline, at, clock.unit)
    return priority_key(left)


def submission_priority(procedure: Procedure, received_at: datetime, now: datetime, *, immediate: bool) -> int:
    """The key a dossier starts with: its standard term counted from its receipt (the package's calendar: the
    operators' declarations are read by the workflow), or BULK for a stay notification, accepted at once."""
    if immediate:
        return BULK
    allowed = deadline_for(procedure, received_at)
    calendar = calendar_of(None)
    deadline = calendar.deadline(received_at, allowed.days, allowed.unit)
    return priority_key(calendar.remaining_days(deadline, now, allowed.unit))


def fairness_key(*parts: str) -> str:
    """A fairness key from a police unit, or a unit and an establishment: within the server's bound."""
    return "/".join(parts).encode()[:FAIRNESS_KEY_BYTES].decode(errors="ignore")
