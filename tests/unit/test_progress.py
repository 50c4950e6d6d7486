"""The lifecycle's one way to add to the decision trail (``DossierProgress.record``), without a server."""

from __future__ import annotations

from datetime import UTC, datetime

from activities.contracts import CLOSING_KEY
from domain.kinds import Procedure
from domain.models import DossierState, TrailAction
from workflows.progress import DossierProgress

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_every_entry_is_kept_for_the_audit_table_in_order_with_its_own_key() -> None:
    progress = DossierProgress(code="HS-1", procedure=Procedure.PERMANENT_RESIDENCE_REGISTRATION)
    progress.record(AT, "citizen", TrailAction.RECEIVED)
    progress.record(AT, "system", TrailAction.ACCEPTED, "appointment")
    assert [r.event_key for r in progress.take_unwritten()] == ["0000-received", "0001-accepted"]
    assert progress.unwritten == []  # taken once: the next write carries only what came after
    progress.record(AT, "CB-00070-01", TrailAction.SUPPLEMENT_REQUESTED, state=DossierState.AWAITING_SUPPLEMENT)
    progress.record(AT, "system", TrailAction.COMPLETED, state=DossierState.COMPLETED)
    written = progress.take_unwritten()
    assert [(r.event_key, r.state) for r in written] == [
        ("0002-supplement_requested", DossierState.AWAITING_SUPPLEMENT), (CLOSING_KEY, DossierState.COMPLETED)]
    assert [e.action for e in progress.trail] == [TrailAction.RECEIVED, TrailAction.ACCEPTED,
                                                   TrailAction.SUPPLEMENT_REQUESTED, TrailAction.COMPLETED]
    assert progress.status().trail == tuple(progress.trail)


def test_an_entry_the_deciding_activity_wrote_itself_is_only_kept_in_the_trail() -> None:
    progress = DossierProgress(code="HS-2", procedure=Procedure.STAY_NOTIFICATION)
    progress.record(AT, "citizen", TrailAction.RECEIVED)
    progress.take_unwritten()
    progress.record(AT, "system", TrailAction.REFUSED, "not in the population database", written=True)
    assert progress.unwritten == [] and progress.trail[-1].action == TrailAction.REFUSED


def test_only_a_final_state_closes_the_trail() -> None:
    assert {TrailAction.closing(s) for s in DossierState if s.final} == {a for a in TrailAction if a.closes}


def _keys_of_a_task(refused_before: int) -> list[str]:
    """The keys a workflow task writes when ``refused_before`` refused messages are handled before its own steps."""
    progress = DossierProgress(code="HS-3", procedure=Procedure.HOUSEHOLD_SEPARATION, message_keys=True)
    progress.record(AT, "citizen", TrailAction.RECEIVED)
    progress.record(AT, "system", TrailAction.ACCEPTED, "appointment")
    for _ in range(refused_before):
        progress.record(AT, "signal", TrailAction.DECISION_REFUSED, "malformed", message=True)
    progress.record(AT, "CB-00070-01", TrailAction.APPROVED)
    return [r.event_key for r in progress.take_unwritten()]


def test_refused_messages_are_keyed_apart_so_a_retried_task_writes_each_entry_once() -> None:
    # A worker killed after its local step wrote the first attempt's entries; the retried task also handles the
    # message that arrived meanwhile, first. The approval keeps its key, so the audit table holds it once.
    first, retried = _keys_of_a_task(refused_before=1), _keys_of_a_task(refused_before=2)
    assert first == ["0000-received", "0001-accepted", "m00000-decision_refused", "0002-approved"]
    assert retried == ["0000-received", "0001-accepted", "m00000-decision_refused", "m00001-decision_refused",
                       "0002-approved"]
    assert len(set(first) | set(retried)) == len(retried)


def test_histories_from_before_message_keys_keep_their_position_keys() -> None:
    progress = DossierProgress(code="HS-4", procedure=Procedure.HOUSEHOLD_SEPARATION)
    progress.record(AT, "signal", TrailAction.DECISION_REFUSED, "malformed", message=True)
    progress.record(AT, "CB-00070-01", TrailAction.APPROVED)
    assert [r.event_key for r in progress.take_unwritten()] == ["0000-decision_refused", "0001-approved"]
