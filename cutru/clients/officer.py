"""The officer's desk as the read model holds it: the unit's work queue, an officer's record, a dossier's unit.

The desk itself is the API (``cutru/api/officers.py``, ``/v1/desk/...``): it takes the officer's identity and unit
from a verified token and signs each decision. This module holds what that service reads from PostgreSQL, and the
models its answers are made of, which the API's client (``cutru/api/client.py``) reads back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import asyncpg
from pydantic import Field

from domain.identity import mask_personal_id
from domain.models import Boundary, ChecklistItem, DecisionKind, DossierStatus, Item

# What LIKE reads as a wildcard or escape: a searched name means its letters only.
_LIKE_SPECIAL = re.compile(r"[\\%_]")

# The dossiers an officer acts on: waiting for a decision or for the citizen's supplement.
QUEUE_STATES = ("awaiting_decision", "awaiting_supplement")

# Overdue first, then the nearest deadline; the code last so that pages never overlap.
_QUEUE_SQL = """
SELECT dossier_code, procedure, status, applicant_name, received_at, deadline, overdue, assigned_officer
FROM dossiers
WHERE ($1::text[] IS NULL OR unit_code = ANY($1::text[]))
  AND status = ANY($2::text[])
  AND ($3::text[] IS NULL OR procedure = ANY($3::text[]))
  AND ($4::text IS NULL OR assigned_officer = $4)
  AND ($5::timestamptz IS NULL OR overdue OR deadline <= $5)
  AND ($8::text IS NULL OR dossier_code = upper($8) OR applicant_name ILIKE '%' || $9 || '%')
ORDER BY overdue DESC, deadline ASC NULLS LAST, received_at, dossier_code
LIMIT $6 OFFSET $7
"""


QueueState = Literal["awaiting_decision", "awaiting_supplement"]


class QueueFilter(Boundary):
    """What narrows a queue: one of the caller's units, a procedure, a state, the caller's own dossiers, and a
    search (a dossier code, or part of the applicant's name)."""

    unit: str | None = Field(default=None, pattern=r"^CA-[0-9]{5}$")
    procedure: str | None = Field(default=None, max_length=80)
    state: QueueState | None = None
    mine: bool = False
    q: str | None = Field(default=None, min_length=1, max_length=100)


class Officer(Boundary):
    officer_id: str
    full_name: str
    unit_code: str
    role: Literal["officer", "supervisor"]
    active: bool


class QueueItem(Boundary):
    dossier_code: str
    procedure: str
    status: str
    applicant_name: str
    received_at: datetime
    deadline: datetime | None
    overdue: bool
    assigned_officer: str | None


class DeskDossier(DossierStatus):
    """One dossier on the officer's screen: the workflow's status with the applicant's ID numbers masked."""

    applicant_name: str


class DecisionRequest(Boundary):
    """What the officer decides; who decides is the signed-in officer, never a field of the request."""

    decision: DecisionKind
    reason: str | None = Field(default=None, max_length=1000, description="required for a rejection (CT06)")
    missing_items: tuple[Item, ...] = Field(default=(), max_length=20,
                                            description="required for a supplement request (CT05), unless a "
                                                        "checklist names the items")
    checklist: tuple[ChecklistItem, ...] = Field(
        default=(), max_length=20, description="a supplement request item by item: each with its legal basis and "
                                               "the kinds of paper accepted; the citizen answers each with a paper")


class ReassignmentRequest(Boundary):
    """The supervisor gives the dossier to another officer of the unit."""

    officer_id: str = Field(pattern=r"^CB-[0-9]{5}-[0-9]{2}$")
    reason: str = Field(min_length=1, max_length=1000)


def masked(status: DossierStatus, applicant_name: str) -> DeskDossier:
    """The status with every ``personal_id`` in the submission masked (the applicant's, members', guests')."""
    return DeskDossier.model_validate({**status.model_dump(mode="json", exclude={"submission"}),
                                       "submission": _mask(status.submission), "applicant_name": applicant_name})


def _mask(value: object) -> object:
    if isinstance(value, dict):
        return {k: mask_personal_id(str(v)) if k == "personal_id" and v else _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


async def find_officer(pool: asyncpg.Pool, officer_id: str) -> Officer | None:
    row = await pool.fetchrow(
        "SELECT officer_id, full_name, unit_code, role, active FROM officers WHERE officer_id = $1", officer_id)
    return None if row is None else Officer.model_validate(dict(row))


async def dossier_row(pool: asyncpg.Pool, dossier_code: str) -> tuple[str, str, str] | None:
    """The dossier's police unit, procedure and applicant's name in the read model; None for no dossier (or one not
    yet accepted)."""
    row = await pool.fetchrow("SELECT unit_code, procedure, applicant_name FROM dossiers WHERE dossier_code = $1",
                              dossier_code)
    return None if row is None else (row["unit_code"], row["procedure"], row["applicant_name"])


async def queue(pool: asyncpg.Pool, units: Sequence[str] | None, *, states: Sequence[str] = QUEUE_STATES,
                procedures: Sequence[str] | None = None, assigned_to: str | None = None, due_by: datetime | None = None,
                search: str | None = None, limit: int = 50, offset: int = 0) -> list[QueueItem]:
    """Dossiers of the units and procedures (None: every one) in the states: overdue first, then by deadline.

    ``due_by``: only the overdue ones and those whose deadline falls by then (the supervisor's escalations).
    ``search``: the dossier of that code, or those whose applicant's name contains it (any case)."""
    pattern = None if search is None else _LIKE_SPECIAL.sub(r"\\\g<0>", search)
    rows = await pool.fetch(_QUEUE_SQL, None if units is None else list(units), list(states),
                            None if procedures is None else list(procedures),
                            assigned_to, due_by, limit, offset, search, pattern)
    return [QueueItem.model_validate(dict(r)) for r in rows]
