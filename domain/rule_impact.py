"""Rule-change impact: how a candidate rule set would judge a dossier, compared with how it is judged now.

Pure: given a dossier's submission and the facts loaded for it, ``judge`` says its deadline, fee, result
documents' validity and outcome under one rule set, and ``compare`` lists what differs. ``cutru rules impact``
(``cutru.clients.rules``) runs it over every open dossier before a new rule set takes effect.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain.calendar import DayCount, local_date
from domain.deadlines import DeadlineClock, deadline_for
from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import Boundary
from domain.procedures.catalogue import spec_for
from domain.rulesets import RuleSet, fee_for, judged_by, rules_for


class Judgement(Boundary):
    """What one rule set makes of a dossier."""

    rule_set: date
    deadline: str  # "7 working days" / "30 calendar days"
    appointment: datetime  # from the receipt, without pauses
    fee_vnd: int
    documents: str  # the result documents, with the CT07's validity when the procedure issues one
    outcome: str  # "accepted" or the refusal codes


class Change(Boundary):
    aspect: str  # deadline, fee, documents or outcome
    before: str
    after: str


class Impact(Boundary):
    dossier_code: str
    procedure: Procedure
    received_at: datetime
    changes: tuple[Change, ...]


def judge(submission: Any, facts: HouseholdFacts, candidate: RuleSet | None = None) -> Judgement:
    """The dossier under ``candidate`` (None: the rule set in force on its day of receipt)."""
    if candidate is not None:
        with judged_by(candidate):
            return judge(submission, facts)
    spec = spec_for(submission)
    received = submission.received_at
    allowed = deadline_for(spec.procedure, received, spec.deadline_case(submission, facts))
    unit = "working days" if allowed.unit is DayCount.WORKING else "calendar days"
    refusals = [refusal.code for refusal in spec.refusals(submission, facts)]
    # As the lifecycle charges it; an exemption is the applicant's, the same under every rule set.
    fee = fee_for(spec.procedure, submission.channel, received, *spec.fee_basis(submission))
    documents = ", ".join(kind.value for kind in spec.results)
    if DocumentKind.CT07 in spec.results:
        documents += f" (CT07 valid until {rules_for(received).ct07.valid_until(local_date(received)).isoformat()})"
    return Judgement(rule_set=rules_for(received).effective_from, deadline=f"{allowed.days.normalize():f} {unit}",
                     appointment=DeadlineClock.start(received, allowed).deadline, fee_vnd=fee, documents=documents,
                     outcome=", ".join(refusals) or "accepted")


def compare(submission: Any, now: Judgement, then: Judgement) -> Impact | None:
    """What the candidate changes for this dossier; None when nothing that matters to the citizen does."""
    changes = [Change(aspect=aspect, before=str(before), after=str(after)) for aspect, before, after in (
        ("deadline", f"{now.deadline}, due {now.appointment.isoformat()}",
         f"{then.deadline}, due {then.appointment.isoformat()}"),
        ("fee", now.fee_vnd, then.fee_vnd),
        ("documents", now.documents, then.documents),
        ("outcome", now.outcome, then.outcome),
    ) if before != after]
    if not changes:
        return None
    return Impact(dossier_code=submission.dossier_code, procedure=submission.procedure,
                  received_at=submission.received_at, changes=tuple(changes))
