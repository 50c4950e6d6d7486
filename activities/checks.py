"""Checks of the messages a dossier receives that the workflow cannot make from its own state, as activities: their
answers are recorded in the history, so a replay (an auditor's, without the worker's keys or database) takes the
same turn as the dossier did.

- ``verify_envelope``: the ``officer_decision`` signal's signed envelope (``domain.envelopes``), with the worker's
  decision keys. (The ``decide`` and ``reassign`` validators verify in the workflow itself: validators do not run
  on replay.)
- ``check_filing``: the dossier a ``citizen_filed`` signal names is in the read model, is the same deletion and
  was filed by the notified person, not made up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.envelopes import MAX_AGE, signature_problem
from domain.kinds import Procedure
from domain.models import Boundary, DossierCode, OfficerDecision, PersonalId

if TYPE_CHECKING:
    import asyncpg

# The error type while the named filing is not (yet) in the read model: its workflow may not have written its row.
FILING_NOT_FOUND = "FilingNotFound"
# Statuses of a dossier that cannot stand for the person's own filing: another police notice, or one that ended
# without a deletion.
_NOT_A_FILING = ("awaiting_filing", "refused", "withdrawn", "cancelled")


class EnvelopeCheck(Boundary):
    dossier_code: DossierCode
    decision: OfficerDecision
    now: datetime  # the workflow's time when the signal arrived


class Verdict(Boundary):
    problem: str | None = None


class FilingCheck(Boundary):
    notice_code: DossierCode
    filing_code: DossierCode
    procedure: Procedure
    applicant_id: PersonalId  # the notified person: the notice dossier's applicant


class MessageChecks:
    def __init__(self, pool: asyncpg.Pool, decision_keys: Mapping[str, bytes]) -> None:
        self._pool = pool
        self._keys = decision_keys

    @activity.defn
    async def verify_envelope(self, check: EnvelopeCheck) -> Verdict:
        return Verdict(problem=signature_problem(check.decision, dossier_code=check.dossier_code, now=check.now,
                                                 keys=self._keys, max_age=MAX_AGE))

    @activity.defn
    async def check_filing(self, check: FilingCheck) -> Verdict:
        if check.filing_code == check.notice_code:
            return Verdict(problem=f"{check.filing_code} is the police notice's own dossier, not a filing")
        row = await self._pool.fetchrow("SELECT procedure, applicant_id, status FROM dossiers WHERE dossier_code = $1",
                                        check.filing_code)
        if row is None:
            # Retried by the workflow for a few seconds: a filing just submitted may not have written its row yet.
            raise ApplicationError(f"no dossier {check.filing_code} in the read model", type=FILING_NOT_FOUND)
        return Verdict(problem=_filing_problem(check, row))


def _filing_problem(check: FilingCheck, row: Any) -> str | None:
    if row["procedure"] != check.procedure.value:
        return f"dossier {check.filing_code} is a {row['procedure']}, not a {check.procedure.value}"
    if row["applicant_id"] != check.applicant_id:
        return f"dossier {check.filing_code} was not filed by the person the notice names"
    if row["status"] in _NOT_A_FILING:
        return f"dossier {check.filing_code} is {row['status']}: it does not stand for the person's filing"
    return None


def check_activities(instance: MessageChecks) -> list[Any]:
    return [instance.verify_envelope, instance.check_filing]
