"""Residence-record commits, one small function per procedure, run inside one transaction per dossier.

``commit`` claims the dossier in ``residence_changes`` first: a retried activity finds the claim and changes
nothing, so each approved dossier changes the records exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from domain.eligibility import HouseholdFacts
from domain.models import SubmissionBase
from domain.procedures import Procedure

if TYPE_CHECKING:
    import asyncpg

Committer = Callable[["asyncpg.Connection", Any, HouseholdFacts], Awaitable[dict[str, str]]]


async def commit_permanent_registration(
    conn: asyncpg.Connection, submission: Any, facts: HouseholdFacts
) -> dict[str, str]:
    """Đăng ký thường trú: the new record starts, the previous permanent residence ends (Điều 20 khoản 5)."""
    code, person = submission.dossier_code, submission.applicant.personal_id
    residence = facts.residence
    assert residence is not None, "eligibility guarantees a known residence"
    ended = await conn.fetchval(
        "UPDATE permanent_residences SET status = 'ended', valid_to = current_date, ended_by_dossier = $2"
        " WHERE personal_id = $1 AND status = 'active' RETURNING record_id",
        person, code,
    )
    record = await conn.fetchval(
        "INSERT INTO permanent_residences (personal_id, residence_id, valid_from, status, dossier_code)"
        " VALUES ($1, $2, current_date, 'active', $3) RETURNING record_id",
        person, residence.residence_id, code,
    )
    household = residence.household_id
    relation = submission.details.relation_to_head or "other_relative"
    if household is None:
        household = await conn.fetchval(
            "INSERT INTO households (residence_id, head_id, created_by_dossier) VALUES ($1, $2, $3)"
            " RETURNING household_id",
            residence.residence_id, person, code,
        )
        relation = "head"
    elif residence.household_head_id == person:
        relation = "head"
    await conn.execute(
        "INSERT INTO household_members (personal_id, household_id, relation_to_head) VALUES ($1, $2, $3)"
        " ON CONFLICT (personal_id) DO UPDATE SET household_id = EXCLUDED.household_id,"
        " relation_to_head = EXCLUDED.relation_to_head",
        person, household, relation,
    )
    return {"record_id": str(record), "ended_record_id": str(ended or ""), "household_id": str(household)}


COMMITTERS: dict[Procedure, Committer] = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: commit_permanent_registration,
}


async def commit(
    conn: asyncpg.Connection, submission: SubmissionBase, facts: HouseholdFacts
) -> tuple[dict[str, str], bool]:
    """Apply the procedure's record change once; return its summary and whether it had been applied before."""
    procedure: Procedure = submission.procedure  # type: ignore[attr-defined]
    async with conn.transaction():
        claimed = await conn.fetchval(
            "INSERT INTO residence_changes (dossier_code, procedure, summary) VALUES ($1, $2, '{}')"
            " ON CONFLICT (dossier_code) DO NOTHING RETURNING dossier_code",
            submission.dossier_code, procedure.value,
        )
        if claimed is None:
            stored = await conn.fetchval(
                "SELECT summary FROM residence_changes WHERE dossier_code = $1", submission.dossier_code
            )
            return json.loads(stored), True
        summary = await COMMITTERS[procedure](conn, submission, facts)
        await conn.execute(
            "UPDATE residence_changes SET summary = $2::jsonb WHERE dossier_code = $1",
            submission.dossier_code, json.dumps(summary),
        )
        return summary, False
