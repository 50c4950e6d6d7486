"""Loading the facts a procedure's rules judge: what the population and residence databases say.

One query set per kind of fact; ``load_facts`` gathers what the submission's procedure needs. The rules in
``domain.eligibility`` then decide, as pure functions of the submission and these facts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.eligibility import HouseholdFacts, PersonFacts, ResidenceFacts

if TYPE_CHECKING:
    import asyncpg

PERSON_SQL = (
    "SELECT personal_id, full_name, birth_date, sex, status, full_civil_capacity, fee_exemption"
    " FROM people WHERE personal_id = $1"
)
_RESIDENCE_SQL = """
SELECT r.residence_id, r.owner_id, r.floor_area_m2, r.barred_reason, h.household_id, h.head_id,
       (SELECT count(*) FROM household_members m WHERE m.household_id = h.household_id) AS member_count
FROM residences r LEFT JOIN households h ON h.residence_id = r.residence_id
WHERE r.commune_code = $1 AND lower(r.address_line) = lower($2)
ORDER BY h.household_id NULLS LAST LIMIT 1
"""


async def person(conn: asyncpg.Connection, personal_id: str) -> PersonFacts | None:
    row = await conn.fetchrow(PERSON_SQL, personal_id)
    return PersonFacts.model_validate(dict(row)) if row else None


async def residence_at(conn: asyncpg.Connection, commune_code: str, address_line: str) -> ResidenceFacts | None:
    row = await conn.fetchrow(_RESIDENCE_SQL, commune_code, address_line)
    if row is None:
        return None
    return ResidenceFacts(
        residence_id=row["residence_id"], owner_id=row["owner_id"], floor_area_m2=row["floor_area_m2"],
        barred_reason=row["barred_reason"], household_id=row["household_id"], household_head_id=row["head_id"],
        member_count=row["member_count"] or 0,
    )


async def load_facts(conn: asyncpg.Connection, submission: Any) -> HouseholdFacts:
    applicant = await person(conn, submission.applicant.personal_id)
    assert applicant is not None, "identity was validated before"
    target = getattr(getattr(submission, "details", None), "residence", None)
    residence = await residence_at(conn, target.commune_code, target.address_line) if target else None
    current = await conn.fetchval(
        "SELECT residence_id FROM permanent_residences WHERE personal_id = $1 AND status = 'active'",
        submission.applicant.personal_id,
    )
    return HouseholdFacts(applicant=applicant, residence=residence, current_permanent_residence_id=current)
