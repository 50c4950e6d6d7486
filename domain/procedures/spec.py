"""The definition type of a procedure: what each procedure's module declares and the catalogue collects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, Generic, TypeVar

from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import Address, Refusal, SubmissionBase
from domain.procedures.plan import RecordPlan
from domain.rulesets import DeadlineCase

S = TypeVar("S", bound=SubmissionBase)


class Need(Enum):
    """Kinds of facts a procedure's rules read; ``activities.facts`` loads only these."""

    PLACE = "place"  # the residence at the place the dossier names (``ProcedureSpec.place``)
    CURRENT_PERMANENT = "current_permanent"  # the applicant's active permanent record's residence (registration)
    RECORDS = "records"  # the residence records of the person concerned (and of the applicant, if different)
    NAMED = "named"  # other people named in the details (``ProcedureSpec.named_ids``): the guests of a stay
    PROVINCIAL = "provincial"  # the place's provincial settings in force on the day of receipt (floor area)


def standard_case(submission: Any, facts: HouseholdFacts) -> DeadlineCase:
    return DeadlineCase.STANDARD


def no_notes(submission: Any, facts: HouseholdFacts) -> list[str]:
    return []


def no_place(submission: Any) -> Address | None:
    return None


def the_applicant(submission: Any) -> str:
    applicant_id: str = submission.applicant.personal_id
    return applicant_id


def nobody_named(submission: Any) -> list[str]:
    return []


def no_form_fields(submission: Any) -> dict[str, str]:
    return {}


def per_dossier(submission: Any) -> tuple[int, bool]:
    return 1, False


@dataclass(frozen=True)
class ProcedureSpec(Generic[S]):
    """One procedure's whole pure definition.

    ``plan`` is given the approved submission, the facts loaded in the commit's transaction and the day the commit
    is dated (Vietnamese calendar day); ``result_text`` the summary the plan recorded (CT08). ``form_fields`` are
    what the procedure's own result forms print from the submission (CT03's period, destination and reason).
    """

    procedure: Procedure
    vietnamese_name: str
    tthc_code: str
    legal_basis: str
    submission: type[S]
    officer_review: bool
    has_fee: bool
    results: tuple[DocumentKind, ...]
    needs: frozenset[Need]
    refusals: Callable[[S, HouseholdFacts], list[Refusal]]
    plan: Callable[[S, HouseholdFacts, date], RecordPlan]
    immediate: bool = False  # accepted at once in one activity: no officer, no fee (stay notification)
    deadline_case: Callable[[S, HouseholdFacts], DeadlineCase] = standard_case
    notes: Callable[[S, HouseholdFacts], list[str]] = no_notes  # findings that refuse nothing
    result_text: Callable[[dict[str, str]], str] | None = None
    place: Callable[[S], Address | None] = no_place  # the place the dossier is about
    subject_id: Callable[[S], str] = the_applicant  # the person the dossier concerns
    named_ids: Callable[[S], list[str]] = nobody_named
    form_fields: Callable[[S], dict[str, str]] = no_form_fields
    # (persons, by list) for ``rulesets.fee_for``: a registration by list pays per person listed.
    fee_basis: Callable[[S], tuple[int, bool]] = per_dossier
