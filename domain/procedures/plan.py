"""The record changes a procedure's commit makes, as plain data: a ``RecordPlan`` of steps.

A procedure's module turns the approved submission and the facts loaded at commit time into a plan;
``activities.records`` applies any plan, step by step, in the dossier's one commit transaction. A step that
creates a row can name an ``output``: its value (a new id, whether a row changed) goes into the commit's summary
under that name, and later steps can refer to it with ``Ref``. The summary is what the result documents print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from domain.models import Address
from domain.rulesets import Ct07Rules

RecordKind = Literal["permanent", "temporary"]


@dataclass(frozen=True)
class Ref:
    """The output of an earlier step of the same plan (e.g. the id of a household it created)."""

    output: str


@dataclass(frozen=True)
class EndRecord:
    """The person's active record of this kind, if any, ends (a move): its id is the output, "" when none."""

    kind: RecordKind
    personal_id: str
    on: date | None  # None: the database's date, as permanent registrations have always been dated
    output: str


@dataclass(frozen=True)
class StartRecord:
    kind: RecordKind
    personal_id: str
    residence_id: int
    valid_from: date | None  # None: the database's date
    valid_to: date | None
    output: str


@dataclass(frozen=True)
class DeleteRecord:
    """A record closed as deleted (xóa đăng ký), and why (``residence_deletions``); output "true" if it was active."""

    kind: RecordKind
    record_id: int
    personal_id: str
    case: str
    event_date: date
    ex_officio: bool
    filed_late: bool
    on: date
    output: str


@dataclass(frozen=True)
class ExtendTerm:
    record_id: int
    previous_valid_to: date | None
    new_valid_to: date


@dataclass(frozen=True)
class CreateHousehold:
    residence_id: int
    head_id: str
    output: str


@dataclass(frozen=True)
class JoinHousehold:
    """The person becomes a member of the household (leaving any other)."""

    personal_id: str
    household: int | Ref
    relation: str


@dataclass(frozen=True)
class MoveMember:
    """A member moves from one household to another (separation)."""

    personal_id: str
    from_household: int
    to_household: int | Ref
    relation: str


@dataclass(frozen=True)
class LeaveHousehold:
    personal_id: str


@dataclass(frozen=True)
class ChangeHead:
    """A new household head; the former head is recorded as another relative (the relation is not declared)."""

    household_id: int
    new_head_id: str
    previous_head_id: str


@dataclass(frozen=True)
class Rename:
    """A civil-status change of the person's name."""

    personal_id: str
    full_name: str


@dataclass(frozen=True)
class DeclarePlace:
    """A declared current place (Điều 19); an earlier declaration ends. Its id is the output."""

    personal_id: str
    place: Address
    residence_id: int | None
    on: date
    output: str


@dataclass(frozen=True)
class ConfirmResidence:
    """A CT07: the person's records as they stand in this transaction, valid until the rule set says.

    ``declared_residence`` None: judged from the records (a declared place is the only residence). Adds the
    summary's ``valid_until`` and ``statements``.
    """

    personal_id: str
    issued_on: date
    ct07: Ct07Rules
    declared_residence: bool | None


@dataclass(frozen=True)
class StayGuest:
    personal_id: str | None
    passport_number: str | None
    full_name: str
    birth_date: date


@dataclass(frozen=True)
class RecordStay:
    """One stay notification: a row per guest."""

    host_kind: str
    place: Address
    guests: tuple[StayGuest, ...]
    arrival: datetime
    departure: date
    reason: str
    notified_at: datetime
    notified_late: bool


@dataclass(frozen=True)
class RecordAbsence:
    personal_id: str
    category: str
    absence_from: date
    absence_to: date
    destination: str
    reason: str
    declared_on: date


Step = (EndRecord | StartRecord | DeleteRecord | ExtendTerm | CreateHousehold | JoinHousehold | MoveMember
        | LeaveHousehold | ChangeHead | Rename | DeclarePlace | ConfirmResidence | RecordStay | RecordAbsence)


@dataclass(frozen=True)
class RecordPlan:
    """Steps applied in order, and the summary entries known before any is applied."""

    steps: tuple[Step, ...]
    summary: dict[str, str] = field(default_factory=dict)
