"""The bench's applicants: people who own a residence in the demo commune, loaded in bulk with COPY.

Each applicant owns exactly one residence of their own (no household yet), so a permanent-residence registration
on the ``own_residence`` basis is eligible and ends approved — the full lifecycle, which is what the bench
measures. The same people serve as hosts and guests of stay notifications. ``one_of_each`` builds one dossier of every
procedure the way the chaos campaign does, for the history of each.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from cutru_local.seed import (
    DEMO_COMMUNE_CODE,
    DEMO_OFFICER_ID,
    DEMO_PROVINCE_CODE,
    DEMO_SUPERVISOR_ID,
    DEMO_UNIT_CODE,
)

from chaos.population import BUILDERS, Case, Plan, Population, today_in_vietnam
from cutru.clients.client import check_submission
from domain.identity import generate_personal_id
from domain.kinds import Procedure
from domain.names import random_full_name
from workflows.stay_register import uses_register

COMMUNE = DEMO_COMMUNE_CODE
PROVINCE = DEMO_PROVINCE_CODE
UNIT = DEMO_UNIT_CODE
OFFICER = DEMO_OFFICER_ID
HEAD = DEMO_SUPERVISOR_ID  # the demo unit's head, who signs its results
_STREETS = ("Hàng Bạc", "Hàng Gai", "Hàng Đào", "Hàng Bông", "Hàng Trống", "Tràng Tiền", "Bà Triệu", "Lò Sũ")


@dataclass(frozen=True)
class Applicant:
    personal_id: str
    full_name: str
    birth_date: date
    sex: str
    address_line: str

    def person(self) -> dict[str, str]:
        return {"personal_id": self.personal_id, "full_name": self.full_name,
                "birth_date": self.birth_date.isoformat(), "sex": self.sex}


def make_applicants(count: int, tag: str, taken: set[str], rng: random.Random, today: date) -> list[Applicant]:
    """Adults of 20–60 with valid, unused personal ID numbers and addresses no other residence has."""
    people: list[Applicant] = []
    for index in range(count):
        birth = today - timedelta(days=rng.randrange(20 * 365, 60 * 365))
        sex = "male" if rng.random() < 0.5 else "female"
        pid = generate_personal_id(rng, PROVINCE, birth, sex)  # type: ignore[arg-type]
        while pid in taken:
            pid = generate_personal_id(rng, PROVINCE, birth, sex)  # type: ignore[arg-type]
        taken.add(pid)
        name = random_full_name(rng, sex, birth_year=birth.year)  # type: ignore[arg-type]
        # The tag keeps addresses unique across runs sharing a database; the lookup is case-insensitive.
        line = f"Số {index + 1} ngõ {tag}, phố {_STREETS[index % len(_STREETS)]}"
        people.append(Applicant(personal_id=pid, full_name=name, birth_date=birth, sex=sex, address_line=line))
    return people


async def load_applicants(database_url: str, count: int, tag: str, seed: int = 2026) -> list[Applicant]:
    """Create ``count`` applicants and their residences in two COPYs; return them in creation order."""
    conn = await asyncpg.connect(database_url)
    try:
        taken = {r["personal_id"] for r in await conn.fetch("SELECT personal_id FROM people")}
        applicants = make_applicants(count, tag, taken, random.Random(seed), datetime.now(UTC).date())
        async with conn.transaction():
            await conn.copy_records_to_table(
                "people",
                records=[(a.personal_id, a.full_name, a.birth_date, a.sex, "alive", "VN", True, None)
                         for a in applicants],
                columns=("personal_id", "full_name", "birth_date", "sex", "status", "nationality",
                         "full_civil_capacity", "fee_exemption"),
            )
            await conn.copy_records_to_table(
                "residences",
                records=[(PROVINCE, COMMUNE, a.address_line, 80, a.personal_id, None) for a in applicants],
                columns=("province_code", "commune_code", "address_line", "floor_area_m2", "owner_id", "barred_reason"),
            )
        # Vacuumed as well: autovacuum would otherwise take the fresh rows up within a minute, in the middle of
        # the first measured phase, and its CPU would weigh on whichever phase that is.
        await conn.execute("VACUUM (ANALYZE) people, residences")
    finally:
        await conn.close()
    return applicants


def registration(applicant: Applicant, code: str) -> dict[str, Any]:
    """A permanent-residence registration at the applicant's own residence, with the production timings."""
    return {
        "procedure": "PermanentResidenceRegistration",
        "dossier_code": code,
        "received_at": datetime.now(UTC).isoformat(),
        "channel": "online",
        "applicant": applicant.person(),
        "police_unit": UNIT,
        "declaration_truthful": True,
        "consents": [],
        "delivery": {"method": "electronic", "destination": "VNeID"},
        "details": {
            "basis": "own_residence",
            "residence": {"province_code": PROVINCE, "commune_code": COMMUNE, "address_line": applicant.address_line},
        },
    }


def stay_notification(host: Applicant, guest: Applicant, code: str) -> dict[str, Any]:
    """A hotel notifies one Vietnamese guest staying two nights (Điều 30)."""
    now = datetime.now(UTC)
    return {
        "procedure": "StayNotification",
        "dossier_code": code,
        "received_at": now.isoformat(),
        "channel": "online",
        "applicant": host.person(),
        "police_unit": UNIT,
        "declaration_truthful": True,
        "consents": [],
        "delivery": {"method": "electronic", "destination": "VNeID"},
        "details": {
            "host_kind": "hotel",
            "place": {"province_code": PROVINCE, "commune_code": COMMUNE, "address_line": host.address_line},
            "guests": [guest.person()],
            "arrival": now.isoformat(),
            "departure": (now.date() + timedelta(days=2)).isoformat(),
            "reason": "Du lịch",
        },
    }


def household_stay(host: Applicant, guest: Applicant, code: str) -> dict[str, Any]:
    """A household notifies one relative staying two nights: a dossier of its own, accepted at once."""
    notification = stay_notification(host, guest, code)
    notification["details"]["host_kind"] = "household"
    return notification


async def one_of_each(database_url: str, tag: str, seed: int = 2026) -> list[dict[str, Any]]:
    """One eligible submission of every procedure, in the demo unit (whose officer the bench plays), received now.

    The stay notification is a household's: an establishment's goes through a register, measured apart."""
    rng = random.Random(seed)
    conn = await asyncpg.connect(database_url)
    try:
        population = Population(conn, rng, [UNIT], today_in_vietnam(datetime.now(UTC)))
        submissions: list[dict[str, Any]] = []
        async with conn.transaction():
            for index, procedure in enumerate(Procedure):
                code = f"HS-{tag}-P{index:06d}"
                while True:
                    built = await BUILDERS[procedure](population, code, UNIT)
                    case = Case(code=code, procedure=procedure, submission=built, plan=Plan(),
                                stamp_arrival=procedure == Procedure.STAY_NOTIFICATION)
                    raw = case.materialize(datetime.now(UTC))
                    if not uses_register(check_submission(raw)):
                        break
                submissions.append(raw)
    finally:
        await conn.close()
    return submissions
