"""The authorisation matrix: every operation of the API (read from the app's own OpenAPI document, so a new
endpoint cannot be left out) × every role × own unit / other unit / no token / expired / wrong audience / tampered
signature / a stranger's key → the expected 2xx / 401 / 403 / 404, and nothing written on a refusal.

``RULES`` is the specification (``cutru/api/security.py`` states it in prose): who may call each operation, what
the caller of the dossier's own unit gets, and what a caller of another unit gets. An operation of the app that
``RULES`` does not name fails the test until someone decides who may call it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.client import Client

from activities.payment import GatewayConfig
from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from cutru.platform.oidc import Role
from domain.models import DossierState
from tests.attachment_files import png
from tests.integration.test_api_desk import other_unit
from tests.integration.test_permanent_registration import own_residence_dossier, wait_for, wait_state
from tests.oidc import (
    OidcProvider,
    client_credentials_token,
    expired_token,
    foreign_key_token,
    login_token,
    signed_token,
    tampered_token,
    wrong_audience_token,
)

PUBLIC: frozenset[Role] = frozenset()  # no token needed: any token, or a bad one, is ignored
WRITE = -1  # a write by an allowed caller: authorised (not 401, 403 or 404) and no server error
LISTING = -2  # a listing by a caller of another unit: 200, and the own unit's dossier is not in it
EVERY_ROLE = tuple(Role)


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    own: int  # the allowed caller of the dossier's unit (or a caller without unit scope)
    other: int | None = None  # the allowed caller of another unit; None: the operation has no unit scope


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


PORTAL, DESK = _roles(Role.PORTAL), _roles(Role.OFFICER, Role.SUPERVISOR)
SUPERVISOR, AUDITOR = _roles(Role.SUPERVISOR), _roles(Role.AUDITOR)
RULES: dict[str, Rule] = {
    "list_procedures": Rule(PUBLIC, 200),
    "get_procedure": Rule(PUBLIC, 200),
    "get_form": Rule(PUBLIC, 200),
    "verify_document": Rule(PUBLIC, 404),  # the path's code is a dossier's, not a verification code
    "verify_document_file": Rule(PUBLIC, 404),
    "livez": Rule(PUBLIC, 200),
    "readyz": Rule(PUBLIC, 200),
    "payment_ipn": Rule(PUBLIC, 200),  # the gateway's own protocol: an unsigned call gets RspCode 97, not a 401
    "payment_return": Rule(PUBLIC, 400),  # no signed result: the page says so
    "metrics": Rule(_roles(Role.OPERATOR), 200),
    "list_subscriptions": Rule(_roles(Role.OPERATOR), 200),
    "list_deliveries": Rule(_roles(Role.OPERATOR), 404),  # of a subscription that does not exist
    "list_dead_letters": Rule(_roles(Role.OPERATOR), 404),
    "replay_events": Rule(_roles(Role.OPERATOR), 404),
    "end_subscription": Rule(_roles(Role.OPERATOR), 404),
    "create_subscription": Rule(_roles(Role.OPERATOR), WRITE),
    "list_failed_notifications": Rule(_roles(Role.OPERATOR), 200),
    "requeue_notification": Rule(_roles(Role.OPERATOR), 404),  # the dossier chose no e-mail: no such message
    "list_dossiers": Rule(PORTAL, 200, LISTING),
    "get_dossier": Rule(PORTAL, 200, 404),
    "list_documents": Rule(PORTAL, 200, 404),
    "get_document": Rule(PORTAL, 200, 404),
    "get_receipt": Rule(PORTAL, 200, 404),
    "get_payment": Rule(PORTAL, 404, 404),  # no order before the officer approves: the same 404 as elsewhere
    "desk_queue": Rule(DESK, 200, LISTING),
    "desk_escalations": Rule(SUPERVISOR, 200, LISTING),
    "desk_dossier": Rule(DESK, 200, 404),
    "desk_attachments": Rule(DESK, 200, 404),
    "desk_attachment": Rule(DESK, 404, 404),  # the dossier carries no such file: the same 404 as another unit's
    "supervise_workload": Rule(SUPERVISOR, 200, 200),  # the caller's own unit, whichever it is
    "supervise_on_time": Rule(SUPERVISOR, 200, 200),
    "statistics": Rule(SUPERVISOR, 200, 200),  # the caller's own units, whichever they are
    "statistics_csv": Rule(SUPERVISOR, 200, 200),
    "inbox": Rule(DESK, 200),  # the caller's own notices: no unit scope
    "inbox_unread": Rule(DESK, 200),
    "audit_search": Rule(AUDITOR, 200, LISTING),
    "audit_trail": Rule(AUDITOR, 200, 404),
    "audit_replay": Rule(AUDITOR, 200, 404),
    "audit_history": Rule(AUDITOR, 200, 404),
    "submit_dossier": Rule(PORTAL, WRITE, 403),
    "upload_attachment": Rule(PORTAL, WRITE),  # a file is bound to no dossier until a submission names it
    "desk_attachment_finding": Rule(DESK, 404, 403),  # no such paper on the dossier
    "intake_dossier": Rule(DESK, WRITE, 403),  # the counter files for the officer's own units
    "submit_batch": Rule(PORTAL, WRITE, 200),  # answered per item: the other unit's item is rejected
    "supplement_dossier": Rule(PORTAL, WRITE, 404),
    "desk_decide": Rule(DESK, WRITE, 403),
    "desk_reassign": Rule(SUPERVISOR, WRITE, 403),
    "inbox_read": Rule(DESK, WRITE),
    # The roster, not the role, says who signs: the demo unit's supervisor is its head, its officers are not.
    "desk_sign_offs": Rule(SUPERVISOR, 200, LISTING),
    "desk_sign_off": Rule(SUPERVISOR, WRITE, 403),
    "withdraw_dossier": Rule(PORTAL, WRITE, 404),  # it closes the dossier
    "close_dossier": Rule(_roles(Role.OPERATOR), WRITE),  # after the withdrawal: the dossier refuses it (409)
}
BAD_TOKENS = ("no token", "expired", "wrong audience", "tampered signature", "stranger's key")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    needs_token: bool


def operations(app: FastAPI) -> list[Operation]:
    found = [Operation(op["operationId"], method.upper(), path, bool(op.get("security")))
             for path, methods in app.openapi()["paths"].items() for method, op in methods.items()]
    return sorted(found, key=lambda o: list(RULES).index(o.operation_id) if o.operation_id in RULES else -1)


@dataclass
class World:
    """What the requests are made of: the demo unit's dossier, the callers' tokens, the bodies."""

    code: str
    applicant_id: str
    own: dict[Role, str]
    other: dict[Role, str]
    bad: dict[str, str | None]
    pool: asyncpg.Pool
    client: Client


async def _fresh_submission(pool: asyncpg.Pool) -> dict[str, Any]:
    raw: dict[str, Any] = await own_residence_dossier(pool)
    result: dict[str, Any] = json.loads(json.dumps(raw, default=str))
    return result


async def request(api: httpx.AsyncClient, world: World, op: Operation, token: str | None,
                  submission: Callable[[], Awaitable[dict[str, Any]]], expected: int) -> httpx.Response:
    """The operation on the world's dossier. A write carries an Idempotency-Key, so that a refusal that kept one
    would show, except where the answer expected is a success (a batch answered per item), which keeps it."""
    path = op.path.format(code=world.code, procedure="PermanentResidenceRegistration", form="CT01", kind="CT04",
                          sha256="0" * 64, subscription_id=uuid.UUID(int=0))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if not 200 <= expected < 300:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    if op.method == "GET":
        return await api.get(path, headers=headers)
    if op.operation_id == "upload_attachment":
        return await api.post(path, params={"file_name": "scan.png"}, content=png(),
                              headers={**headers, "Content-Type": "image/png"})
    bodies: dict[str, Any] = {
        "supplement_dossier": {"provided_items": ["Sổ đỏ"]},
        "withdraw_dossier": {"reason": "không còn nhu cầu", "applicant_id": world.applicant_id},
        "desk_decide": {"decision": "request_supplement", "missing_items": ["Sổ đỏ"]},
        "desk_reassign": {"officer_id": "CB-00070-01", "reason": "cân bằng công việc"},
        "inbox_read": {"notice_ids": [1]},
        "desk_attachment_finding": {"kind": "title_deed", "accepted": True},
        "verify_document_file": {},
        "replay_events": {"from_sequence": 0},
        "end_subscription": None,
        "create_subscription": {"client": "statistics", "url": "http://127.0.0.1:9/events",
                                "event_types": ["result.returned"]},
        "desk_sign_off": {"decision": "return", "reason": "cần xác minh thêm"},
        "requeue_notification": {"channel": "email", "dossier_code": world.code, "step": "0001-accepted"},
        "close_dossier": {"reason": "hồ sơ nộp nhầm"},
    }
    if op.operation_id in ("submit_dossier", "intake_dossier"):
        body: Any = await submission()
    elif op.operation_id == "submit_batch":
        body = {"items": [await submission()]}
    else:
        body = bodies[op.operation_id]
    return await api.request(op.method, path, headers=headers, json=body)


TABLES = ("dossiers", "audit_events", "api_idempotency", "documents", "payments", "payment_transactions",
          "personal_data_reads", "desk_notices", "attachments", "attachment_findings", "subscriptions",
          "event_deliveries", "dossier_intake")


async def written(world: World, codes: list[str]) -> dict[str, int]:
    """Rows of every table the API writes, the dossier's history length, and workflows under fresh codes."""
    counts = {table: int(await world.pool.fetchval(f"SELECT count(*) FROM {table}")) for table in TABLES}
    counts["history"] = len((await world.client.get_workflow_handle(world.code).fetch_history()).events)
    query = " OR ".join(f'WorkflowId = "{code}"' for code in codes) or 'WorkflowId = "-"'
    counts["new workflows"] = len([w async for w in world.client.list_workflows(query)])
    return counts


def _check(answer: httpx.Response, expected: int, world: World, case: str) -> str | None:
    """What is wrong with the answer, or None."""
    status = answer.status_code
    if expected == WRITE:
        ok = status not in (401, 403, 404) and status < 500
    elif expected == LISTING:
        ok = status == 200 and world.code not in answer.text
    else:
        ok = status == expected
    if ok and status in (401, 403, 404):  # every refusal is problem+json, a 401 with its challenge
        ok = answer.headers.get("content-type", "").startswith("application/problem+json") and (
            status != 401 or answer.headers.get("www-authenticate", "").startswith("Bearer"))
    return None if ok else f"{case}: {status} {answer.text[:200]}"


@pytest.fixture
async def world(client: Client, settings: Settings, pool: asyncpg.Pool, worker: Any,
                oidc_provider: OidcProvider, api_app: FastAPI) -> AsyncIterator[World]:
    # A gateway for the callbacks to be checked against (they are signed with its secret, not with tokens).
    api_app.state.payment_gateway = GatewayConfig(pay_url="http://127.0.0.1:9/paymentv2/vpcpay.html",
                                                  tmn_code="CUTRUTEST", hash_secret=SecretStr(uuid.uuid4().hex))
    dossiers = DossierClient(client, settings.task_queue)
    submission = await own_residence_dossier(pool)
    code: str = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)

    async def receipt_issued() -> bool:
        return bool(await pool.fetchval("SELECT count(*) FROM documents WHERE dossier_code = $1 AND kind = 'CT04'",
                                        code))

    await wait_for(receipt_issued)
    unit, officer, supervisor = await other_unit(pool)
    provider = oidc_provider
    own = {Role.PORTAL: client_credentials_token(provider),
           Role.PAYMENT_GATEWAY: client_credentials_token(provider, "cutru-payment-gateway"),
           Role.OPERATOR: client_credentials_token(provider, "cutru-operator"),
           Role.OFFICER: login_token(provider, "CB-00070-02"),
           Role.SUPERVISOR: login_token(provider, "CB-00070-00"),
           Role.AUDITOR: login_token(provider, "KT-AUDITOR-01")}
    other = {Role.PORTAL: signed_token(provider, police_units=[unit]),
             Role.OFFICER: login_token(provider, officer),
             Role.SUPERVISOR: login_token(provider, supervisor),
             Role.AUDITOR: signed_token(provider, sub="KT-AUDITOR-02", client_id="cutru-desk", roles=["auditor"],
                                        police_units=[unit])}
    bad = {"no token": None, "expired": expired_token(provider), "wrong audience": wrong_audience_token(provider),
           "tampered signature": tampered_token(own[Role.OFFICER]), "stranger's key": foreign_key_token(provider)}
    standing = [row["subscription_id"] for row in await pool.fetch("SELECT subscription_id FROM subscriptions")]
    yield World(code, submission["applicant"]["personal_id"], own, other, bad, pool, client)
    # The subscription the operator made must not outlive the test: its lane would post to it in every later test.
    await pool.execute("UPDATE subscriptions SET active = false WHERE active AND subscription_id <> ALL($1::uuid[])",
                       standing)
    description = await dossiers.handle(code).describe()
    if description.close_time is None:
        await dossiers.handle(code).terminate("test over")


async def test_every_operation_is_in_the_matrix(api_app: FastAPI):
    named = {op.operation_id for op in operations(api_app)}
    assert named - set(RULES) == set(), "new operations: say in RULES who may call them"
    assert set(RULES) - named == set(), "RULES names operations the app no longer has"
    for op in operations(api_app):
        assert op.needs_token == bool(RULES[op.operation_id].roles), op  # the document says which need a token


async def test_the_authorisation_matrix(api_app: FastAPI, api_client: httpx.AsyncClient, world: World):
    ops = operations(api_app)
    problems: list[str] = []
    fresh: list[str] = []

    async def submission() -> dict[str, Any]:
        made = await _fresh_submission(world.pool)
        fresh.append(made["dossier_code"])
        return made

    # 1. Every refusal: bad tokens, roles the operation does not allow, callers of another unit. Nothing written.
    before = await written(world, [])
    for op in ops:
        rule = RULES[op.operation_id]
        for kind, token in world.bad.items():
            expected = rule.own if not rule.roles else 401
            answer = await request(api_client, world, op, token, submission, expected)
            problems.append(_check(answer, expected, world, f"{op.operation_id} with {kind}") or "")
        for role in EVERY_ROLE:
            if rule.roles and role not in rule.roles:
                answer = await request(api_client, world, op, world.own[role], submission, 403)
                problems.append(_check(answer, 403, world, f"{op.operation_id} as {role}") or "")
            if role in rule.roles and rule.other is not None and role in world.other:
                answer = await request(api_client, world, op, world.other[role], submission, rule.other)
                problems.append(_check(answer, rule.other, world, f"{op.operation_id} as {role} of another unit")
                                or "")
    after = await written(world, fresh)
    assert [p for p in problems if p] == [], "\n".join(p for p in problems if p)
    assert after == before | {"new workflows": 0}, "a refused request wrote something"

    # 2. What each allowed caller of the unit gets: reads first, then writes (the withdrawal, last, closes it).
    for op in sorted(ops, key=lambda o: o.method != "GET"):
        rule = RULES[op.operation_id]
        for role in (rule.roles or EVERY_ROLE):
            answer = await request(api_client, world, op, world.own[role], submission, rule.own)
            problems.append(_check(answer, rule.own, world, f"{op.operation_id} as {role} of the unit") or "")
    assert [p for p in problems if p] == [], "\n".join(p for p in problems if p)
