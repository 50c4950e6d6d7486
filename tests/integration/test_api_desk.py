"""The officers' and supervisors' desk through the API: queue order, paging and unit scope, the dossier view, and
decisions taken as the token's officer, checked against the database at that moment, signed, idempotent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from cutru.api.client import ApiClient
from cutru.api.views import encode_cursor
from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from domain.models import DossierState
from tests.api_fixtures import bearer
from tests.integration.test_api import assert_problem
from tests.integration.test_permanent_registration import acted_events, own_residence_dossier, wait_for, wait_state
from tests.oidc import OidcProvider, login_token, signed_token

DEMO_UNIT = "CA-00070"
OFFICER, OTHER_OFFICER, SUPERVISOR = "CB-00070-02", "CB-00070-01", "CB-00070-00"


@pytest.fixture
def dossiers(client: Client, settings: Settings) -> DossierClient:
    return DossierClient(client, settings.task_queue)


async def other_unit(pool: asyncpg.Pool) -> tuple[str, str, str]:
    """A seeded unit other than the demo's: its code, an active officer and its supervisor."""
    row = await pool.fetchrow(
        "SELECT o.unit_code, o.officer_id, s.officer_id AS supervisor FROM officers o JOIN officers s"
        " ON s.unit_code = o.unit_code AND s.role = 'supervisor' AND s.active"
        " WHERE o.unit_code <> $1 AND o.role = 'officer' AND o.active ORDER BY o.unit_code, o.officer_id LIMIT 1",
        DEMO_UNIT)
    assert row is not None, "the seed has a single police unit"
    return row["unit_code"], row["officer_id"], row["supervisor"]


def token(provider: OidcProvider, username: str) -> dict[str, str]:
    return bearer(login_token(provider, username))


async def history_length(client: Client, code: str) -> int:
    return await acted_events(client.get_workflow_handle(code))


@pytest.fixture
async def waiting(dossiers: DossierClient, pool: asyncpg.Pool, worker: Any) -> AsyncIterator[str]:
    """A dossier of the demo unit waiting for an officer's decision; terminated at the end if still open."""
    submission = await own_residence_dossier(pool)
    code: str = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    yield code
    description = await dossiers.handle(code).describe()
    if description.close_time is None:
        await dossiers.handle(code).terminate("test over")


# ---------------------------------------------------------------------------------------------- the queue


@pytest.fixture
async def queue_rows(pool: asyncpg.Pool) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """Read-model rows of another unit, in an order the queue must restore: (unit, {name: code})."""
    unit, _, _ = await other_unit(pool)
    tag = uuid.uuid4().hex[:6].upper()
    now = datetime.now(UTC)
    rows = {  # name: (status, deadline from now, overdue)
        "later": ("awaiting_decision", timedelta(days=9), False),
        "overdue_old": ("awaiting_decision", timedelta(days=-3), True),
        "soon": ("awaiting_supplement", timedelta(hours=2), False),
        "overdue_new": ("awaiting_decision", timedelta(days=-1), True),
        "done": ("completed", timedelta(0), False),
    }
    codes = {name: f"HS-Q{tag}-{name.upper().replace('_', '')}" for name in rows}
    for name, (status, offset, overdue) in rows.items():
        await pool.execute(
            "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
            " received_at, deadline, overdue) VALUES ($1, 'PermanentResidenceRegistration', $2, $3, '001190000001',"
            " 'Nguyễn Văn A', $4, $5, $6)", codes[name], status, unit, now - timedelta(days=10), now + offset, overdue)
    yield unit, codes
    await pool.execute("DELETE FROM dossiers WHERE dossier_code = ANY($1::text[])", list(codes.values()))


async def listed(api: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> list[str]:
    """Every page of a listing, following next_cursor."""
    codes: list[str] = []
    cursor = None
    while True:
        answer = await api.get(path, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        codes += [item["dossier_code"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return codes


async def test_the_queue_is_the_units_own_overdue_first_then_by_deadline(
        api_client: httpx.AsyncClient, api_app: FastAPI, oidc_provider: OidcProvider, pool: asyncpg.Pool,
        queue_rows: tuple[str, dict[str, str]]):
    unit, codes = queue_rows
    _, officer, supervisor = await other_unit(pool)
    as_officer = token(oidc_provider, officer)
    expected = [codes[n] for n in ("overdue_old", "overdue_new", "soon", "later")]

    whole = [c for c in await listed(api_client, "/v1/desk/queue", as_officer) if c in codes.values()]
    assert whole == expected
    paged = [c for c in await listed(api_client, "/v1/desk/queue", as_officer, limit=1) if c in codes.values()]
    assert paged == expected  # pages neither skip nor repeat
    supplement = await listed(api_client, "/v1/desk/queue", as_officer, state="awaiting_supplement")
    assert codes["soon"] in supplement and codes["later"] not in supplement

    demo_officer = token(oidc_provider, OFFICER)
    assert not set(codes.values()) & set(await listed(api_client, "/v1/desk/queue", demo_officer))
    assert_problem(await api_client.get("/v1/desk/queue", params={"unit": unit}, headers=demo_officer),
                   403, "forbidden")

    # The command's client reads every page the same way.
    async with ApiClient("http://cutru.test", login_token(oidc_provider, officer),
                         transport=httpx.ASGITransport(app=api_app)) as desk:
        assert [item.dossier_code for item in await desk.queue(limit=1) if item.dossier_code in codes.values()] \
            == expected

    # Escalations: the supervisor's, overdue or due within one working day.
    escalated = await listed(api_client, "/v1/desk/escalations", token(oidc_provider, supervisor))
    assert [c for c in escalated if c in codes.values()] == [codes["overdue_old"], codes["overdue_new"],
                                                             codes["soon"]]
    assert_problem(await api_client.get("/v1/desk/escalations", headers=as_officer), 403, "forbidden")


async def test_a_bad_page_request_is_a_422_problem(api_client: httpx.AsyncClient, oidc_provider: OidcProvider):
    as_officer = token(oidc_provider, OFFICER)
    for cursor in ("bm90LWEtY3Vyc29y", encode_cursor(["x"]), encode_cursor([-1]), encode_cursor([10**30])):
        assert_problem(await api_client.get("/v1/desk/queue", params={"cursor": cursor}, headers=as_officer),
                       422, "invalid_cursor")
    assert_problem(await api_client.get("/v1/desk/queue", params={"limit": 100_000}, headers=as_officer),
                   422, "invalid_request")


# ---------------------------------------------------------------------------------------------- one dossier


async def test_the_dossier_view_is_for_its_own_unit_with_ids_masked(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, pool: asyncpg.Pool, waiting: str):
    answer = await api_client.get(f"/v1/desk/dossiers/{waiting}", headers=token(oidc_provider, OFFICER))
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["state"] == "awaiting_decision" and view["police_unit"] == DEMO_UNIT
    assert view["findings"] and view["deadline"] and view["applicant_name"] == "Nguyễn Thị Ánh Tuyết"
    personal_id = await pool.fetchval("SELECT applicant_id FROM dossiers WHERE dossier_code = $1", waiting)
    assert personal_id not in answer.text and "*" in view["submission"]["applicant"]["personal_id"]

    _, stranger, _ = await other_unit(pool)
    assert_problem(await api_client.get(f"/v1/desk/dossiers/{waiting}", headers=token(oidc_provider, stranger)),
                   404, "dossier_not_found")  # the same answer as no dossier at all
    assert_problem(await api_client.get("/v1/desk/dossiers/HS-NO-SUCH-DOSSIER",
                                        headers=token(oidc_provider, OFFICER)), 404, "dossier_not_found")


# ---------------------------------------------------------------------------------------------- decisions


async def test_a_decision_is_the_token_officers_signed_and_idempotent(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, client: Client, dossiers: DossierClient,
        waiting: str):
    as_officer = token(oidc_provider, OFFICER)
    path = f"/v1/desk/dossiers/{waiting}/decision"
    before = await history_length(client, waiting)

    # Who decides is the token's officer: a body naming another is not a request this API takes.
    named = await api_client.post(path, json={"decision": "approve", "officer_id": OTHER_OFFICER}, headers=as_officer)
    assert_problem(named, 422, "invalid_request")
    no_reason = await api_client.post(path, json={"decision": "reject"}, headers=as_officer)
    assert "a rejection needs a reason" in assert_problem(no_reason, 422, "invalid_request")["errors"][0]["message"]
    assert await history_length(client, waiting) == before

    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"decision": "request_supplement", "missing_items": ["Hợp đồng thuê nhà"]}
    first = await api_client.post(path, json=body, headers=as_officer | key)
    assert first.status_code == 200, first.text
    assert first.json()["dossier_code"] == waiting and first.json()["accepted"] is True
    again = await api_client.post(path, json=body, headers=as_officer | key)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"

    await wait_state(dossiers, waiting, DossierState.AWAITING_SUPPLEMENT)
    status = await dossiers.status(waiting)
    assert [(e.actor, e.action) for e in status.trail][-1] == (OFFICER, "supplement_requested")
    history = await client.get_workflow_handle(waiting).fetch_history()
    updates = [e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")]
    assert len(updates) == 1  # the replayed answer never reached the dossier

    # A decision the dossier no longer takes: 409, why, in both languages, and nothing in the history.
    before = await history_length(client, waiting)
    refused = assert_problem(await api_client.post(path, json={"decision": "approve"}, headers=as_officer),
                             409, "decision_refused")
    assert "not waiting for an officer's decision" in refused["detail_en"]
    assert refused["detail_vi"].startswith("Hồ sơ không nhận quyết định")
    assert await history_length(client, waiting) == before


async def test_the_officer_is_checked_in_the_database_when_deciding(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, client: Client, pool: asyncpg.Pool,
        waiting: str):
    path = f"/v1/desk/dossiers/{waiting}/decision"
    _, stranger, _ = await other_unit(pool)
    as_stranger = token(oidc_provider, stranger)
    as_officer = token(oidc_provider, OTHER_OFFICER)  # signed in while still active
    before = await history_length(client, waiting)

    assert_problem(await api_client.post(path, json={"decision": "approve"}, headers=as_stranger), 403, "forbidden")
    await pool.execute("UPDATE officers SET active = false WHERE officer_id = $1", OTHER_OFFICER)
    try:
        suspended = await api_client.post(path, json={"decision": "approve"}, headers=as_officer)
    finally:
        await pool.execute("UPDATE officers SET active = true WHERE officer_id = $1", OTHER_OFFICER)
    assert "is not an active officer" in assert_problem(suspended, 403, "forbidden")["detail_en"]
    assert await history_length(client, waiting) == before
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE dossier_code = $1 AND action = 'approved'",
                               waiting) == 0
    # Reactivated, the same token decides.
    approved = await api_client.post(path, json={"decision": "approve"}, headers=as_officer)
    assert approved.status_code == 200, approved.text


async def test_only_the_units_supervisor_reassigns(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, dossiers: DossierClient, pool: asyncpg.Pool,
        client: Client, waiting: str):
    path = f"/v1/desk/dossiers/{waiting}/reassignment"
    before = (await dossiers.status(waiting)).assigned_officer
    target = OFFICER if before != OFFICER else OTHER_OFFICER
    body = {"officer_id": target, "reason": "cân bằng công việc"}
    assert_problem(await api_client.post(path, json=body, headers=token(oidc_provider, OFFICER)), 403, "forbidden")
    _, stranger, outside_supervisor = await other_unit(pool)
    as_outsider = token(oidc_provider, outside_supervisor)
    assert_problem(await api_client.post(path, json=body, headers=as_outsider), 403, "forbidden")

    as_supervisor = token(oidc_provider, SUPERVISOR)
    wrong_unit = await api_client.post(path, json={"officer_id": stranger, "reason": "sai đơn vị"},
                                       headers=as_supervisor)
    assert f"is not an active officer of {DEMO_UNIT}" in assert_problem(wrong_unit, 409,
                                                                         "reassignment_refused")["detail_en"]
    events = await history_length(client, waiting)
    await pool.execute("UPDATE officers SET active = false WHERE officer_id = $1", target)
    try:  # suspended since the dossier was accepted: the database, not the dossier's roster, decides
        suspended = await api_client.post(path, json=body, headers=as_supervisor)
    finally:
        await pool.execute("UPDATE officers SET active = true WHERE officer_id = $1", target)
    assert_problem(suspended, 409, "reassignment_refused")
    assert await history_length(client, waiting) == events
    moved = await api_client.post(path, json=body, headers=as_supervisor)
    assert moved.status_code == 200, moved.text
    assert moved.json()["assigned_officer"] == target
    assert [(e.actor, e.action) for e in (await dossiers.status(waiting)).trail][-1] == (SUPERVISOR, "reassigned")

    async def read_model_follows() -> bool:
        return bool(await pool.fetchval("SELECT assigned_officer FROM dossiers WHERE dossier_code = $1", waiting)
                    == target)

    await wait_for(read_model_follows)


async def test_an_operator_closes_a_dossier_with_a_reason(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, dossiers: DossierClient, pool: asyncpg.Pool,
        waiting: str):
    path = f"/v1/operations/dossiers/{waiting}/closure"
    body = {"reason": "Nộp nhầm đơn vị, công dân nộp lại tại đơn vị khác"}
    assert_problem(await api_client.post(path, json=body, headers=token(oidc_provider, SUPERVISOR)), 403, "forbidden")
    operator = bearer(signed_token(oidc_provider, sub="ops-on-call", roles=["operator"]))
    assert_problem(await api_client.post(path, json={"reason": ""}, headers=operator), 422, "invalid_request")
    closed = await api_client.post(path, json=body, headers=operator)
    assert closed.status_code == 200, closed.text
    assert closed.json() == {"dossier_code": waiting, "state": "cancelled", "closed_by": "ops-on-call",
                             "reason": body["reason"]}
    closing = (await dossiers.status(waiting)).trail[-1]
    assert (closing.actor, closing.action, closing.detail) == ("ops-on-call", "cancelled", f"closed: {body['reason']}")
    assert await pool.fetchval("SELECT outcome_reason FROM dossiers WHERE dossier_code = $1", waiting) == body["reason"]
    assert_problem(await api_client.post(path, json=body, headers=operator), 409, "dossier_closed")
    assert_problem(await api_client.post("/v1/operations/dossiers/HS-NONE-000000/closure", json=body,
                                         headers=operator), 404, "dossier_not_found")
