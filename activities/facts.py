"""Loading the facts a procedure's rules judge: what the population and residence databases say.

One small query function per kind of fact; each procedure's definition says which kinds its rules read
(``ProcedureSpec.needs``), so a stay notification (the high-volume path) loads only its guests. ``load_facts``
gathers them; the procedure's rules then decide, as pure functions of the submission and these facts, and the
notes (findings that refuse nothing, e.g. a late filing) are attached to the facts for the officer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.calendar import CalendarDeclaration, CalendarSnapshot
from domain.facts import (
    HouseholdFacts,
    MemberFacts,
    MembershipFacts,
    PersonFacts,
    PersonRecords,
    RecordFacts,
    ResidenceFacts,
)
from domain.models import Refusal, SubmissionBase
from domain.procedures.catalogue import spec_for
from domain.procedures.common import received_on
from domain.procedures.spec import Need

if TYPE_CHECKING:
    import asyncpg

_PERSON_COLUMNS = ("personal_id", "full_name", "birth_date", "sex", "status", "full_civil_capacity", "fee_exemption",
                   "identity_verified")
PERSON_SQL = f"SELECT {', '.join(_PERSON_COLUMNS)} FROM people WHERE personal_id = $1"
_PEOPLE_SQL = PERSON_SQL.replace("personal_id = $1", "personal_id = ANY($1::char(12)[])") + " ORDER BY personal_id"
RESIDENCE_SQL = """
SELECT r.residence_id, r.owner_id, r.floor_area_m2, r.barred_reason, h.household_id, h.head_id, r.province_code,
       (SELECT count(*) FROM household_members m WHERE m.household_id = h.household_id) AS member_count,
       (SELECT count(*) FROM household_members m JOIN households hh ON hh.household_id = m.household_id
        WHERE hh.residence_id = r.residence_id) AS occupant_count
FROM residences r LEFT JOIN households h ON h.residence_id = r.residence_id
WHERE r.commune_code = $1 AND lower(r.address_line) = lower($2)
ORDER BY h.household_id NULLS LAST LIMIT 1
"""
_RECORD_COLUMNS = "r.province_code, r.commune_code, r.address_line, r.owner_id"
_PERMANENT_SQL = f"""
SELECT pr.record_id, pr.residence_id, pr.valid_from, pr.valid_to, {_RECORD_COLUMNS}
FROM permanent_residences pr JOIN residences r ON r.residence_id = pr.residence_id
WHERE pr.personal_id = $1 AND pr.status = 'active'
"""
_TEMPORARY_SQL = _PERMANENT_SQL.replace("permanent_residences", "temporary_residences")
_DECLARATION_SQL = """
SELECT d.declaration_id AS record_id, d.residence_id, d.declared_on AS valid_from, NULL::date AS valid_to,
       d.province_code, d.commune_code, d.address_line, r.owner_id
FROM residence_declarations d LEFT JOIN residences r ON r.residence_id = d.residence_id
WHERE d.personal_id = $1 AND d.status = 'active'
"""
_HOUSEHOLD_SQL = """
SELECT h.household_id, h.residence_id, h.head_id, r.commune_code, r.owner_id
FROM household_members m JOIN households h ON h.household_id = m.household_id
JOIN residences r ON r.residence_id = h.residence_id
WHERE m.personal_id = $1
"""
_MEMBERS_SQL = """
SELECT m.personal_id, p.full_name, m.relation_to_head, p.birth_date, p.status, p.full_civil_capacity
FROM household_members m JOIN people p ON p.personal_id = m.personal_id
WHERE m.household_id = $1 ORDER BY m.personal_id
"""


async def person(conn: asyncpg.Connection, personal_id: str) -> PersonFacts | None:
    return person_of(await conn.fetchrow(PERSON_SQL, personal_id))


def person_of(row: Any) -> PersonFacts | None:
    """The person in a row holding ``PERSON_SQL``'s columns (among others, for a statement that carries that query
    after other work) as facts; None when there is no row or no person in it."""
    if not row or row["personal_id"] is None:
        return None
    return PersonFacts.model_validate({c: row[c] for c in _PERSON_COLUMNS})


async def people(conn: asyncpg.Connection, personal_ids: list[str]) -> tuple[PersonFacts, ...]:
    if not personal_ids:
        return ()
    rows = await conn.fetch(_PEOPLE_SQL, sorted(set(personal_ids)))
    return tuple(PersonFacts.model_validate(dict(row)) for row in rows)


async def _record(conn: asyncpg.Connection, sql: str, personal_id: str) -> RecordFacts | None:
    row = await conn.fetchrow(sql, personal_id)
    return RecordFacts.model_validate(dict(row)) if row else None


async def household_of(conn: asyncpg.Connection, personal_id: str) -> MembershipFacts | None:
    row = await conn.fetchrow(_HOUSEHOLD_SQL, personal_id)
    if row is None:
        return None
    members = await conn.fetch(_MEMBERS_SQL, row["household_id"])
    return MembershipFacts(**dict(row), members=tuple(MemberFacts.model_validate(dict(m)) for m in members))


async def records_of(conn: asyncpg.Connection, personal_id: str) -> PersonRecords:
    """Every active residence record of one person, their household and their latest absence declaration."""
    return PersonRecords(
        personal_id=personal_id,
        permanent=await _record(conn, _PERMANENT_SQL, personal_id),
        temporary=await _record(conn, _TEMPORARY_SQL, personal_id),
        declaration=await _record(conn, _DECLARATION_SQL, personal_id),
        household=await household_of(conn, personal_id),
        absence_declared_until=await conn.fetchval(
            "SELECT max(absence_to) FROM absence_declarations WHERE personal_id = $1", personal_id),
    )


# The applicant, with the place ($3 commune, $4 address; NULL: not needed) and their current permanent residence
# ($2: needed) beside it, and, when the rules read the place's provincial settings ($5: the day of receipt, else
# NULL), the province's floor-area minimum in force that day and the place's co-owners: one round trip for what
# the procedures' rules read.
APPLICANT_SQL = (
    "SELECT p." + ", p.".join(_PERSON_COLUMNS) + ","
    " CASE WHEN $2 THEN (SELECT residence_id FROM permanent_residences WHERE personal_id = $1 AND status = 'active'"
    " LIMIT 1) END AS current_permanent_residence_id,"
    " place.residence_id, place.owner_id, place.floor_area_m2, place.barred_reason, place.household_id,"
    " place.head_id, place.member_count, place.occupant_count, place.province_code,"
    " CASE WHEN $5::date IS NOT NULL THEN (SELECT s.value FROM provincial_settings s"
    "  WHERE s.province_code = place.province_code"
    "  AND s.setting = 'min_floor_area_per_person_m2' AND s.effective_from <= $5::date"  # ProvincialSetting's value
    "  ORDER BY s.effective_from DESC, s.setting_id DESC LIMIT 1) END AS provincial_min_floor_area_m2,"
    " CASE WHEN $5::date IS NOT NULL THEN (SELECT array_agg(c.personal_id::text ORDER BY c.personal_id)"
    "  FROM residence_co_owners c WHERE c.residence_id = place.residence_id) END AS co_owner_ids,"
    " CASE WHEN $5::date IS NOT NULL THEN (SELECT c.personal_id FROM residence_co_owners c"
    "  WHERE c.residence_id = place.residence_id AND c.representative ORDER BY c.personal_id LIMIT 1)"
    " END AS owners_representative_id"
    f" FROM people p LEFT JOIN LATERAL ({RESIDENCE_SQL.replace('$1', '$3').replace('$2', '$4').strip()}) place"
    " ON true WHERE p.personal_id = $1"
)


def _residence_of(row: Any) -> ResidenceFacts | None:
    """A ``RESIDENCE_SQL`` row (or its columns in a wider one) as facts; None when no residence matched."""
    if row is None or row["residence_id"] is None:
        return None
    return ResidenceFacts(
        residence_id=row["residence_id"], owner_id=row["owner_id"], floor_area_m2=row["floor_area_m2"],
        barred_reason=row["barred_reason"], household_id=row["household_id"], household_head_id=row["head_id"],
        member_count=row["member_count"] or 0, occupant_count=row["occupant_count"] or 0,
        province_code=row["province_code"],
    )


def applicant_args(submission: SubmissionBase) -> tuple[Any, ...]:
    """``APPLICANT_SQL``'s parameters for what the submission's procedure needs."""
    spec = spec_for(submission)
    place = spec.place(submission) if Need.PLACE in spec.needs else None
    return (submission.applicant.personal_id, Need.CURRENT_PERMANENT in spec.needs,
            place.commune_code if place else None, place.address_line if place else None,
            received_on(submission) if Need.PROVINCIAL in spec.needs else None)


async def load_facts(conn: asyncpg.Connection, submission: SubmissionBase, row: Any = None) -> HouseholdFacts:
    """The facts the submission's rules read. ``row`` is ``APPLICANT_SQL``'s if the caller read it in a statement
    it ran anyway."""
    spec = spec_for(submission)
    applicant_id = submission.applicant.personal_id
    place = spec.place(submission) if Need.PLACE in spec.needs else None
    if row is None:
        row = await conn.fetchrow(APPLICANT_SQL, *applicant_args(submission))
    assert row is not None, "identity was validated before"
    values: dict[str, Any] = {"applicant": PersonFacts.model_validate({c: row[c] for c in _PERSON_COLUMNS})}
    if place is not None:
        values["residence"] = _residence_of(row)
    if Need.CURRENT_PERMANENT in spec.needs:
        values["current_permanent_residence_id"] = row["current_permanent_residence_id"]
    if Need.RECORDS in spec.needs:
        # The person concerned: a deceased relative, a member renewed for; otherwise the applicant.
        concerned = spec.subject_id(submission)
        values["records"] = await records_of(conn, concerned)
        if concerned != applicant_id:
            values["subject"] = await person(conn, concerned)
            values["applicant_records"] = await records_of(conn, applicant_id)
    if Need.NAMED in spec.needs:
        values["named"] = await people(conn, spec.named_ids(submission))
    if Need.PROVINCIAL in spec.needs and values.get("residence") is not None:
        values["provincial_min_floor_area_m2"] = row["provincial_min_floor_area_m2"]
        values["residence"] = values["residence"].model_copy(update={
            "co_owner_ids": tuple(row["co_owner_ids"] or ()),
            "owners_representative_id": row["owners_representative_id"]})
    facts = HouseholdFacts(**values)
    return facts.model_copy(update={"notes": tuple(spec.notes(submission, facts))})


async def judge(conn: asyncpg.Connection, submission: SubmissionBase) -> tuple[HouseholdFacts, list[Refusal]]:
    """The facts the submission's rules read, and what its rules refuse on them."""
    found = await load_facts(conn, submission)
    return found, spec_for(submission).refusals(submission, found)


# The operators' calendar declarations as they stand: the latest declaration of each day (a withdrawal removes the
# day), and the highest declaration id as the snapshot's version (docs/rules.md).
_CALENDAR_SQL = """
SELECT v.version, latest.day, latest.kind, latest.decision
FROM (SELECT coalesce(max(declaration_id), 0) AS version FROM calendar_declarations) v
LEFT JOIN (SELECT DISTINCT ON (day) day, kind, decision FROM calendar_declarations ORDER BY day, declaration_id DESC)
    latest ON latest.kind <> 'withdrawn'
ORDER BY latest.day
"""


async def calendar_snapshot(conn: asyncpg.Connection) -> CalendarSnapshot:
    """The working-day calendar's operator declarations now in force, with their version."""
    rows = await conn.fetch(_CALENDAR_SQL)
    return CalendarSnapshot(version=rows[0]["version"], declarations=tuple(
        CalendarDeclaration(day=row["day"], kind=row["kind"], decision=row["decision"])
        for row in rows if row["day"] is not None))
