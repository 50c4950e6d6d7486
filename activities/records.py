"""Residence-record commits: any procedure's ``RecordPlan`` applied in one transaction per dossier.

``commit`` claims the dossier in ``residence_changes`` first: a retried activity finds the claim and changes
nothing, so each approved dossier changes the records exactly once. The facts the plan is made from are loaded
inside that transaction, after the claim, so the plan sees the records as they are when it is applied; before
them the transaction locks the people and the places the dossier concerns, and the rules judge the dossier again
on those facts: of two dossiers competing for one person or household, the second to commit sees the first's
change, and is refused (``StaleFacts``) if the rules no longer grant it (docs/reliability.md, competing dossiers). The
summary (strings: the plan's own entries and its steps' outputs) is stored with the claim; the documents read it
(``activities.delivery``): a residence confirmation's CT07 states exactly what its commit read from the records.

"Today" is the Vietnamese calendar day of the activity's first scheduling (server time), so every retry of a
commit dates its records the same, and tests that skip time see the records dated in the skipped time.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities import runs
from activities.contracts import CLOSED_BEFORE_COMMIT
from activities.facts import APPLICANT_SQL, applicant_args, load_facts, records_of
from domain.calendar import local_date
from domain.facts import HouseholdFacts
from domain.models import Refusal, SubmissionBase
from domain.procedures.catalogue import spec_for
from domain.procedures.common import records_changed
from domain.procedures.plan import (
    ChangeHead,
    ConfirmResidence,
    CreateHousehold,
    DeclarePlace,
    DeleteRecord,
    EndRecord,
    ExtendTerm,
    JoinHousehold,
    LeaveHousehold,
    MoveMember,
    RecordAbsence,
    RecordPlan,
    RecordStay,
    Ref,
    Rename,
    StartRecord,
    Step,
)
from domain.procedures.residence_confirmation import ct07_statements as statements_of
from domain.procedures.spec import Need

if TYPE_CHECKING:
    import asyncpg

def activity_now() -> datetime:
    """The activity's first scheduling time inside an activity (stable across retries), else the wall clock."""
    return activity.info().scheduled_time if activity.in_activity() else datetime.now(UTC)


def today() -> date:
    return local_date(activity_now())


def _text(value: Any) -> str:
    """A step's output as the summary keeps it: ids as digits, flags as true/false, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# The steps made in one statement with no output; when one is a plan's last, the summary is complete before it and
# is written in its statement (the _SUMMARISED forms): one round trip fewer.
_JOIN = ("INSERT INTO household_members (personal_id, household_id, relation_to_head) VALUES ($1, $2, $3)"
         " ON CONFLICT (personal_id) DO UPDATE SET household_id = EXCLUDED.household_id,"
         " relation_to_head = EXCLUDED.relation_to_head")
_MOVE = ("UPDATE household_members SET household_id = $2, relation_to_head = $3"
         " WHERE personal_id = $1 AND household_id = $4")
_LEAVE = "DELETE FROM household_members WHERE personal_id = $1"
_RENAME = "UPDATE people SET full_name = $2 WHERE personal_id = $1"
_ABSENCE = ("INSERT INTO absence_declarations (dossier_code, personal_id, category, absence_from, absence_to,"
            " destination, reason, declared_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
_ONE_STATEMENT = (JoinHousehold, MoveMember, LeaveHousehold, Rename, RecordAbsence)

# The summary stored with the claim ($1 the dossier, $2 the summary); or riding in a last step's statement, as a
# data-modifying WITH whose two arguments follow the step's own (a table no step touches: no row changed twice).
_SUMMARY = "UPDATE residence_changes SET summary = $2::jsonb WHERE dossier_code = $1"
_WITH_SUMMARY = "WITH summarised AS (UPDATE residence_changes SET summary = $S::jsonb WHERE dossier_code = $D) "
_JOIN_SUMMARISED = _WITH_SUMMARY.replace("$S", "$5").replace("$D", "$4") + _JOIN
_MOVE_SUMMARISED = _WITH_SUMMARY.replace("$S", "$6").replace("$D", "$5") + _MOVE
_LEAVE_SUMMARISED = _WITH_SUMMARY.replace("$S", "$3").replace("$D", "$2") + _LEAVE
_RENAME_SUMMARISED = _WITH_SUMMARY.replace("$S", "$4").replace("$D", "$3") + _RENAME
_ABSENCE_SUMMARISED = _WITH_SUMMARY.replace("$S", "$10").replace("$D", "$9") + _ABSENCE


async def _apply(conn: asyncpg.Connection, code: str, step: Step, outputs: dict[str, Any],
                 summary: str | None = None) -> Any:
    """One step of a plan; returns its output (None for steps that have none). ``summary``, for a last step of
    ``_ONE_STATEMENT``: the plan's summary (JSON), written in the step's statement."""

    def resolve(household: int | Ref) -> Any:
        return outputs[household.output] if isinstance(household, Ref) else household

    stored = () if summary is None else (code, summary)
    match step:
        case JoinHousehold(personal_id=person, household=household, relation=relation):
            await conn.execute(_JOIN if summary is None else _JOIN_SUMMARISED, person, resolve(household), relation,
                               *stored)
        case MoveMember(personal_id=person, from_household=old, to_household=new, relation=relation):
            await conn.execute(_MOVE if summary is None else _MOVE_SUMMARISED, person, resolve(new), relation, old,
                               *stored)
        case LeaveHousehold(personal_id=person):
            await conn.execute(_LEAVE if summary is None else _LEAVE_SUMMARISED, person, *stored)
        case Rename(personal_id=person, full_name=name):
            await conn.execute(_RENAME if summary is None else _RENAME_SUMMARISED, person, name, *stored)
        case RecordAbsence():
            await conn.execute(_ABSENCE if summary is None else _ABSENCE_SUMMARISED, code, step.personal_id,
                               step.category, step.absence_from, step.absence_to, step.destination, step.reason,
                               step.declared_on, *stored)
        case EndRecord(kind="permanent"):
            return await _end(conn, "permanent_residences", code, step)
        case EndRecord(kind="temporary"):
            return await _end(conn, "temporary_residences", code, step)
        case StartRecord(kind="permanent"):
            return await _start(conn, "permanent_residences", code, step)
        case StartRecord(kind="temporary"):
            return await _start(conn, "temporary_residences", code, step)
        case DeleteRecord(kind="permanent"):
            return await _delete(conn, "permanent_residences", code, step)
        case DeleteRecord(kind="temporary"):
            return await _delete(conn, "temporary_residences", code, step)
        case ExtendTerm(record_id=record, previous_valid_to=previous, new_valid_to=end):
            await conn.execute(
                "UPDATE temporary_residences SET valid_to = $2 WHERE record_id = $1 AND status = 'active'", record, end)
            await conn.execute(
                "INSERT INTO temporary_residence_extensions (dossier_code, record_id, previous_valid_to, new_valid_to)"
                " VALUES ($1, $2, $3, $4)", code, record, previous, end)
        case CreateHousehold(residence_id=residence, head_id=head):
            return await conn.fetchval(
                "INSERT INTO households (residence_id, head_id, created_by_dossier) VALUES ($1, $2, $3)"
                " RETURNING household_id", residence, head, code)
        case ChangeHead(household_id=household, new_head_id=head, previous_head_id=previous):
            await conn.execute("UPDATE households SET head_id = $2 WHERE household_id = $1", household, head)
            await conn.execute(
                "UPDATE household_members SET relation_to_head = CASE WHEN personal_id = $2 THEN 'head'"
                " ELSE 'other_relative' END WHERE household_id = $1 AND personal_id IN ($2, $3)",
                household, head, previous)
        case DeclarePlace(personal_id=person, place=place, residence_id=residence, on=on):
            await conn.execute(
                "UPDATE residence_declarations SET status = 'ended', ended_by_dossier = $2"
                " WHERE personal_id = $1 AND status = 'active'", person, code)
            return await conn.fetchval(
                "INSERT INTO residence_declarations (dossier_code, personal_id, province_code, commune_code,"
                " address_line, residence_id, declared_on, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'active')"
                " RETURNING declaration_id",
                code, person, place.province_code, place.commune_code, place.address_line, residence, on)
        case ConfirmResidence():
            return await _confirm(conn, code, step)
        case RecordStay(place=place):
            await conn.executemany(
                "INSERT INTO stay_notifications (dossier_code, guest_no, personal_id, passport_number, full_name,"
                " birth_date, host_kind, province_code, commune_code, address_line, arrival, departure, reason,"
                " notified_at, notified_late)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                [(code, number, guest.personal_id, guest.passport_number, guest.full_name, guest.birth_date,
                  step.host_kind, place.province_code, place.commune_code, place.address_line, step.arrival,
                  step.departure, step.reason, step.notified_at, step.notified_late)
                 for number, guest in enumerate(step.guests, start=1)])
    return None


async def _end(conn: asyncpg.Connection, table: str, code: str, step: EndRecord) -> Any:
    return await conn.fetchval(
        f"UPDATE {table} SET status = 'ended', valid_to = LEAST(valid_to, coalesce($3::date, current_date)),"
        " ended_by_dossier = $2 WHERE personal_id = $1 AND status = 'active' RETURNING record_id",
        step.personal_id, code, step.on)


async def _start(conn: asyncpg.Connection, table: str, code: str, step: StartRecord) -> Any:
    return await conn.fetchval(
        f"INSERT INTO {table} (personal_id, residence_id, valid_from, valid_to, status, dossier_code)"
        " VALUES ($1, $2, coalesce($3::date, current_date), $4, 'active', $5) RETURNING record_id",
        step.personal_id, step.residence_id, step.valid_from, step.valid_to, code)


async def _delete(conn: asyncpg.Connection, table: str, code: str, step: DeleteRecord) -> bool:
    deleted = await conn.fetchval(
        f"UPDATE {table} SET status = 'deleted', valid_to = LEAST(coalesce(valid_to, $3), $3),"
        " ended_by_dossier = $2 WHERE record_id = $1 AND status = 'active' RETURNING record_id",
        step.record_id, code, step.on)
    await conn.execute(
        "INSERT INTO residence_deletions (dossier_code, record_kind, record_id, personal_id, deletion_case,"
        " event_date, ex_officio, filed_late, deleted_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        code, step.kind, step.record_id, step.personal_id, step.case, step.event_date, step.ex_officio,
        step.filed_late, step.on)
    return deleted is not None


async def apply_plan(conn: asyncpg.Connection, code: str, plan: RecordPlan) -> dict[str, str]:
    """Apply the steps in order and store the summary with the claim (inside the caller's transaction); return the
    summary."""
    outputs: dict[str, Any] = {}
    summary = dict(plan.summary)
    for number, step in enumerate(plan.steps, start=1):
        if number == len(plan.steps) and isinstance(step, _ONE_STATEMENT):
            await _apply(conn, code, step, outputs, json.dumps(summary))
            return summary
        output = await _apply(conn, code, step, outputs)
        if isinstance(step, ConfirmResidence):
            summary |= output
        elif (name := getattr(step, "output", None)) is not None:
            outputs[name] = output
            summary[name] = _text(output)
    await conn.execute(_SUMMARY, code, json.dumps(summary))
    return summary


# ---- CT07: what a residence confirmation states -----------------------------------------------------------


async def ct07_statements(conn: asyncpg.Connection, personal_id: str) -> tuple[list[str], str, bool]:
    """(statements, fingerprint of the active records, whether the only residence is a declared one)."""
    return statements_of(await records_of(conn, personal_id))


async def _confirm(conn: asyncpg.Connection, code: str, step: ConfirmResidence) -> dict[str, str]:
    """Record a CT07 for the person: its statements and its valid-until date under the dossier's rule set."""
    statements, fingerprint, declared_only = await ct07_statements(conn, step.personal_id)
    declared = declared_only if step.declared_residence is None else step.declared_residence
    valid_until = step.ct07.valid_until(step.issued_on, declared_residence=declared)
    await conn.execute(
        "INSERT INTO residence_confirmations (dossier_code, personal_id, issued_on, valid_until, statements,"
        " records_fingerprint) VALUES ($1, $2, $3, $4, $5, $6)",
        code, step.personal_id, step.issued_on, valid_until, statements, fingerprint,
    )
    return {"valid_until": valid_until.isoformat(), "statements": json.dumps(statements, ensure_ascii=False)}


async def ct07_still_valid(conn: asyncpg.Connection, dossier_code: str, on: date) -> bool:
    """A CT07 holds until its date, and only while the person's residence records are those it stated."""
    row = await conn.fetchrow(
        "SELECT personal_id, valid_until, records_fingerprint FROM residence_confirmations WHERE dossier_code = $1",
        dossier_code)
    if row is None or on > row["valid_until"]:
        return False
    return (await ct07_statements(conn, row["personal_id"]))[1] == row["records_fingerprint"]


# A late attempt of an activity (its worker stalled past the timeout, or its workflow task was retried elsewhere
# while it still ran) can finish after the dossier has closed: no status write may reopen a closed dossier. The
# states are DossierState's final ones (tests/integration/test_activity_retries.py keeps them equal); the
# dossier activities use the same guard.
OPEN = "status NOT IN ('completed', 'refused', 'cancelled', 'withdrawn')"

# The claim; with $3, the read model's status written in the same statement. Neither while the dossier is closing
# (a withdrawal, a close or a cancellation took it first: ``lock_dossier``).
_CLAIMED = (
    "WITH status AS (UPDATE dossiers SET status = $3, updated_at = now() WHERE dossier_code = $1"
    f" AND $3::text IS NOT NULL AND {OPEN} AND closing IS NULL), claimed AS ("
    " INSERT INTO residence_changes (dossier_code, procedure, summary) SELECT $1, $2::text, '{}'"
    " WHERE NOT EXISTS (SELECT FROM dossiers WHERE dossier_code = $1 AND closing IS NOT NULL)"
    " ON CONFLICT (dossier_code) DO NOTHING RETURNING dossier_code)"
)
_CLAIM = _CLAIMED + " SELECT dossier_code FROM claimed"
# The claim with the applicant's facts ($4-$8: APPLICANT_SQL's $1-$5) read in the same round trip, one row
# whatever is found; the facts are used only when the claim is this attempt's.
_CLAIM_WITH_FACTS = (_CLAIMED + " SELECT (SELECT dossier_code FROM claimed) AS claimed, applicant.*"
                     " FROM (VALUES (1)) AS one (x) LEFT JOIN ("
                     # Highest first, so that no renumbered placeholder is renumbered again.
                     + APPLICANT_SQL.replace("$5", "$8").replace("$4", "$7").replace("$3", "$6")
                     .replace("$2", "$5").replace("$1", "$4")
                     + ") applicant ON true")


def closed_before_commit(code: str) -> Refusal:
    return Refusal(code=CLOSED_BEFORE_COMMIT,
                   message=f"dossier {code} was withdrawn or closed before its records were committed",
                   message_vi=f"Hồ sơ {code} đã được rút hoặc đóng trước khi cập nhật thông tin cư trú")


class StaleFacts(Exception):
    """The records changed since the dossier was approved and the rules now refuse it: nothing was written."""

    def __init__(self, refusals: tuple[Refusal, ...]) -> None:
        super().__init__("; ".join(r.message for r in refusals))
        self.refusals = refusals


# Transaction-level advisory locks (released at commit or rollback), one per person and one per place a dossier
# concerns: every record a plan changes belongs to one of them (a person's records and membership, a household by
# its residence), so two commits that could change the same rows wait for each other, and two that cannot run side
# by side. Advisory rather than row locks, because a place with no household yet has no row of the worker's to lock
# (it may not update residences); always people first, then places, each in ascending order, so that no two commits
# wait for each other in a circle. The two-key form is a key space of its own (migrations use the one-key form).
#
# The dossier's own lock comes with them: a withdrawal, an operator's close or a cancellation is decided against the
# commit under it (``lock_dossier``), so that of a commit made by a workflow task that was lost and the message its
# retry took instead, the first to the database stands (docs/reliability.md, lost workflow tasks). Only the commit
# and that decision take it, and the decision takes no other lock: no wait in a circle.
_PERSON_LOCKS, _PLACE_LOCKS, _DOSSIER_LOCKS = 0x63750001, 0x63750002, 0x63750003
_LOCK_PEOPLE = ("WITH dossier AS (SELECT pg_advisory_xact_lock($3, hashtext($4)))"
                " SELECT count(pg_advisory_xact_lock($2, k)) FROM dossier,"
                " (SELECT DISTINCT hashtext(p) AS k FROM unnest($1::text[]) p ORDER BY k) ordered")
# Read after the people are locked (a statement of its own, so a snapshot taken after the wait): the households
# they belong to now, by residence, and the place the dossier names.
_LOCK_PLACES = (
    "SELECT count(pg_advisory_xact_lock($4, k)) FROM (SELECT DISTINCT hashtext(residence_id::text) AS k FROM ("
    " SELECT h.residence_id FROM household_members m JOIN households h ON h.household_id = m.household_id"
    "  WHERE m.personal_id = ANY($1::text[]::char(12)[])"
    " UNION SELECT residence_id FROM residences WHERE commune_code = $2 AND lower(address_line) = lower($3)"
    ") places ORDER BY k) ordered")


async def _lock_concerned(conn: asyncpg.Connection, submission: SubmissionBase) -> None:
    spec = spec_for(submission)
    people = sorted({submission.applicant.personal_id, spec.subject_id(submission), *spec.named_ids(submission)})
    place = spec.place(submission) if Need.PLACE in spec.needs else None
    await conn.fetchval(_LOCK_PEOPLE, people, _PERSON_LOCKS, _DOSSIER_LOCKS, submission.dossier_code)
    await conn.fetchval(_LOCK_PLACES, people, place.commune_code if place else None,
                        place.address_line if place else None, _PLACE_LOCKS)


async def lock_dossier(conn: asyncpg.Connection, code: str) -> None:
    """The dossier's lock, as its commit takes it (inside the caller's transaction); the statements after it see
    what a commit that held it wrote."""
    await conn.fetchval("SELECT pg_advisory_xact_lock($1, hashtext($2))", _DOSSIER_LOCKS, code)


async def commit(
    conn: asyncpg.Connection, submission: SubmissionBase, facts: HouseholdFacts | None = None, *,
    status: str | None = None,
) -> tuple[dict[str, str], bool]:
    """Apply the procedure's record plan once; return its summary and whether it had been applied before.

    ``facts`` are those of a check made in the same transaction (a stay notification); otherwise the people and
    places concerned are locked and the facts loaded here, with the claim, as the records stand, and judged again:
    ``StaleFacts`` when the rules now refuse. ``status``, if given, goes into the read model with the claim,
    whether or not the plan had been applied before.
    """
    spec = spec_for(submission)
    code = submission.dossier_code
    row: Any = None
    async with conn.transaction():
        if facts is None:
            await _lock_concerned(conn, submission)
            row = await conn.fetchrow(_CLAIM_WITH_FACTS, code, spec.procedure.value, status,
                                      *applicant_args(submission))
            claimed = row["claimed"]
        else:
            claimed = await conn.fetchval(_CLAIM, code, spec.procedure.value, status)
        if claimed is None:
            stored = await conn.fetchrow("SELECT summary, procedure FROM residence_changes WHERE dossier_code = $1",
                                         code)
            if stored is None:  # no claim: the dossier is closing
                raise StaleFacts((closed_before_commit(code),))
            if stored["procedure"] != spec.procedure.value:  # never "already committed" for another's commit
                raise runs.taken(code, spec.procedure.value, stored["procedure"], None)
            return json.loads(stored["summary"]), True
        if facts is None:
            # No applicant found: load_facts looks again and refuses, as it always has.
            facts = await load_facts(conn, submission, row if row["personal_id"] is not None else None)
            refusals = spec.refusals(submission, facts)
            if refusals:
                # Raised inside the transaction: the claim and the status written with it are rolled back.
                raise StaleFacts(records_changed(refusals, spec.legal_basis))
        summary = await apply_plan(conn, code, spec.plan(submission, facts, today()))
        return summary, False
