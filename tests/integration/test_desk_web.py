"""The desk's parts a browser cannot easily show: the queue's search taken literally, the sign-in refusing to be a
redirector or to finish a sign-in this browser did not start, the desk's pages sent with their guards, and the draft
result's PDF: what it prints, to whom, and what it leaves behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfReader

from cutru.api.desk.sessions import SESSION_COOKIE, open_session
from cutru.clients.client import DossierClient
from domain.documents import DRAFT_MARK
from tests.integration.test_api_desk import OFFICER, dossiers, other_unit, token, waiting  # noqa: F401 (fixtures)
from tests.integration.test_api_sign_off import HEAD, propose
from tests.oidc import OidcProvider, login_token


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


async def desk_cookie(app: FastAPI, provider: OidcProvider, pool: asyncpg.Pool, username: str) -> dict[str, str]:
    """A desk session of ``username`` opened from a token the API verified, as the sign-in opens it."""
    principal = await app.state.api.verifier.verify(login_token(provider, username))
    session_id, _ = await open_session(pool, principal, idle=timedelta(minutes=10), lifetime=timedelta(hours=1))
    return {"Cookie": f"{SESSION_COOKIE}={session_id}"}


def pdf_text(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["cache-control"] == "private, no-store"
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(answer.content)).pages)


async def test_the_draft_result_is_a_marked_unsigned_pdf_for_the_unit_only(
        api_app: FastAPI, api_client: httpx.AsyncClient, oidc_provider: OidcProvider, pool: asyncpg.Pool,
        dossiers: DossierClient, waiting: str):  # noqa: F811 (fixtures)
    applicant = (await dossiers.status(waiting)).submission["applicant"]["full_name"]  # type: ignore[index]
    officer = await desk_cookie(api_app, oidc_provider, pool, OFFICER)
    page = await api_client.get(f"/desk/dossiers/{waiting}", headers=officer)
    assert f'href="/desk/dossiers/{waiting}/draft/CT08"' in page.text
    # What the checks found and the trail's details read in Vietnamese.
    assert "Người đề nghị trong Cơ sở dữ liệu quốc gia về dân cư: còn sống" in page.text
    assert "Hẹn trả kết quả:" in page.text
    assert "population database" not in page.text and "appointment" not in page.text

    draft = pdf_text(await api_client.get(f"/desk/dossiers/{waiting}/draft/CT08", headers=officer))
    assert DRAFT_MARK in " ".join(draft.split()) and applicant in draft
    assert "Dự thảo: chưa ký" in draft and "Mã xác thực" not in draft  # unsigned, no verification code
    assert await pool.fetchval("SELECT count(*) FROM documents WHERE dossier_code = $1 AND kind = 'CT08'",
                               waiting) == 0  # neither stored nor issued
    assert await pool.fetchval("SELECT count(*) FROM result_verifications WHERE dossier_code = $1", waiting) == 0
    assert await pool.fetch("SELECT officer_id, channel FROM personal_data_reads WHERE dossier_code = $1"
                            " AND operation = 'desk_draft'", waiting) == [(OFFICER, "desk")]
    not_a_result = await api_client.get(f"/desk/dossiers/{waiting}/draft/CT07", headers=officer)
    assert not_a_result.status_code == 404 and "không có kết quả CT07" in not_a_result.text

    # An officer of another unit learns nothing of it, and reads nothing.
    _, stranger, _ = await other_unit(pool)
    refused = await api_client.get(f"/desk/dossiers/{waiting}/draft/CT08",
                                   headers=await desk_cookie(api_app, oidc_provider, pool, stranger))
    assert refused.status_code == 404 and "Không tìm thấy hồ sơ" in refused.text and applicant not in refused.text
    assert await pool.fetchval("SELECT count(*) FROM personal_data_reads WHERE dossier_code = $1"
                               " AND officer_id = $2", waiting, stranger) == 0

    # Proposed, the head's draft prints the head's title and name as the signature will; the officer has no
    # such page.
    await propose(api_client, oidc_provider, dossiers, waiting)
    head = await desk_cookie(api_app, oidc_provider, pool, HEAD)
    head_name = await pool.fetchval("SELECT full_name FROM officers WHERE officer_id = $1", HEAD)
    sign_off_page = await api_client.get(f"/desk/sign-offs/{waiting}", headers=head)
    assert f'href="/desk/sign-offs/{waiting}/draft/CT08"' in sign_off_page.text
    signed = pdf_text(await api_client.get(f"/desk/sign-offs/{waiting}/draft/CT08", headers=head))
    assert DRAFT_MARK in " ".join(signed.split()) and head_name in signed and "TRƯỞNG CÔNG AN" in signed
    assert (await api_client.get(f"/desk/sign-offs/{waiting}/draft/CT08", headers=officer)).status_code == 403
    assert await pool.fetchval("SELECT count(*) FROM documents WHERE dossier_code = $1 AND kind = 'CT08'",
                               waiting) == 0
