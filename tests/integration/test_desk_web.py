"""The desk's parts a browser cannot easily show: the queue's search taken literally, the sign-in refusing to be a
redirector or to finish a sign-in this browser did not start, and the desk's pages sent with their guards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from tests.integration.test_api_desk import other_unit, token
from tests.oidc import OidcProvider


@pytest.fixture
async def named(pool: asyncpg.Pool) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """Read-model rows of another unit whose applicants' names a search must tell apart: (officer, {name: code})."""
    unit, officer, _ = await other_unit(pool)
    tag = uuid.uuid4().hex[:6].upper()
    names = {"Trần Văn Bình": "binh", "Trần Thị 100% Hà": "percent", "Lê_Văn Cường": "underscore"}
    codes = {name: f"HS-S{tag}-{suffix.upper()}" for name, suffix in names.items()}
    now = datetime.now(UTC)
    for name, code in codes.items():
        await pool.execute(
            "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
            " received_at, deadline, overdue) VALUES ($1, 'PermanentResidenceRegistration', 'awaiting_decision',"
            " $2, '001190000001', $3, $4, $5, false)", code, unit, name, now, now + timedelta(days=5))
    yield officer, codes
    await pool.execute("DELETE FROM dossiers WHERE dossier_code = ANY($1::text[])", list(codes.values()))


async def test_the_queue_finds_a_code_or_part_of_a_name_taking_wildcards_literally(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, named: tuple[str, dict[str, str]]):
    officer, codes = named
    headers = token(oidc_provider, officer)

    async def found(q: str) -> set[str]:
        answer = await api_client.get("/v1/desk/queue", params={"q": q, "limit": 500}, headers=headers)
        assert answer.status_code == 200, answer.text
        return {item["dossier_code"] for item in answer.json()["items"]} & set(codes.values())

    assert await found("trần") == {codes["Trần Văn Bình"], codes["Trần Thị 100% Hà"]}  # any case
    assert await found("%") == {codes["Trần Thị 100% Hà"]}  # a percent sign, not "anything"
    assert await found("_") == {codes["Lê_Văn Cường"]}
    assert await found(codes["Lê_Văn Cường"].lower()) == {codes["Lê_Văn Cường"]}


async def test_sign_in_returns_only_to_the_desk_and_finishes_only_what_this_browser_started(
        api_client: httpx.AsyncClient, pool: asyncpg.Pool):
    for elsewhere in ("https://attacker.example/", "//attacker.example/desk/", "/v1/dossiers", "/desk\\@x"):
        answer = await api_client.get("/desk/sign-in", params={"next": elsewhere})
        assert answer.status_code == 303
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"] and query["prompt"] == ["login"]
        assert query["redirect_uri"] == ["http://cutru.test/desk/auth/callback"]
        assert await pool.fetchval("SELECT return_to FROM desk_sign_ins ORDER BY created_at DESC LIMIT 1") \
            == "/desk/queue"
        state = query["state"][0]
        assert answer.cookies.get("__Host-cutru-sign-in") == state

    # The provider's answer for a sign-in this browser did not start (no cookie, or another one) is refused, and
    # the sign-in it names stays usable by the browser that started it.
    for cookie in ({}, {"Cookie": "__Host-cutru-sign-in=another"}):
        refused = await api_client.get("/desk/auth/callback", params={"code": "x", "state": state}, headers=cookie)
        assert refused.status_code == 400 and "Đăng nhập không thành công" in refused.text
        assert refused.headers["content-type"].startswith("text/html")
    assert await pool.fetchval("SELECT count(*) FROM desk_sign_ins WHERE return_to = '/desk/queue'") >= 1
    cancelled = await api_client.get("/desk/auth/callback", params={"error": "access_denied", "state": state})
    assert cancelled.status_code == 400 and "đăng nhập lại" in cancelled.text


async def test_desk_pages_carry_their_guards(api_client: httpx.AsyncClient):
    answer = await api_client.get("/desk/signed-out")
    assert answer.status_code == 200 and '<html lang="vi">' in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    # Signed out, a page sends the browser to sign in and back; a form is not taken.
    assert (await api_client.get("/desk/queue?state=awaiting_decision")).headers["location"] \
        == "/desk/sign-in?next=%2Fdesk%2Fqueue%3Fstate%3Dawaiting_decision"
    posted = await api_client.post("/desk/dossiers/HS-X/decision", data={"decision": "approve"})
    assert posted.status_code == 401 and "Phiên làm việc đã kết thúc" in posted.text
    # Signing out of a session that has already ended just says so.
    gone = await api_client.post("/desk/sign-out", headers={"Cookie": "__Host-cutru-desk=ended-long-ago"})
    assert gone.status_code == 303 and gone.headers["location"] == "/desk/signed-out"
