"""Pick people and places from the seeded population for demos and load tests.

``sample_applicants`` finds applicants for a permanent residence registration (Đăng ký thường trú, 1.004222) that
should pass every eligibility rule: an alive adult with full civil capacity, registered in a household, moving to
another residence in the same commune that is not barred (Điều 23), has nobody's household in it, leaves at least
8 m² per registered person (Điều 20 khoản 3), and is owned either by the applicant (basis ``own_residence``) or by
an alive adult with full capacity who can consent (basis ``rented_or_borrowed``). Heads of households with other
members are left out, since their leaving would need a change of head first (Điều 26). Each sample also names an
officer and the supervisor of the commune police unit, which decides the dossier.

The choice is deterministic for a given database: candidates are ordered by a hash of their ID number, and no two
samples share a target residence.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

import asyncpg
from pydantic import BaseModel

MIN_AREA_PER_PERSON_M2 = Decimal(8)

_CANDIDATES = """
SELECT p.personal_id, p.full_name, p.birth_date, p.sex,
       m.household_id, m.relation_to_head, h.head_id,
       r.residence_id AS current_residence_id, r.province_code, r.commune_code
FROM people p
JOIN household_members m ON m.personal_id = p.personal_id
JOIN households h ON h.household_id = m.household_id
JOIN permanent_residences pr ON pr.personal_id = p.personal_id AND pr.status = 'active'
JOIN residences r ON r.residence_id = pr.residence_id
WHERE p.status = 'alive' AND p.full_civil_capacity
  AND p.birth_date <= ($3::date - interval '18 years')::date
  AND ($2::text IS NULL OR r.commune_code = $2::text)
  AND (m.relation_to_head <> 'head'
       OR NOT EXISTS (SELECT 1 FROM household_members o
                      WHERE o.household_id = m.household_id AND o.personal_id <> m.personal_id))
  AND (NOT $4::bool OR EXISTS (
       SELECT 1 FROM residences v
       WHERE v.owner_id = p.personal_id AND v.commune_code = r.commune_code AND v.barred_reason IS NULL
         AND NOT EXISTS (SELECT 1 FROM households vh WHERE vh.residence_id = v.residence_id)))
ORDER BY md5(p.personal_id)
LIMIT $1
"""

# Vacant residences (no household lives there) whose owner can consent, with how many people are registered there.
_TARGETS = """
WITH registered AS (
    SELECT residence_id, count(*) AS n FROM (
        SELECT residence_id FROM permanent_residences WHERE status = 'active'
        UNION ALL
        SELECT residence_id FROM temporary_residences WHERE status = 'active'
    ) x GROUP BY residence_id
)
SELECT r.residence_id, r.commune_code, r.address_line, r.floor_area_m2, r.owner_id, o.full_name AS owner_name,
       coalesce(reg.n, 0) AS registered
FROM residences r
JOIN people o ON o.personal_id = r.owner_id
LEFT JOIN registered reg ON reg.residence_id = r.residence_id
WHERE r.commune_code = ANY($1::text[])
  AND r.barred_reason IS NULL
  AND o.status = 'alive' AND o.full_civil_capacity
  AND o.birth_date <= ($2::date - interval '18 years')::date
  AND NOT EXISTS (SELECT 1 FROM households h WHERE h.residence_id = r.residence_id)
ORDER BY md5(r.residence_id::text)
"""

_OFFICERS = """
SELECT officer_id, unit_code, role FROM officers WHERE active AND unit_code = ANY($1::text[]) ORDER BY officer_id
"""


class ApplicantSample(BaseModel, frozen=True):
    """An applicant, the household they leave, the residence they register at, and who decides."""

    personal_id: str
    full_name: str
    birth_date: date
    sex: Literal["male", "female"]
    household_id: int
    relation_to_head: str
    household_head_id: str
    current_residence_id: int
    province_code: str
    commune_code: str
    target_residence_id: int
    target_address_line: str
    target_floor_area_m2: Decimal
    target_owner_id: str
    target_owner_name: str
    basis: Literal["own_residence", "rented_or_borrowed"]  # the owner consents when it is not the applicant
    unit_code: str
    officer_id: str
    supervisor_id: str | None


async def sample_applicants(
    conn: asyncpg.Connection,
    n: int,
    *,
    commune_code: str | None = None,
    basis: Literal["any", "own_residence", "rented_or_borrowed"] = "any",
    as_of: date | None = None,
) -> list[ApplicantSample]:
    """Up to ``n`` applicants suited to a permanent residence registration demo (see the module docstring).

    ``commune_code`` restricts them to one commune and ``basis`` to one legal basis; ``as_of`` (default today)
    is the day ages are judged on. Fewer than ``n`` come back when the commune runs out of suitable vacant
    residences (the demo commune has about 70; ``own_residence`` cases are rarer, a few per commune).
    """
    day = as_of or date.today()
    candidates = await conn.fetch(_CANDIDATES, n * 3, commune_code, day, basis == "own_residence")
    communes = sorted({c["commune_code"] for c in candidates})
    targets: dict[str, list[asyncpg.Record]] = {code: [] for code in communes}
    for t in await conn.fetch(_TARGETS, communes, day):
        targets[t["commune_code"]].append(t)
    units = [f"CA-{code}" for code in communes]
    officers: dict[str, list[str]] = {u: [] for u in units}
    supervisors: dict[str, str] = {}
    for o in await conn.fetch(_OFFICERS, units):
        if o["role"] == "supervisor":
            supervisors.setdefault(o["unit_code"], o["officer_id"])
        else:
            officers[o["unit_code"]].append(o["officer_id"])

    used: set[int] = set()
    samples: list[ApplicantSample] = []
    for c in candidates:
        if len(samples) == n:
            break
        unit = f"CA-{c['commune_code']}"
        if not officers[unit]:
            continue
        fits = [
            t
            for t in targets[c["commune_code"]]
            if t["residence_id"] not in used
            and t["residence_id"] != c["current_residence_id"]
            and t["floor_area_m2"] / (t["registered"] + 1) >= MIN_AREA_PER_PERSON_M2
        ]
        own = [t for t in fits if t["owner_id"] == c["personal_id"]]
        others = [t for t in fits if t["owner_id"] != c["personal_id"]]
        # Registering at one's own house is the simplest case; otherwise the owner's consent is needed.
        choices = {"any": own + others, "own_residence": own, "rented_or_borrowed": others}[basis]
        target = choices[0] if choices else None
        if target is None:
            continue
        used.add(target["residence_id"])
        roster = officers[unit]
        samples.append(
            ApplicantSample(
                personal_id=c["personal_id"],
                full_name=c["full_name"],
                birth_date=c["birth_date"],
                sex=c["sex"],
                household_id=c["household_id"],
                relation_to_head=c["relation_to_head"],
                household_head_id=c["head_id"],
                current_residence_id=c["current_residence_id"],
                province_code=c["province_code"],
                commune_code=c["commune_code"],
                target_residence_id=target["residence_id"],
                target_address_line=target["address_line"],
                target_floor_area_m2=target["floor_area_m2"],
                target_owner_id=target["owner_id"],
                target_owner_name=target["owner_name"],
                basis="own_residence" if target["owner_id"] == c["personal_id"] else "rented_or_borrowed",
                unit_code=unit,
                officer_id=roster[len(samples) % len(roster)],
                supervisor_id=supervisors.get(unit),
            )
        )
    return samples
