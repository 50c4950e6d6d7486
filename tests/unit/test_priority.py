"""Task priority from the working time left to a dossier's legal deadline (``domain.priority``), and the keys the
starter gives dossiers and stay registers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from domain.calendar import calendar_of
from domain.deadlines import DeadlineClock, deadline_for
from domain.kinds import Procedure
from domain.priority import (
    BULK,
    ORDINARY,
    SOON,
    URGENT,
    clock_priority,
    fairness_key,
    priority_key,
    submission_priority,
)
from workflows.lifecycle import start_priority
from workflows.stay_register import StayRegisterKey, register_priority

VN = timezone(timedelta(hours=7))
# A Monday morning; the seven working days of a permanent registration then end on Wednesday 16 December, 17:00.
RECEIVED = datetime(2026, 12, 7, 8, 0, tzinfo=VN)


@pytest.mark.parametrize(("left", "key"), [
    (Decimal(5), ORDINARY), (Decimal("1.5"), ORDINARY), (Decimal(1), SOON), (Decimal("0.5"), URGENT),
    (Decimal(0), URGENT), (Decimal(-3), URGENT),
])
def test_the_key_rises_as_the_working_time_left_runs_out(left: Decimal, key: int) -> None:
    assert priority_key(left) == key


@pytest.mark.parametrize(("at", "key"), [
    (RECEIVED, ORDINARY),
    (datetime(2026, 12, 15, 7, 0, tzinfo=VN), ORDINARY),  # a day and a half left
    (datetime(2026, 12, 15, 14, 0, tzinfo=VN), SOON),  # Tuesday afternoon: Wednesday is left
    (datetime(2026, 12, 16, 14, 0, tzinfo=VN), URGENT),  # the last afternoon
    (datetime(2026, 12, 18, 9, 0, tzinfo=VN), URGENT),  # overdue
])
def test_a_dossier_starts_with_the_key_of_its_deadline(at: datetime, key: int) -> None:
    procedure = Procedure.PERMANENT_RESIDENCE_REGISTRATION
    assert submission_priority(procedure, RECEIVED, at, immediate=False) == key


def test_short_terms_start_urgent_and_stay_notifications_wait() -> None:
    assert submission_priority(Procedure.RESIDENCE_CONFIRMATION, RECEIVED, RECEIVED, immediate=False) == URGENT
    assert submission_priority(Procedure.STAY_NOTIFICATION, RECEIVED, RECEIVED, immediate=True) == BULK


def test_the_workflow_reads_the_key_from_its_clock_and_a_stopped_clock_keeps_its_time() -> None:
    allowed = deadline_for(Procedure.PERMANENT_RESIDENCE_REGISTRATION, RECEIVED)
    clock = DeadlineClock.start(RECEIVED, allowed)
    assert clock_priority(clock, datetime(2026, 12, 16, 14, 0, tzinfo=VN)) == URGENT
    # Stopped for a supplement with seven days left: however long the citizen takes, it is ordinary work.
    stopped = clock.pause(RECEIVED)
    assert clock_priority(stopped, RECEIVED + timedelta(days=40)) == ORDINARY
    # The same clock the starter counted with gives the starter's key.
    assert clock.deadline == calendar_of(None).deadline(RECEIVED, allowed.days, allowed.unit)


def test_fairness_keys_stay_within_the_servers_bound() -> None:
    assert fairness_key("CA-00070") == "CA-00070"
    assert fairness_key("CA-00070", "21174596fd9a") == "CA-00070/21174596fd9a"
    assert len(fairness_key("Đ" * 100).encode()) <= 64


def test_starters_give_dossiers_their_unit_and_registers_their_establishment() -> None:
    filed = SimpleNamespace(procedure=Procedure.RESIDENCE_CONFIRMATION, received_at=RECEIVED, police_unit="CA-00070")
    priority = start_priority(filed, RECEIVED)
    assert (priority.priority_key, priority.fairness_key) == (URGENT, "CA-00070")
    key = StayRegisterKey(register_id="LT-CA-00070-21174596fd9a-20261207", police_unit="CA-00070",
                          day=RECEIVED.date(), closes_at=RECEIVED + timedelta(days=1))
    priority = register_priority(key)
    assert (priority.priority_key, priority.fairness_key) == (BULK, "CA-00070-21174596fd9a")
