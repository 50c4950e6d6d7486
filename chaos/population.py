"""People, places and a submission for each dossier of the campaign, one builder per procedure.

Each builder writes the facts its dossier needs into the campaign's database (a person, a residence, a household,
residence records) so that the dossier is meant to pass the procedure's rules, and returns the submission as the
portal would send it. Every dossier gets people and places of its own, so that whatever a fault does, each
dossier's expected effects can be checked on their own; except the competing pairs (``competing_pair``): two
dossiers, each valid when filed, that cannot both be committed on the one household they share.

The rules evolve; a builder that no longer fits simply yields refused dossiers, which are still final states and
still checked. A builder whose submission the models refuse is reported and its procedure skipped.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel

from domain.admin_units import commune
from domain.calendar import VN_TZ, local_date
from domain.identity import generate_personal_id
from domain.kinds import Procedure
from domain.models import ProcessingOptions
from domain.names import random_full_name
from domain.procedures.catalogue import PROCEDURES

Sex = Literal["male", "female"]

# The campaign workers' timings: short enough to fit between faults, long enough that no fault cancels a dossier
# (cancellations would hide losses).
PROCESSING = ProcessingOptions(payment_timeout=timedelta(minutes=15), payment_poll_interval=timedelta(seconds=2),
                               supplement_timeout=timedelta(minutes=30), reminder_fraction=0.25)


class Person(BaseModel, frozen=True):
    personal_id: str
    full_name: str
    birth_date: date
    sex: Sex

    def applicant(self) -> dict[str, str]:
        return {"personal_id": self.personal_id, "full_name": self.full_name,
                "birth_date": self.birth_date.isoformat(), "sex": self.sex}


class Place(BaseModel, frozen=True):
    residence_id: int
    province_code: str
    commune_code: str
    address_line: str
    household_id: int | None = None

    def address(self) -> dict[str, str]:
        return {"province_code": self.province_code, "commune_code": self.commune_code,
                "address_line": self.address_line}


class Plan(BaseModel, frozen=True):
    """What the officer and the citizen do with a dossier; drawn from the campaign's seed."""

    supplement_rounds: int = 0
    final: Literal["approve", "reject", "withdraw"] = "approve"
    via: Literal["update", "signal"] = "update"
    citizen_pays: bool = False


class Case(BaseModel):
    """One dossier of the campaign: its submission (without the receipt time) and what is done with it."""

    code: str
    procedure: Procedure
    submission: dict[str, Any]
    plan: Plan
    stamp_arrival: bool = False  # stay notification: the guest arrives when the notice is sent
    household: int | None = None  # the household a competing pair shares
    paper: bytes | None = None  # the file its attachment references, uploaded before the submission

    def materialize(self, now: datetime) -> dict[str, Any]:
        """The submission as sent at ``now``: receipt time (and arrival) set, since a future or stale receipt
        time is refused."""
        raw = {**self.submission, "received_at": now.isoformat()}
        if self.stamp_arrival:
            # A hotel's notice goes to its register for the arrival day. Two days back, that register's closing
            # time has passed, so it closes after each batch like any dossier, and the drain can wait for it
            # (notices that late are accepted, flagged as late).
            hotel = raw["details"]["host_kind"] == "hotel"
            arrival = now - (timedelta(days=2) if hotel else timedelta(minutes=1))
            raw["details"] = {**raw["details"], "arrival": arrival.isoformat(),
                              "departure": (local_date(arrival) + timedelta(days=3)).isoformat()}
        return raw


@dataclass
class Population:
    """Writes the facts of one dossier at a time; ``units`` are the seeded police units with officers."""

    conn: asyncpg.Connection
    rng: random.Random
    units: list[str]
    today: date
    _serial: int = field(default=0)

    def commune_of(self, unit: str) -> str:
        return unit.removeprefix("CA-")

    def elsewhere(self, unit: str) -> str:
        """Another seeded commune (permanent residence elsewhere, for the temporary procedures)."""
        others = [u for u in self.units if u != unit]
        return self.commune_of(self.rng.choice(others)) if others else "00073"

    async def person(self, *, age: tuple[int, int] = (25, 60), status: str = "alive") -> Person:
        sex: Sex = "male" if self.rng.random() < 0.5 else "female"
        birth = self.today - timedelta(days=self.rng.randrange(age[0] * 366, age[1] * 365))
        name = random_full_name(self.rng, sex, birth_year=birth.year)
        while True:
            pid = generate_personal_id(self.rng, "01", birth, sex)
            inserted = await self.conn.fetchval(
                "INSERT INTO people (personal_id, full_name, birth_date, sex, status) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT DO NOTHING RETURNING personal_id", pid, name, birth, sex, status)
            if inserted:
                return Person(personal_id=pid, full_name=name, birth_date=birth, sex=sex)

    async def place(self, commune_code: str, *, owner: Person | None, head: Person | None = None) -> Place:
        unit = commune(commune_code)
        assert unit is not None, f"unknown commune {commune_code}"
        self._serial += 1
        # A line no seeded residence has: the rules look residences up by commune and address line.
        line = f"Số {self._serial} ngách {self.rng.randrange(1, 99)} ngõ Chaos {self.rng.randrange(10_000)}"
        residence_id = await self.conn.fetchval(
            "INSERT INTO residences (province_code, commune_code, address_line, floor_area_m2, owner_id)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING residence_id",
            unit.province_code, commune_code, line, 90, owner.personal_id if owner else None)
        household_id = None
        if head is not None:
            household_id = await self.conn.fetchval(
                "INSERT INTO households (residence_id, head_id) VALUES ($1, $2) RETURNING household_id",
                residence_id, head.personal_id)
            await self.join(head, household_id, residence_id, "head")
        return Place(residence_id=residence_id, province_code=unit.province_code, commune_code=commune_code,
                     address_line=line, household_id=household_id)

    async def join(self, person: Person, household_id: int, residence_id: int, relation: str) -> None:
        """``person`` becomes a member of the household, permanently registered at its residence."""
        await self.conn.execute(
            "INSERT INTO household_members (personal_id, household_id, relation_to_head) VALUES ($1, $2, $3)",
            person.personal_id, household_id, relation)
        await self.permanent(person, residence_id)

    async def permanent(self, person: Person, residence_id: int) -> None:
        await self.conn.execute(
            "INSERT INTO permanent_residences (personal_id, residence_id, valid_from, status)"
            " VALUES ($1, $2, $3, 'active')", person.personal_id, residence_id, self.today - timedelta(days=2000))

    async def temporary(self, person: Person, residence_id: int, valid_to: date) -> None:
        await self.conn.execute(
            "INSERT INTO temporary_residences (personal_id, residence_id, valid_from, valid_to, status)"
            " VALUES ($1, $2, $3, $4, 'active')", person.personal_id, residence_id,
            self.today - timedelta(days=300), valid_to)

    async def resident(self, commune_code: str) -> tuple[Person, Place]:
        """An adult heading a one-person household, permanently registered in ``commune_code``."""
        person = await self.person()
        home = await self.place(commune_code, owner=person, head=person)
        return person, home

    def submission(self, code: str, procedure: Procedure, applicant: Person, unit: str, details: dict[str, Any],
                   consents: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        postal = self.rng.random() < 0.2
        return {
            "procedure": procedure.value,
            "dossier_code": code,
            "channel": "online",
            "applicant": applicant.applicant(),
            "police_unit": unit,
            "declaration_truthful": True,
            "consents": consents or [],
            "delivery": {"method": "postal" if postal else "electronic",
                         "destination": "Số 5 phố Tràng Tiền, Hà Nội" if postal else "VNeID"},
            "details": details,
        }


Builder = Callable[[Population, str, str], Awaitable[dict[str, Any]]]
COMPETING_PLAN = Plan()  # approved at once by update, the fee confirmed by the gateway: the two race to the commit


def paper(code: str, kind: str) -> tuple[bytes, dict[str, Any]]:
    """A one-page PDF of its own for the dossier ``code``, and its attachment reference."""
    content = f"%PDF-1.4\n% {kind} of dossier {code}\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".encode()
    return content, {"kind": kind, "sha256": hashlib.sha256(content).hexdigest(), "file_name": f"{kind}.pdf",
                     "media_type": "application/pdf", "size_bytes": len(content)}


async def competing_pair(p: Population, codes: tuple[str, str],
                         unit: str) -> tuple[int, list[tuple[Procedure, dict[str, Any]]]]:
    """Two dossiers on one household (its id returned), each valid when filed: the grown child splits off twice, or
    splits off while the head hands the household over to that child. Whichever commits first, the other must not
    commit as well."""
    head, home = await p.resident(p.commune_of(unit))
    child = await p.person(age=(20, 30))
    assert home.household_id is not None
    await p.join(child, home.household_id, home.residence_id, "child")
    split = p.submission(codes[0], Procedure.HOUSEHOLD_SEPARATION, child, unit,
                         {"members": [{"personal_id": child.personal_id, "relation_to_new_head": "head"}]},
                         consents=[{"role": "household_head", "personal_id": head.personal_id}])
    if p.rng.random() < 0.5:
        other = (Procedure.HOUSEHOLD_SEPARATION, {**split, "dossier_code": codes[1]})
    else:
        other = (Procedure.RESIDENCE_INFO_ADJUSTMENT, p.submission(
            codes[1], Procedure.RESIDENCE_INFO_ADJUSTMENT, head, unit,
            {"change": "household_head", "new_head_id": child.personal_id}))
    return home.household_id, [(Procedure.HOUSEHOLD_SEPARATION, split), other]


async def _permanent_registration(p: Population, code: str, unit: str) -> dict[str, Any]:
    here = p.commune_of(unit)
    person, _ = await p.resident(here)
    new_home = await p.place(here, owner=person)
    return p.submission(code, Procedure.PERMANENT_RESIDENCE_REGISTRATION, person, unit,
                        {"basis": "own_residence", "residence": new_home.address()})


async def _permanent_deletion(p: Population, code: str, unit: str) -> dict[str, Any]:
    head, home = await p.resident(p.commune_of(unit))
    deceased = await p.person(age=(60, 90), status="dead")
    assert home.household_id is not None
    await p.join(deceased, home.household_id, home.residence_id, "parent")
    return p.submission(code, Procedure.PERMANENT_RESIDENCE_DELETION, head, unit, {
        "subject_id": deceased.personal_id, "case": "death",
        "event_date": (p.today - timedelta(days=2)).isoformat()})


async def _tenant(p: Population, unit: str) -> tuple[Person, Person, Place]:
    """An adult registered elsewhere, and a rented place here owned by someone else."""
    tenant, _ = await p.resident(p.elsewhere(unit))
    owner = await p.person()
    rented = await p.place(p.commune_of(unit), owner=owner)
    return tenant, owner, rented


async def _temporary_registration(p: Population, code: str, unit: str) -> dict[str, Any]:
    tenant, owner, rented = await _tenant(p, unit)
    return p.submission(code, Procedure.TEMPORARY_RESIDENCE_REGISTRATION, tenant, unit, {
        "basis": "rented_or_borrowed", "residence": rented.address(),
        "requested_until": (p.today + timedelta(days=180)).isoformat()},
        consents=[{"role": "owner", "personal_id": owner.personal_id}])


async def _temporary_extension(p: Population, code: str, unit: str) -> dict[str, Any]:
    tenant, owner, rented = await _tenant(p, unit)
    ends = p.today + timedelta(days=10)  # inside the 15-day extension window
    await p.temporary(tenant, rented.residence_id, ends)
    return p.submission(code, Procedure.TEMPORARY_RESIDENCE_EXTENSION, tenant, unit,
                        {"requested_until": (ends + timedelta(days=365)).isoformat()},
                        consents=[{"role": "owner", "personal_id": owner.personal_id}])


async def _temporary_deletion(p: Population, code: str, unit: str) -> dict[str, Any]:
    tenant, _, rented = await _tenant(p, unit)
    await p.temporary(tenant, rented.residence_id, p.today + timedelta(days=100))
    return p.submission(code, Procedure.TEMPORARY_RESIDENCE_DELETION, tenant, unit, {
        "case": "lost_nationality", "event_date": (p.today - timedelta(days=2)).isoformat()})


async def _household_separation(p: Population, code: str, unit: str) -> dict[str, Any]:
    head, home = await p.resident(p.commune_of(unit))
    child = await p.person(age=(20, 30))
    assert home.household_id is not None
    await p.join(child, home.household_id, home.residence_id, "child")
    return p.submission(code, Procedure.HOUSEHOLD_SEPARATION, child, unit,
                        {"members": [{"personal_id": child.personal_id, "relation_to_new_head": "head"}]},
                        consents=[{"role": "household_head", "personal_id": head.personal_id}])


async def _info_adjustment(p: Population, code: str, unit: str) -> dict[str, Any]:
    head, home = await p.resident(p.commune_of(unit))
    if p.rng.random() < 0.5:
        spouse = await p.person()
        assert home.household_id is not None
        await p.join(spouse, home.household_id, home.residence_id, "spouse")
        details: dict[str, Any] = {"change": "household_head", "new_head_id": spouse.personal_id}
    else:
        details = {"change": "civil_status", "new_full_name": random_full_name(p.rng, head.sex),
                   "civil_status_extract_number": f"{p.rng.randrange(1, 999)}/TLKS-{p.today.year}"}
    return p.submission(code, Procedure.RESIDENCE_INFO_ADJUSTMENT, head, unit, details)


async def _declaration(p: Population, code: str, unit: str) -> dict[str, Any]:
    person = await p.person()  # no residence record anywhere: the case of Điều 19
    here = p.commune_of(unit)
    unit_commune = commune(here)
    assert unit_commune is not None
    return p.submission(code, Procedure.RESIDENCE_DECLARATION, person, unit, {
        "current_place": {"province_code": unit_commune.province_code, "commune_code": here,
                          "address_line": f"Lán trại công trình số {p.rng.randrange(1, 500)}"},
        "reason_not_registered": "Chỗ ở là lán trại tạm, không đủ điều kiện đăng ký cư trú"})


async def _confirmation(p: Population, code: str, unit: str) -> dict[str, Any]:
    person, _ = await p.resident(p.commune_of(unit))
    return p.submission(code, Procedure.RESIDENCE_CONFIRMATION, person, unit,
                        {"purpose": "Bổ sung hồ sơ tuyển dụng"})


async def _stay(p: Population, code: str, unit: str) -> dict[str, Any]:
    host, home = await p.resident(p.commune_of(unit))
    guests = [{"full_name": "Kim Min Jun", "birth_date": "1991-03-04", "sex": "male",
               "passport_number": f"M{p.rng.randrange(10**7, 10**8)}"}
              for _ in range(p.rng.randint(1, 3))]
    # Half the notices come from a hotel (the host's address as its place): they go through a stay register.
    return p.submission(code, Procedure.STAY_NOTIFICATION, host, unit, {
        "host_kind": p.rng.choice(("household", "hotel")), "place": home.address(), "guests": guests,
        "arrival": "", "departure": "", "reason": "Thăm người thân"})


async def _absence(p: Population, code: str, unit: str) -> dict[str, Any]:
    person, _ = await p.resident(p.commune_of(unit))
    start = p.today + timedelta(days=1)
    return p.submission(code, Procedure.TEMPORARY_ABSENCE_DECLARATION, person, unit, {
        "category": "d", "absence_from": start.isoformat(), "absence_to": (start + timedelta(days=400)).isoformat(),
        "destination": "Thành phố Hồ Chí Minh", "reason": "Đi làm ăn xa"})


BUILDERS: dict[Procedure, Builder] = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: _permanent_registration,
    Procedure.PERMANENT_RESIDENCE_DELETION: _permanent_deletion,
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: _temporary_registration,
    Procedure.TEMPORARY_RESIDENCE_EXTENSION: _temporary_extension,
    Procedure.TEMPORARY_RESIDENCE_DELETION: _temporary_deletion,
    Procedure.HOUSEHOLD_SEPARATION: _household_separation,
    Procedure.RESIDENCE_INFO_ADJUSTMENT: _info_adjustment,
    Procedure.RESIDENCE_DECLARATION: _declaration,
    Procedure.RESIDENCE_CONFIRMATION: _confirmation,
    Procedure.STAY_NOTIFICATION: _stay,
    Procedure.TEMPORARY_ABSENCE_DECLARATION: _absence,
}


def draw_plan(rng: random.Random, procedure: Procedure) -> Plan:
    """Most dossiers are approved; some rejected, some sent back for a supplement (once or twice), a few
    withdrawn; decisions arrive by update or by signal; half of the fees are paid by the citizen on the portal,
    the others confirmed by the gateway on its own."""
    if not PROCEDURES[procedure].officer_review:
        return Plan()
    roll = rng.random()
    final: Literal["approve", "reject", "withdraw"] = (
        "approve" if roll < 0.72 else "reject" if roll < 0.90 else "withdraw")
    rounds = 0 if rng.random() < 0.75 else rng.choice((1, 1, 2))
    return Plan(supplement_rounds=rounds, final=final, via="signal" if rng.random() < 0.3 else "update",
                citizen_pays=rng.random() < 0.5)


def today_in_vietnam(now: datetime) -> date:
    return now.astimezone(VN_TZ).date()
