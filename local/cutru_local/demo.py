"""``make demo``: the whole service on this machine, end to end through its API, with a readable summary.

Starts the local stack (Temporal dev server, PostgreSQL, the OIDC provider, the payment gateway and the API),
seeds a synthetic population when the database is empty, runs a worker process (with the stack's payload and
decision keys: everything runs encrypted), and then plays every party through the API as an integrator would:

- the portal backend, with a client-credentials token of ``cutru-portal``: submits each dossier, reads its status,
  sends the supplement or the applicant's withdrawal, asks for the payment link, downloads the result documents
  and checks each one's SHA-256;
- the unit's officers, each signed in to the OIDC provider with authorization code + PKCE (the login form filled
  in by script): the supervisor opens the dossier on the desk to see whom it is assigned to, and that officer
  decides;
- the citizen's browser: opens the gateway's payment page, pays, and is sent back to the API's return address,
  while the gateway sends its signed IPN to the API.

Two kinds of dossier: permanent-residence registrations built from the seeded people (approved, joined, with a
supplement round, rejected, withdrawn, refused), and one dossier per procedure from ``examples/<Procedure>.json``.
The example files name fixed people and places; ``prepare_examples`` (re)creates them and their records before
each run, dated relative to today, so the examples can be filed again and again: each run gives a file a fresh
dossier code, today's receipt time, and its dates moved by as many days as today is after the file's
``received_at``.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import asyncpg
import httpx
from pydantic import BaseModel

from activities.payment import pay_at_local_gateway
from cutru.api.client import ApiError
from cutru.api.payments import PaymentResultView, PaymentView
from cutru.api.views import DossierView, SubmitReceipt
from cutru.clients.officer import DecisionRequest, DeskDossier
from cutru.clients.signoff import SignOffRequest
from cutru.platform.config import processing_environment
from cutru_local.oidc import ACCESS_TOKEN_TTL, PORTAL_CLIENT
from cutru_local.seed import (
    DEMO_COMMUNE_CODE,
    DEMO_OFFICER_ID,
    DEMO_PROVINCE_CODE,
    DEMO_SUPERVISOR_ID,
    DEMO_UNIT_CODE,
    seed,
)
from cutru_local.stack import (
    PROJECT_ROOT,
    STATE_DIR,
    StackAddresses,
    refresh_oidc_accounts,
    start_stack,
    use_stack_environment,
)
from cutru_local.tokens import client_credentials_token, login_token
from domain.calendar import local_date
from domain.kinds import Procedure
from domain.models import (
    DecisionKind,
    DecisionReceipt,
    DossierState,
    ProcessingOptions,
    SignOffKind,
    SignOffReceipt,
    Supplement,
)
from domain.procedures.catalogue import PROCEDURES, parse_submission

DEMO_PEOPLE = 20_000
# The demo worker's timings: a fee or a supplement left waiting gives up within minutes, not days.
DEMO_PROCESSING = ProcessingOptions(payment_timeout=timedelta(minutes=2), payment_poll_interval=timedelta(seconds=2),
                                    supplement_timeout=timedelta(minutes=5))

_OWNER_ELSEWHERE = """
SELECT p.personal_id, p.full_name, p.birth_date, p.sex, r.address_line
FROM residences r JOIN people p ON p.personal_id = r.owner_id
WHERE r.commune_code = $1 AND r.barred_reason IS NULL AND p.status = 'alive' AND p.full_civil_capacity
  AND p.birth_date < current_date - interval '18 years'
  AND NOT EXISTS (SELECT 1 FROM permanent_residences pr
                  WHERE pr.personal_id = p.personal_id AND pr.status = 'active' AND pr.residence_id = r.residence_id)
  AND NOT EXISTS (SELECT 1 FROM dossiers d WHERE d.applicant_id = p.personal_id)
  AND (SELECT count(*) FROM residences r2 WHERE r2.commune_code = r.commune_code
       AND lower(r2.address_line) = lower(r.address_line)) = 1
ORDER BY r.residence_id LIMIT $2
"""
_HOUSEHOLD_TO_JOIN = """
SELECT h.head_id, r.owner_id, r.address_line
FROM households h JOIN residences r ON r.residence_id = h.residence_id
WHERE r.commune_code = $1 AND r.barred_reason IS NULL
  AND (SELECT count(*) FROM residences r2 WHERE r2.commune_code = r.commune_code
       AND lower(r2.address_line) = lower(r.address_line)) = 1
ORDER BY h.household_id LIMIT 1
"""
_ADULT_ELSEWHERE = """
SELECT p.personal_id, p.full_name, p.birth_date, p.sex
FROM people p JOIN permanent_residences pr ON pr.personal_id = p.personal_id AND pr.status = 'active'
JOIN residences r ON r.residence_id = pr.residence_id
WHERE r.commune_code <> $1 AND p.status = 'alive' AND p.full_civil_capacity
  AND p.birth_date BETWEEN current_date - interval '60 years' AND current_date - interval '20 years'
  AND NOT EXISTS (SELECT 1 FROM dossiers d WHERE d.applicant_id = p.personal_id)
ORDER BY p.personal_id LIMIT 1
"""


def _person(person: asyncpg.Record) -> dict[str, str]:
    return {"personal_id": person["personal_id"], "full_name": person["full_name"],
            "birth_date": person["birth_date"].isoformat(), "sex": person["sex"]}


def _place(address_line: str) -> dict[str, str]:
    return {"province_code": DEMO_PROVINCE_CODE, "commune_code": DEMO_COMMUNE_CODE, "address_line": address_line}


def _submission(person: asyncpg.Record, address_line: str, details: dict[str, Any],
                consents: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return _envelope(Procedure.PERMANENT_RESIDENCE_REGISTRATION, person,
                     {"residence": _place(address_line), **details}, consents)


def _hotel_stay(host: asyncpg.Record, guest: asyncpg.Record) -> dict[str, Any]:
    """A hotel (the host's own address here) notifies one guest: it goes into the hotel's register for the day."""
    now = datetime.now(UTC)
    return _envelope(Procedure.STAY_NOTIFICATION, host, {
        "host_kind": "hotel", "place": _place(host["address_line"]), "guests": [_person(guest)],
        "arrival": now.isoformat(), "departure": (local_date(now) + timedelta(days=2)).isoformat(),
        "reason": "Du lịch"})


def _envelope(procedure: Procedure, person: asyncpg.Record, details: dict[str, Any],
              consents: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "procedure": procedure.value,
        "dossier_code": f"HS-DEMO-{uuid.uuid4().hex[:8].upper()}",
        "received_at": datetime.now(UTC).isoformat(),
        "applicant": _person(person),
        "police_unit": DEMO_UNIT_CODE,
        "declaration_truthful": True,
        "consents": consents or [],
        "delivery": {"method": "electronic", "destination": "VNeID"},
        "details": details,
    }


async def _scenarios(conn: asyncpg.Connection) -> list[tuple[str, dict[str, Any], str]]:
    """(what happens, submission, what the officer does) for each example dossier."""
    owners = await conn.fetch(_OWNER_ELSEWHERE, DEMO_COMMUNE_CODE, 6)
    household = await conn.fetchrow(_HOUSEHOLD_TO_JOIN, DEMO_COMMUNE_CODE)
    joiner = await conn.fetchrow(_ADULT_ELSEWHERE, DEMO_COMMUNE_CODE)
    if len(owners) < 6 or household is None or joiner is None:
        raise SystemExit("the seeded population has too few demo candidates; run `make clean demo` to reseed")
    consents = [{"role": "household_head", "personal_id": household["head_id"]}]
    if household["owner_id"] and household["owner_id"] != household["head_id"]:
        consents.append({"role": "owner", "personal_id": household["owner_id"]})
    return [
        ("own residence, approved, fee paid", _submission(owners[0], owners[0]["address_line"],
                                                          {"basis": "own_residence"}), "approve"),
        ("joins a relative's household", _submission(joiner, household["address_line"],
                                                     {"basis": "join_relative", "relation_to_head": "child"},
                                                     consents), "approve"),
        ("supplement requested, then approved", _submission(owners[1], owners[1]["address_line"],
                                                            {"basis": "own_residence"}), "supplement"),
        ("rejected by the officer", _submission(owners[2], owners[2]["address_line"],
                                                {"basis": "own_residence"}), "reject"),
        ("withdrawn by the applicant", _submission(owners[5], owners[5]["address_line"],
                                                   {"basis": "own_residence"}), "withdraw"),
        ("refused: rental contract not certified", _submission(owners[3], owners[3]["address_line"],
                                                               {"basis": "rented_or_borrowed"}), "none"),
        ("hotel notifies a guest (stay register)", _hotel_stay(owners[4], owners[3]), "none"),
    ]


# ---- the example world: who and what the files under examples/ name --------------------------------------------

EXAMPLES_DIR = PROJECT_ROOT / "examples"


class ExamplePerson(NamedTuple):
    personal_id: str
    full_name: str
    birth_date: date
    sex: str
    status: str = "alive"


class ExamplePlace(NamedTuple):
    commune_code: str
    address_line: str
    owner: str | None  # key of EXAMPLE_PEOPLE
    floor_area_m2: int = 60


EXAMPLE_PEOPLE: dict[str, ExamplePerson] = {
    "tuyet": ExamplePerson("001190464973", "Nguyễn Thị Ánh Tuyết", date(1990, 5, 17), "female"),
    "lan": ExamplePerson("001162613332", "Phạm Thị Lan", date(1962, 4, 1), "female"),
    "hung": ExamplePerson("001058544353", "Phạm Văn Hùng", date(1958, 9, 9), "male", status="dead"),
    "quan": ExamplePerson("001095405364", "Lê Minh Quân", date(1995, 6, 6), "male"),
    "hoa": ExamplePerson("001170307924", "Đỗ Thị Hoa", date(1970, 3, 3), "female"),
    "mai": ExamplePerson("001197753734", "Vũ Thị Mai", date(1997, 7, 7), "female"),
    "nam": ExamplePerson("001094223268", "Hoàng Văn Nam", date(1994, 4, 4), "male"),
    "duc": ExamplePerson("001058745958", "Trần Văn Đức", date(1958, 1, 1), "male"),
    "khoa": ExamplePerson("001088145821", "Trần Minh Khoa", date(1988, 2, 2), "male"),
    "thu": ExamplePerson("001190437778", "Ngô Thị Thu", date(1990, 3, 3), "female"),
    "tai": ExamplePerson("001050111290", "Bùi Văn Tài", date(1950, 5, 5), "male"),
    "hanh": ExamplePerson("001155968620", "Lương Thị Hạnh", date(1955, 6, 6), "female"),
    "son": ExamplePerson("001085445002", "Đinh Văn Sơn", date(1985, 12, 12), "male"),
    "ngoc": ExamplePerson("001199140428", "Lý Thị Ngọc", date(1999, 9, 9), "female"),
    "tien": ExamplePerson("001092901999", "Mai Văn Tiến", date(1992, 10, 10), "male"),
}
# Address lines with a letter after the number ("2A") never collide with the seed's, which are plain numbers.
EXAMPLE_PLACES: dict[str, ExamplePlace] = {
    "hang_bai": ExamplePlace("00070", "Số 2A phố Hàng Bài", "tuyet", 70),
    "hang_gai": ExamplePlace("00070", "Số 4A phố Hàng Gai", "lan", 80),
    "hang_bong": ExamplePlace("00070", "Phòng 3, số 6A phố Hàng Bông", "hoa", 25),
    "hang_trong_1": ExamplePlace("00070", "Phòng 1, số 8A phố Hàng Trống", "hoa", 25),
    "hang_trong_2": ExamplePlace("00070", "Phòng 2, số 8A phố Hàng Trống", "hoa", 25),
    "hang_buom": ExamplePlace("00070", "Số 10A phố Hàng Buồm", "duc", 120),
    "lo_su": ExamplePlace("00070", "Số 14A phố Lò Sũ", "tai", 90),
    "ma_may": ExamplePlace("00070", "Số 16A phố Mã Mây", None, 40),
    "hang_khay": ExamplePlace("00070", "Số 18A phố Hàng Khay", "tien", 60),
    "trang_thi_7": ExamplePlace("00073", "Số 7A phố Tràng Thi", "quan", 50),  # Phường Cửa Nam
    "trang_thi_9": ExamplePlace("00073", "Số 9A phố Tràng Thi", "mai", 50),
}
# (place, head, members with their relation to the head); every member holds a permanent record there.
EXAMPLE_HOUSEHOLDS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("hang_gai", "lan", (("hung", "spouse"),)),
    ("hang_buom", "duc", (("khoa", "child"), ("thu", "child_in_law"))),
    ("lo_su", "tai", (("hanh", "spouse"),)),
    ("hang_khay", "tien", ()),
    ("trang_thi_7", "quan", ()),
    ("trang_thi_9", "mai", ()),
)
# (person, place, first day, last day) of active temporary residences, in days from today.
EXAMPLE_TEMPORARY: tuple[tuple[str, str, int, int], ...] = (
    ("mai", "hang_trong_1", -355, 10),  # ends in 10 days: inside the 15-day extension window
    ("nam", "hang_trong_2", -100, 200),
)
# What each example shows, for the demo's summary line.
EXAMPLE_SCENARIOS: dict[Procedure, str] = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: "example: owner registers at own house",
    Procedure.PERMANENT_RESIDENCE_DELETION: "example: spouse reports a death",
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: "example: tenant, landlord consents",
    Procedure.TEMPORARY_RESIDENCE_EXTENSION: "example: extends 10 days before the end",
    Procedure.TEMPORARY_RESIDENCE_DELETION: "example: landlord reports tenancy ended",
    Procedure.HOUSEHOLD_SEPARATION: "example: son and wife form a household",
    Procedure.RESIDENCE_INFO_ADJUSTMENT: "example: wife becomes household head",
    Procedure.RESIDENCE_DECLARATION: "example: no registrable residence",
    Procedure.RESIDENCE_CONFIRMATION: "example: CT07 for a job application",
    Procedure.STAY_NOTIFICATION: "example: host notifies a guest at once",
    Procedure.TEMPORARY_ABSENCE_DECLARATION: "example: leaves 13 months to work",
}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")


async def _residence(conn: asyncpg.Connection, place: ExamplePlace) -> int:
    owner = EXAMPLE_PEOPLE[place.owner].personal_id if place.owner else None
    found = await conn.fetchval("SELECT residence_id FROM residences WHERE commune_code = $1 AND address_line = $2",
                                place.commune_code, place.address_line)
    if found is None:
        found = await conn.fetchval(
            "INSERT INTO residences (province_code, commune_code, address_line, floor_area_m2, owner_id)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING residence_id",
            DEMO_PROVINCE_CODE, place.commune_code, place.address_line, place.floor_area_m2, owner)
    await conn.execute("UPDATE residences SET owner_id = $2, floor_area_m2 = $3, barred_reason = NULL"
                       " WHERE residence_id = $1", found, owner, place.floor_area_m2)
    return int(found)


async def prepare_examples(conn: asyncpg.Connection, today: date) -> None:
    """(Re)create the example people, places, households and records, as they must be on ``today``.

    Everything the examples changed in an earlier run is put back: records of the example people are replaced,
    households they head are rebuilt, earlier declarations end. Other people's data is not touched.
    """
    ids = [person.personal_id for person in EXAMPLE_PEOPLE.values()]
    async with conn.transaction():
        await conn.executemany(
            "INSERT INTO people (personal_id, full_name, birth_date, sex, status) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (personal_id) DO UPDATE SET full_name = EXCLUDED.full_name, birth_date ="
            " EXCLUDED.birth_date, sex = EXCLUDED.sex, status = EXCLUDED.status, full_civil_capacity = true,"
            " identity_verified = true, fee_exemption = NULL",
            [tuple(person) for person in EXAMPLE_PEOPLE.values()])
        for statement in (
            "DELETE FROM temporary_residence_extensions WHERE record_id IN"
            " (SELECT record_id FROM temporary_residences WHERE personal_id = ANY($1::char(12)[]))",
            "DELETE FROM temporary_residences WHERE personal_id = ANY($1::char(12)[])",
            "DELETE FROM permanent_residences WHERE personal_id = ANY($1::char(12)[])",
            "UPDATE residence_declarations SET status = 'ended' WHERE personal_id = ANY($1::char(12)[])"
            " AND status = 'active'",
            "DELETE FROM household_members WHERE personal_id = ANY($1::char(12)[]) OR household_id IN"
            " (SELECT household_id FROM households WHERE head_id = ANY($1::char(12)[]))",
            "DELETE FROM households WHERE head_id = ANY($1::char(12)[])",
        ):
            await conn.execute(statement, ids)
        places = {key: await _residence(conn, place) for key, place in EXAMPLE_PLACES.items()}
        for place, head, members in EXAMPLE_HOUSEHOLDS:
            household = await conn.fetchval("INSERT INTO households (residence_id, head_id) VALUES ($1, $2)"
                                            " RETURNING household_id", places[place], EXAMPLE_PEOPLE[head].personal_id)
            for key, relation in ((head, "head"), *members):
                person = EXAMPLE_PEOPLE[key].personal_id
                await conn.execute("INSERT INTO household_members (personal_id, household_id, relation_to_head)"
                                   " VALUES ($1, $2, $3)", person, household, relation)
                await conn.execute("INSERT INTO permanent_residences (personal_id, residence_id, valid_from, status)"
                                   " VALUES ($1, $2, $3, 'active')", person, places[place], date(2015, 1, 1))
        for key, place, first, last in EXAMPLE_TEMPORARY:
            await conn.execute(
                "INSERT INTO temporary_residences (personal_id, residence_id, valid_from, valid_to, status)"
                " VALUES ($1, $2, $3, $4, 'active')", EXAMPLE_PEOPLE[key].personal_id, places[place],
                today + timedelta(days=first), today + timedelta(days=last))


def load_examples() -> dict[Procedure, dict[str, Any]]:
    """The example submission of each procedure, exactly as in ``examples/<Procedure>.json``."""
    examples = {}
    for path in EXAMPLES_DIR.glob("*.json"):
        raw = json.loads(path.read_text(encoding="utf-8"))
        examples[Procedure(raw["procedure"])] = raw
    return {procedure: examples[procedure] for procedure in Procedure if procedure in examples}  # the law's order


def _shift(value: Any, days: timedelta, instant: timedelta, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _shift(v, days, instant, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, days, instant, key) for v in value]
    if isinstance(value, str) and key != "birth_date":
        if _ISO_DATE.match(value):
            return (date.fromisoformat(value) + days).isoformat()
        if _ISO_DATETIME.match(value):
            return (datetime.fromisoformat(value) + instant).isoformat()
    return value


def instantiate(example: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A fresh dossier from an example: new code, received ``now``, its dates moved along with it."""
    raw = copy.deepcopy(example)
    received = datetime.fromisoformat(raw["received_at"])
    days = local_date(now) - local_date(received)
    raw["details"] = _shift(raw["details"], days, now - received)
    raw |= {"dossier_code": f"HS-DEMO-{uuid.uuid4().hex[:8].upper()}", "received_at": now.isoformat()}
    parse_submission(raw)
    return raw


# ---- the parties, through the API -----------------------------------------------------------------------------

# A token is asked for again when it is half way to its expiry: a long run never sends an expired one.
_TOKEN_RENEWAL = ACCESS_TOKEN_TTL / 2
_WAIT_SECONDS = 120.0
_MISSING_ITEM = "Giấy chứng nhận quyền sở hữu nhà ở"


class DemoFailed(Exception):
    """The demo could not go on: the message says which dossier, what was asked and what answered."""


_M = TypeVar("_M", bound=BaseModel)


class _Token(NamedTuple):
    value: str
    obtained: float


class Parties:
    """The portal backend, the unit's officers and the citizens' browser, each speaking to the API over HTTP."""

    def __init__(self, stack: StackAddresses, environment: dict[str, str] | os._Environ[str]) -> None:
        if not (stack.api_url and stack.oidc_issuer):
            raise DemoFailed("the stack runs no API or OIDC provider: `make down`, then `make demo` again")
        self.api_url = stack.api_url
        self.issuer = stack.oidc_issuer
        self._portal_secret = environment["CUTRU_PORTAL_CLIENT_SECRET"]
        self._password = environment["CUTRU_LOCAL_PASSWORD"]
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.http = httpx.AsyncClient(base_url=self.api_url, timeout=60.0, headers={"Accept-Language": "en"})

    async def aclose(self) -> None:
        await self.http.aclose()

    # Tokens: the portal's by client credentials; an officer's by signing in (code + PKCE), once per officer.

    async def _token(self, who: str, obtain: Callable[[], str]) -> str:
        async with self._locks.setdefault(who, asyncio.Lock()):
            held = self._tokens.get(who)
            if held is None or time.monotonic() - held.obtained > _TOKEN_RENEWAL:
                held = _Token(await asyncio.to_thread(obtain), time.monotonic())
                self._tokens[who] = held
            return held.value

    async def portal(self) -> dict[str, str]:
        token = await self._token(PORTAL_CLIENT, lambda: client_credentials_token(
            self.issuer, PORTAL_CLIENT, self._portal_secret))
        return {"Authorization": f"Bearer {token}"}

    async def officer(self, officer_id: str) -> dict[str, str]:
        token = await self._token(officer_id, lambda: login_token(self.issuer, officer_id, self._password))
        return {"Authorization": f"Bearer {token}"}

    async def _call(self, method: str, path: str, headers: dict[str, str], *, write: bool = False,
                    missing_ok: bool = False, **kwargs: Any) -> httpx.Response | None:
        if write:  # every write carries a key of its own: a retry of it would replay the first answer
            headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
        answer = await self.http.request(method, path, headers=headers, **kwargs)
        if answer.status_code == 404 and missing_ok:
            return None
        if answer.status_code >= 400:
            try:
                problem = answer.json()
            except ValueError:
                problem = {"detail": answer.text[:200]}
            raise DemoFailed(f"{method} {path}: {ApiError(answer.status_code, problem)}")
        return answer

    async def _model(self, model: type[_M], method: str, path: str, headers: dict[str, str], **kwargs: Any) -> _M:
        answer = await self._call(method, path, headers, **kwargs)
        assert answer is not None
        return model.model_validate_json(answer.content)

    # The portal backend's calls

    async def submit(self, submission: dict[str, Any]) -> SubmitReceipt:
        return await self._model(SubmitReceipt, "POST", "/v1/dossiers", await self.portal(), write=True,
                                 json=submission)

    async def status(self, code: str) -> DossierView | None:
        """The citizen-safe status; None while the read model does not list the dossier yet."""
        answer = await self._call("GET", f"/v1/dossiers/{code}", await self.portal(), missing_ok=True)
        return None if answer is None else DossierView.model_validate_json(answer.content)

    async def supplement(self, code: str) -> None:
        body = Supplement(provided_items=(_MISSING_ITEM,), note="Bản chụp đã tải lên cổng dịch vụ công")
        await self._call("POST", f"/v1/dossiers/{code}/supplements", await self.portal(), write=True,
                         json=body.model_dump(mode="json"))

    async def withdraw(self, code: str, applicant_id: str) -> None:
        await self._call("POST", f"/v1/dossiers/{code}/withdrawal", await self.portal(), write=True,
                         json={"reason": "Đã tìm được chỗ ở khác", "applicant_id": applicant_id})

    async def documents(self, status: DossierView) -> list[str]:
        """Download each document of the dossier; its bytes must hash to the SHA-256 the API lists."""
        kinds = []
        for document in status.documents:
            answer = await self._call("GET", document.href, await self.portal())
            assert answer is not None
            digest = hashlib.sha256(answer.content).digest()
            header = f"sha-256=:{base64.b64encode(digest).decode()}:"
            if digest.hex() != document.sha256 or answer.headers.get("repr-digest") != header:
                raise DemoFailed(f"{status.dossier_code}: {document.kind} does not match its SHA-256")
            kinds.append(document.kind.value)
        return kinds

    # The citizen's browser: the gateway's payment page, then back to the API's return address

    async def pay(self, code: str) -> None:
        order = await self._model(PaymentView, "GET", f"/v1/dossiers/{code}/payment", await self.portal())
        if order.payment_url is None:
            return  # paid already
        async with httpx.AsyncClient(timeout=10.0) as browser:
            page = await browser.get(order.payment_url)
            if page.status_code != 200:
                raise DemoFailed(f"{code}: the gateway's payment page answered {page.status_code}")
        try:
            result = await pay_at_local_gateway(order.payment_url)
        except ValueError as error:
            raise DemoFailed(f"{code}: {error}") from error
        back = await self._model(PaymentResultView, "GET", "/v1/payments/vnpay/return",
                                 {"Accept": "application/json"}, params=result)
        if not back.paid:
            raise DemoFailed(f"{code}: the payment did not go through ({back.message})")

    # The officers' desk: the supervisor sees whom the dossier is assigned to; that officer decides.

    async def decide(self, code: str, request: DecisionRequest) -> DecisionReceipt:
        desk = await self._model(DeskDossier, "GET", f"/v1/desk/dossiers/{code}",
                                 await self.officer(DEMO_SUPERVISOR_ID))
        officer = desk.assigned_officer or DEMO_OFFICER_ID
        return await self._model(DecisionReceipt, "POST", f"/v1/desk/dossiers/{code}/decision",
                                 await self.officer(officer), write=True, json=request.model_dump(mode="json"))

    async def sign_off(self, code: str) -> SignOffReceipt:
        """The unit head (the demo unit's supervisor) signs the officer's proposal."""
        return await self._model(SignOffReceipt, "POST", f"/v1/desk/dossiers/{code}/sign-off",
                                 await self.officer(DEMO_SUPERVISOR_ID), write=True,
                                 json=SignOffRequest(decision=SignOffKind.SIGN).model_dump(mode="json"))


async def _until(code: str, check: Callable[[], Awaitable[bool]], what: str) -> None:
    stop = time.monotonic() + _WAIT_SECONDS
    while not await check():
        if time.monotonic() > stop:
            raise DemoFailed(f"dossier {code} was not {what} within {_WAIT_SECONDS:.0f}s; see .cutru/worker.log")
        await asyncio.sleep(0.2)


async def _play(parties: Parties, submission: dict[str, Any], action: str) -> tuple[DossierView, list[str], float]:
    """One dossier from submission to its final status, as its portal, officers and citizen would take it."""
    code = submission["dossier_code"]
    started = time.monotonic()
    await parties.submit(submission)
    latest: DossierView | None = None

    async def reached(*states: DossierState) -> bool:
        nonlocal latest
        latest = await parties.status(code)
        return latest is not None and (latest.status in states or latest.status.final)

    if action != "none":
        await _until(code, lambda: reached(DossierState.AWAITING_DECISION), "awaiting a decision")
        assert latest is not None
        if latest.status.final:  # refused on the checks: nothing for an officer to decide
            action = "none"
    if action == "supplement":
        await parties.decide(code, DecisionRequest(decision=DecisionKind.REQUEST_SUPPLEMENT,
                                                   missing_items=(_MISSING_ITEM,)))
        await _until(code, lambda: reached(DossierState.AWAITING_SUPPLEMENT), "awaiting the supplement")
        await parties.supplement(code)
        await _until(code, lambda: reached(DossierState.AWAITING_DECISION), "back with the officer")
        action = "approve"
    if action == "approve":
        await parties.decide(code, DecisionRequest(decision=DecisionKind.APPROVE))
        # Where the rule data wants it, the approval is a proposal the unit head signs.
        await _until(code, lambda: reached(DossierState.AWAITING_SIGN_OFF, DossierState.AWAITING_PAYMENT),
                     "proposed, awaiting payment or closed")
        assert latest is not None
        if latest.status is DossierState.AWAITING_SIGN_OFF:
            await parties.sign_off(code)
        # The fee step follows only where the procedure has a fee, and not for a fee-exempt applicant.
        await _until(code, lambda: reached(DossierState.AWAITING_PAYMENT), "awaiting payment or closed")
        assert latest is not None
        if latest.status is DossierState.AWAITING_PAYMENT:
            await parties.pay(code)
    elif action == "reject":
        await parties.decide(code, DecisionRequest(decision=DecisionKind.REJECT,
                                                   reason="Chỗ ở đang có tranh chấp quyền sở hữu"))
    elif action == "withdraw":
        await parties.withdraw(code, submission["applicant"]["personal_id"])
    await _until(code, reached, "closed")
    assert latest is not None
    documents = await parties.documents(latest)
    return latest, documents, time.monotonic() - started


def _worker() -> subprocess.Popen[bytes]:
    """The product's worker (its payment gateway: the stack's, over HTTP), with the demo's short timings."""
    log = open(STATE_DIR / "worker.log", "ab")  # noqa: SIM115 - handed to the worker process
    return subprocess.Popen([sys.executable, "-m", "cutru.service.worker"], stdout=log, stderr=log,
                            cwd=PROJECT_ROOT, env={**os.environ, "CUTRU_LOG_LEVEL": "WARNING",
                                                   **processing_environment(DEMO_PROCESSING)})


async def _demo() -> None:
    stack = await start_stack()
    use_stack_environment()  # this process and its worker: pointed at the stack, its keys and secrets
    print(f"API {stack.api_url} (OIDC issuer {stack.oidc_issuer}, payment gateway {stack.payment_gateway_url})")
    print(f"Temporal {stack.temporal_address} (Web UI {stack.temporal_ui}), PostgreSQL "
          f"{'embedded' if stack.embedded_postgres else 'from DATABASE_URL'}; payloads encrypted")
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=4)
    if not await pool.fetchval("SELECT count(*) FROM people"):
        report = await seed(stack.database_url, people=DEMO_PEOPLE, seed=1, progress=True)
        await refresh_oidc_accounts(stack.database_url)  # the seeded officers can sign in
        print(f"seeded {report.people} people in {report.total_seconds:.1f}s")
    worker = _worker()
    parties = Parties(stack, os.environ)
    try:
        now = datetime.now(UTC)
        async with pool.acquire() as conn:
            scenarios = await _scenarios(conn)
            await prepare_examples(conn, local_date(now))
        for procedure, example in load_examples().items():
            action = "approve" if PROCEDURES[procedure].officer_review else "none"
            scenarios.append((EXAMPLE_SCENARIOS[procedure], instantiate(example, now), action))
        results = await asyncio.gather(*(_play(parties, s, a) for _, s, a in scenarios))
    finally:
        await parties.aclose()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        await pool.close()
    print()
    print(f"{'dossier':<18} {'procedure':<31} {'scenario':<41} {'status':<10} {'fee VND':>8} "
          f"{'result':<14} {'seconds':>7}")
    for (what, _, _), (status, documents, seconds) in zip(scenarios, results, strict=True):
        print(f"{status.dossier_code:<18} {status.vietnamese_name:<31} {what:<41} {status.status.value:<10} "
              f"{status.fee_vnd:>8,} {','.join(documents) or '-':<14} {seconds:>7.1f}")
    print()
    print(f"Every call above went through the API at {stack.api_url} with tokens from {stack.oidc_issuer}.")
    print(f"Inspect each dossier in the Web UI: {stack.temporal_ui}/namespaces/{stack.namespace}/workflows")
    print(f"Documents: {STATE_DIR / 'documents'}/<dossier code>/; stop the stack with `make down`.")


def main() -> None:
    try:
        asyncio.run(_demo())
    except DemoFailed as failed:
        raise SystemExit(f"demo: {failed}") from failed


if __name__ == "__main__":
    main()
