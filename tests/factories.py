"""Test data made by each test for itself, so that tests never depend on the seed's random choices."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from activities.payment import LocalPaymentGateway
from cutru.client import DossierClient
from domain.identity import generate_personal_id
from domain.models import PaymentConfirmation

DEMO_COMMUNE = "00070"  # Phường Hoàn Kiếm, Hà Nội
DEMO_PROVINCE = "01"
DEMO_UNIT = f"CA-{DEMO_COMMUNE}"
FAST = {
    "payment_timeout": "PT30S",
    "payment_poll_interval": "PT1S",
    "supplement_timeout": "PT60S",
    "reminder_fraction": 0.25,
}


class PersonRow(BaseModel):
    personal_id: str
    full_name: str
    birth_date: date
    sex: str


class Place(BaseModel):
    residence_id: int
    address_line: str
    household_id: int | None = None
    head_id: str | None = None


async def new_person(
    conn: asyncpg.Connection,
    *,
    birth_date: date = date(1990, 5, 17),
    sex: str = "female",
    full_name: str = "Nguyễn Thị Ánh Tuyết",
    status: str = "alive",
    fee_exemption: str | None = None,
) -> PersonRow:
    rng = random.Random(uuid.uuid4().int)
    while True:
        pid = generate_personal_id(rng, DEMO_PROVINCE, birth_date, sex)  # type: ignore[arg-type]
        inserted = await conn.fetchval(
            "INSERT INTO people (personal_id, full_name, birth_date, sex, status, fee_exemption)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING personal_id",
            pid, full_name, birth_date, sex, status, fee_exemption,
        )
        if inserted:
            return PersonRow(personal_id=pid, full_name=full_name, birth_date=birth_date, sex=sex)


async def new_place(
    conn: asyncpg.Connection,
    *,
    owner_id: str | None,
    floor_area_m2: float = 80.0,
    barred_reason: str | None = None,
    head_id: str | None = None,
    members: int = 0,
) -> Place:
    """A residence in the demo commune, optionally with a household (head plus ``members`` others)."""
    line = f"Số {uuid.uuid4().hex[:8]}, phố Hàng Bài"
    residence_id = await conn.fetchval(
        "INSERT INTO residences (province_code, commune_code, address_line, floor_area_m2, owner_id, barred_reason)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING residence_id",
        DEMO_PROVINCE, DEMO_COMMUNE, line, floor_area_m2, owner_id, barred_reason,
    )
    household_id = None
    if head_id is not None:
        household_id = await conn.fetchval(
            "INSERT INTO households (residence_id, head_id) VALUES ($1, $2) RETURNING household_id",
            residence_id, head_id,
        )
        await conn.execute(
            "INSERT INTO household_members (personal_id, household_id, relation_to_head) VALUES ($1, $2, 'head')"
            " ON CONFLICT (personal_id) DO UPDATE SET household_id = EXCLUDED.household_id",
            head_id, household_id,
        )
        for _ in range(members):
            member = await new_person(conn, full_name="Trần Văn Bình", sex="male")
            await conn.execute(
                "INSERT INTO household_members (personal_id, household_id, relation_to_head)"
                " VALUES ($1, $2, 'child')",
                member.personal_id, household_id,
            )
    return Place(residence_id=residence_id, address_line=line, household_id=household_id, head_id=head_id)


def dossier_code() -> str:
    return f"HS-TEST-{uuid.uuid4().hex[:10].upper()}"


def registration(
    person: PersonRow,
    place: Place,
    *,
    basis: str = "own_residence",
    consents: list[dict[str, Any]] | None = None,
    code: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    """A permanent-residence registration submission as the portal sends it (JSON-ready dict)."""
    return {
        "procedure": "PermanentResidenceRegistration",
        "dossier_code": code or dossier_code(),
        "received_at": datetime.now(UTC).isoformat(),
        "channel": "online",
        "applicant": {
            "personal_id": person.personal_id,
            "full_name": person.full_name,
            "birth_date": person.birth_date.isoformat(),
            "sex": person.sex,
        },
        "police_unit": DEMO_UNIT,
        "declaration_truthful": True,
        "consents": consents or [],
        "delivery": {"method": "electronic", "destination": "vneid:" + person.personal_id[-4:]},
        "processing": FAST,
        "details": {
            "basis": basis,
            "residence": {"province_code": DEMO_PROVINCE, "commune_code": DEMO_COMMUNE,
                          "address_line": place.address_line},
            **details,
        },
    }


async def pay(dossiers: DossierClient, pool: asyncpg.Pool, code: str) -> None:
    """The citizen pays on the portal; the gateway calls the dossier back."""
    order = await LocalPaymentGateway(pool).pay(code)
    await dossiers.confirm_payment(code, PaymentConfirmation(order_id=order.order_id, amount_vnd=order.amount_vnd))
