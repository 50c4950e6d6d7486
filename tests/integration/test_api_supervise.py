"""Reads of personal data recorded, the supervisor's figures, the auditor's search, and the officers' inbox written
by the trail's activity: through the API on the session's database, with the real OIDC provider's tokens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.contracts import AuditBatch, AuditRecord
from activities.dossier import DossierActivities
from domain.calendar import VN_TZ
from domain.models import TrailAction, TrailEntry
from tests.api_fixtures import bearer
from tests.integration.test_api import assert_problem
from tests.oidc import OidcProvider, login_token, signed_token

AUDITOR = "KT-AUDITOR-01"


async def last_unit(pool: asyncpg.Pool) -> tuple[str, str, list[str]]:
    """The seed's last unit (no other test writes there): its code, its supervisor and its active officers."""
    rows = await pool.fetch(
        "SELECT unit_code, officer_id, role FROM officers WHERE active AND unit_code ="
        " (SELECT max(unit_code) FROM officers WHERE role = 'supervisor' AND active) ORDER BY officer_id")
    supervisor = next(r["officer_id"] for r in rows if r["role"] == "supervisor")
    return rows[0]["unit_code"], supervisor, [r["officer_id"] for r in rows if r["role"] == "officer"]


Row = tuple[str, str | None, bool, timedelta]  # status, assigned officer, overdue, closed how long ago


@pytest.fixture
async def seeded(pool: asyncpg.Pool) -> AsyncIterator[tuple[str, str, list[str], dict[str, str]]]:
    """Read-model rows of the last unit: open ones per officer, and decided ones on time or late in the period."""
    unit, supervisor, officers = await last_unit(pool)
    first, second = officers[0], officers[1]
    tag = uuid.uuid4().hex[:6].upper()
    now = datetime.now(UTC)
    rows: dict[str, Row] = {
        "open1": ("awaiting_decision", first, False, timedelta(0)),
        "open2": ("awaiting_supplement", first, True, timedelta(0)),
        "open3": ("awaiting_decision", second, True, timedelta(0)),
        "ontime1": ("completed", first, False, timedelta(days=2)),
        "ontime2": ("refused", second, False, timedelta(days=3)),
        "ontime3": ("completed", second, False, timedelta(days=4)),
        "late": ("completed", first, True, timedelta(days=5)),
        "withdrawn": ("withdrawn", first, False, timedelta(days=2)),  # not decided: not counted
        "old": ("completed", first, True, timedelta(days=90)),  # before the period
    }
    codes = {name: f"HS-S{tag}-{name.upper()}" for name in rows}
    for name, (status, officer, overdue, closed) in rows.items():
        await pool.execute(
            "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
            " received_at, deadline, overdue, assigned_officer, updated_at) VALUES ($1,"
            " 'PermanentResidenceRegistration', $2, $3, '001190000001', 'Nguyễn Văn A', $4, $5, $6, $7, $8)",
            codes[name], status, unit, now - timedelta(days=100), now + timedelta(days=3), overdue, officer,
            now - closed)
    yield unit, supervisor, officers, codes
    await pool.execute("DELETE FROM desk_notices WHERE dossier_code = ANY($1::text[])", list(codes.values()))
    await pool.execute("DELETE FROM dossiers WHERE dossier_code = ANY($1::text[])", list(codes.values()))


async def reads_of(pool: asyncpg.Pool, code: str) -> list[tuple[str, str | None, str, str]]:
    rows = await pool.fetch("SELECT subject, officer_id, channel, operation FROM personal_data_reads"
                            " WHERE dossier_code = $1 ORDER BY read_id", code)
    return [(r["subject"], r["officer_id"], r["channel"], r["operation"]) for r in rows]


async def test_an_auditors_read_is_recorded_and_a_refused_one_is_not(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, pool: asyncpg.Pool,
        seeded: tuple[str, str, list[str], dict[str, str]]):
    unit, _, officers, codes = seeded
    code = codes["late"]
    elsewhere = bearer(signed_token(oidc_provider, sub="KT-AUDITOR-02", client_id="cutru-desk", roles=["auditor"],
                                    police_units=["CA-99999"]))
    assert_problem(await api_client.get(f"/v1/audit/dossiers/{code}/trail", headers=elsewhere),
                   404, "dossier_not_found")
    assert_problem(await api_client.get(f"/v1/audit/dossiers/{code}/trail",
                                        headers=bearer(login_token(oidc_provider, officers[0]))), 403, "forbidden")
    assert await reads_of(pool, code) == []

    auditor = bearer(login_token(oidc_provider, AUDITOR))
    answer = await api_client.get(f"/v1/audit/dossiers/{code}/trail", headers=auditor)
    assert answer.status_code == 200, answer.text
    assert await reads_of(pool, code) == [(AUDITOR, None, "api", "audit_trail")]
    # The trail shows who read the dossier, this read included.
    assert [(r["subject"], r["operation"], r["roles"]) for r in answer.json()["reads"]] == [
        (AUDITOR, "audit_trail", ["auditor"])]


async def test_an_officers_queue_records_a_read_of_each_dossier_listed(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, pool: asyncpg.Pool,
        seeded: tuple[str, str, list[str], dict[str, str]]):
    _, _, officers, codes = seeded
    as_officer = bearer(login_token(oidc_provider, officers[0]))
    answer = await api_client.get("/v1/desk/queue", params={"q": codes["open1"]}, headers=as_officer)
    assert [item["dossier_code"] for item in answer.json()["items"]] == [codes["open1"]]
    assert await reads_of(pool, codes["open1"]) == [(officers[0], officers[0], "api", "desk_queue")]
    assert await reads_of(pool, codes["open2"]) == []  # not on the page: not read
    # A dossier the read model lists but Temporal does not hold: the view fails, and nothing is recorded.
    assert_problem(await api_client.get(f"/v1/desk/dossiers/{codes['open2']}", headers=as_officer),
                   404, "dossier_not_found")
    assert await reads_of(pool, codes["open2"]) == []


async def test_a_portal_status_view_is_not_a_read_of_personal_data(
        api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool,
        seeded: tuple[str, str, list[str], dict[str, str]]):
    code = seeded[3]["ontime1"]
    # A status view carries no personal data: not a read of it.
    assert (await api_client.get(f"/v1/dossiers/{code}", headers=bearer(portal_token))).status_code == 200
    assert await reads_of(pool, code) == []


async def test_the_supervisors_workload_and_on_time_rate(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
        seeded: tuple[str, str, list[str], dict[str, str]]):
    unit, supervisor, officers, _ = seeded
    as_supervisor = bearer(login_token(oidc_provider, supervisor))
    answer = await api_client.get("/v1/supervise/workload", headers=as_supervisor)  # their own unit by default
    assert answer.status_code == 200, answer.text
    load = {o["officer_id"]: (o["open"], o["overdue"]) for o in answer.json()["officers"]}
    assert answer.json()["police_unit"] == unit
    assert load[officers[0]] == (2, 1) and load[officers[1]] == (1, 1)
    assert load[supervisor] == (0, 0)

    today = datetime.now(VN_TZ).date()
    answer = await api_client.get("/v1/supervise/on-time", params={"since": str(today - timedelta(days=29))},
                                  headers=as_supervisor)
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"rate": round(answer.json()["rate"], 4)} == {
        "police_unit": unit, "since": str(today - timedelta(days=29)), "until": str(today), "decided": 4,
        "on_time": 3, "rate": 0.75}
    assert_problem(await api_client.get("/v1/supervise/on-time", params={"since": "2026-02-02", "until": "2026-02-01"},
                                        headers=as_supervisor), 422, "invalid_request")
    # Another unit's figures are not this supervisor's; an officer has none.
    assert_problem(await api_client.get("/v1/supervise/workload", params={"unit": "CA-00070"},
                                        headers=as_supervisor), 403, "forbidden")
    assert_problem(await api_client.get("/v1/supervise/workload", headers=bearer(login_token(oidc_provider,
                                                                                             officers[0]))),
                   403, "forbidden")


async def test_the_auditors_search_of_closed_dossiers(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
        seeded: tuple[str, str, list[str], dict[str, str]]):
    unit, _, _, codes = seeded
    auditor = bearer(login_token(oidc_provider, AUDITOR))
    found: list[str] = []
    cursor = None
    while True:
        answer = await api_client.get("/v1/audit/dossiers", headers=auditor, params={
            "unit": unit, "since": str(date.today() - timedelta(days=10)), "limit": 2,
            **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        found += [item["dossier_code"] for item in answer.json()["items"]]
        if not (cursor := answer.json()["next_cursor"]):
            break
    mine = [code for code in found if code in codes.values()]
    # Newest closure first, closed ones only, within the period.
    # (ONTIME1 and WITHDRAWN closed at the same moment: the code, descending, decides.)
    assert mine == [codes[n] for n in ("withdrawn", "ontime1", "ontime2", "ontime3", "late")]
    refused = await api_client.get("/v1/audit/dossiers", headers=auditor, params={"unit": unit, "outcome": "refused"})
    assert [i["dossier_code"] for i in refused.json()["items"] if i["dossier_code"] in codes.values()] == [
        codes["ontime2"]]
    one = await api_client.get("/v1/audit/dossiers", headers=auditor, params={"code": codes["late"].lower()})
    assert [i["dossier_code"] for i in one.json()["items"]] == [codes["late"]]


async def test_reminders_and_escalations_reach_the_inbox_once_whatever_the_retries(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, pool: asyncpg.Pool,
        activities: DossierActivities, seeded: tuple[str, str, list[str], dict[str, str]]):
    _, supervisor, officers, codes = seeded
    code = codes["open1"]
    at = datetime.now(UTC)

    def batch(index: int, action: TrailAction) -> AuditBatch:
        return AuditBatch(records=(AuditRecord(dossier_code=code, event_key=f"{index:04d}-{action.value}",
                                               entry=TrailEntry(at=at, actor="system", action=action)),))

    env = ActivityEnvironment()
    for _attempt in range(2):  # the second as Temporal retries an attempt whose completion was lost
        await env.run(activities.record_event, batch(1, TrailAction.REMINDER_SENT))
        await env.run(activities.record_event, batch(2, TrailAction.ESCALATED))
    rows = await pool.fetch("SELECT officer_id, kind FROM desk_notices WHERE dossier_code = $1 ORDER BY kind,"
                            " officer_id", code)
    assert [(r["kind"], r["officer_id"]) for r in rows] == sorted([
        ("escalation", officers[0]), ("escalation", supervisor), ("reminder", officers[0])])

    as_officer = bearer(login_token(oidc_provider, officers[0]))
    listed = (await api_client.get("/v1/desk/inbox", headers=as_officer)).json()
    assert listed["unread"] == 2
    assert [(n["dossier_code"], n["kind"]) for n in listed["items"]] == [(code, "escalation"), (code, "reminder")]
    ids = [n["notice_id"] for n in listed["items"]]
    # The supervisor's notices are not the officer's to mark.
    theirs = (await api_client.get("/v1/desk/inbox", headers=bearer(login_token(oidc_provider, supervisor)))).json()
    marked = await api_client.post("/v1/desk/inbox/read", headers=as_officer,
                                   json={"notice_ids": [ids[1], theirs["items"][0]["notice_id"]]})
    assert marked.json() == {"marked": 1, "unread": 1}
    again = await api_client.post("/v1/desk/inbox/read", headers=as_officer, json={"notice_ids": [ids[1]]})
    assert again.json() == {"marked": 0, "unread": 1}
    assert (await api_client.get("/v1/desk/inbox/unread", headers=as_officer)).json() == {"unread": 1}
    unread = (await api_client.get("/v1/desk/inbox", params={"unread": "true"}, headers=as_officer)).json()
    assert [n["notice_id"] for n in unread["items"]] == [ids[0]]
