"""Rate limits on the API's writes (cutru/api/ratelimit.py): per caller and per dossier, 429 problem+json with
Retry-After in both languages, documented in the OpenAPI — on the API in process with the real OIDC provider."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from cutru.api.app import openapi_document
from cutru.api.desk.sessions import SESSION_COOKIE, open_session
from cutru.api.ratelimit import TokenBuckets
from cutru.api.settings import ApiSettings
from cutru.platform.config import Settings
from cutru.platform.oidc import Principal, Role
from tests.api_fixtures import bearer
from tests.oidc import OidcProvider, signed_token

CALLER_BURST = 3
DOSSIER_BURST = 2
# The writes of portals and officers, and the public verification a guesser would hammer (operators' own
# subscription writes and marking the inbox read are not limited).
RATE_LIMITED = {"submit_dossier", "submit_batch", "supplement_dossier", "withdraw_dossier", "desk_decide",
                "desk_reassign", "desk_sign_off", "desk_attachment_finding", "upload_attachment", "intake_dossier",
                "verify_document", "verify_document_file", "close_dossier"}


@pytest.fixture
def api_settings(settings: Settings, oidc_provider: OidcProvider) -> ApiSettings:
    # One token a second back, so that Retry-After is short; bursts small enough to reach in a few requests.
    return ApiSettings(core=settings, oidc=oidc_provider.settings, rate_per_minute=60, rate_burst=CALLER_BURST,
                       dossier_rate_per_minute=60, dossier_rate_burst=DOSSIER_BURST)


def portal(oidc_provider: OidcProvider) -> dict[str, str]:
    """A portal client of its own (its own token subject)."""
    return bearer(signed_token(oidc_provider, sub=f"portal-{uuid.uuid4().hex[:8]}"))


def assert_rate_limited(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1
    body: dict[str, Any] = response.json()
    assert body["code"] == "rate_limited" and body["status"] == 429
    assert body["title_vi"] == "Quá nhiều yêu cầu" and "Idempotency-Key" in body["detail_en"]
    return body


async def test_a_caller_over_its_limit_gets_429_and_others_go_on(api_client: httpx.AsyncClient,
                                                                oidc_provider: OidcProvider):
    flooding, other = portal(oidc_provider), portal(oidc_provider)
    # The limit counts the write before its body is read: these invalid submissions count, and are refused as such.
    for _ in range(CALLER_BURST):
        assert (await api_client.post("/v1/dossiers", json={}, headers=flooding)).status_code == 422
    refused = await api_client.post("/v1/dossiers", json={}, headers=flooding | {"Accept-Language": "vi"})
    body = assert_rate_limited(refused)
    assert body["title"] == "Quá nhiều yêu cầu" and "từ hệ thống của bạn" in body["detail"]
    # A batch counts against the same caller.
    assert_rate_limited(await api_client.post("/v1/batches", json={"items": []}, headers=flooding))
    assert (await api_client.post("/v1/dossiers", json={}, headers=other)).status_code == 422
    # Reads are not limited.
    assert (await api_client.get("/v1/dossiers", headers=flooding)).status_code == 200


async def test_the_caller_may_write_again_after_retry_after(api_client: httpx.AsyncClient,
                                                           oidc_provider: OidcProvider):
    headers = portal(oidc_provider)
    for _ in range(CALLER_BURST):
        await api_client.post("/v1/dossiers", json={}, headers=headers)
    refused = await api_client.post("/v1/dossiers", json={}, headers=headers)
    assert_rate_limited(refused)
    await asyncio.sleep(int(refused.headers["retry-after"]))
    assert (await api_client.post("/v1/dossiers", json={}, headers=headers)).status_code == 422


async def test_writes_to_one_dossier_are_limited_whoever_sends_them(api_client: httpx.AsyncClient,
                                                                     oidc_provider: OidcProvider):
    code, other_code = f"HS-FLOOD-{uuid.uuid4().hex[:8]}", f"HS-CALM-{uuid.uuid4().hex[:8]}"
    senders = [portal(oidc_provider) for _ in range(DOSSIER_BURST + 1)]
    for headers in senders[:DOSSIER_BURST]:
        answer = await api_client.post(f"/v1/dossiers/{code}/withdrawal", json={}, headers=headers)
        assert answer.status_code == 422, answer.text
    body = assert_rate_limited(
        await api_client.post(f"/v1/dossiers/{code}/supplements", json={}, headers=senders[-1]))
    assert code in body["detail_en"] and code in body["detail_vi"]
    assert (await api_client.post(f"/v1/dossiers/{other_code}/withdrawal", json={},
                                  headers=senders[-1])).status_code == 422


async def test_the_web_desks_forms_to_one_dossier_are_limited_too(api_client: httpx.AsyncClient,
                                                                  pool: asyncpg.Pool):
    """The desk's decision, sign-off and reassignment forms message the dossier as the API's writes do: counted by
    the session's officer and the dossier, before the dossier is even looked up."""
    officer = Principal(subject="desk-officer", client_id=None, roles=frozenset({Role.OFFICER, Role.SUPERVISOR}),
                        units=frozenset({"CA-00070"}), procedures=frozenset({"*"}), officer_id="CB-00070-00",
                        name=None, token_id=uuid.uuid4().hex, expires_at=datetime.now(UTC) + timedelta(hours=1))
    session_id, session = await open_session(pool, officer, idle=timedelta(minutes=5), lifetime=timedelta(hours=1))
    headers = {"Cookie": f"{SESSION_COOKIE}={session_id}", "Origin": "http://cutru.test"}
    code = f"HS-FORM-{uuid.uuid4().hex[:8]}"
    forms = [(f"/desk/dossiers/{code}/decision", {"decision": "approve"}),
             (f"/desk/sign-offs/{code}", {"decision": "sign"}),
             (f"/desk/supervise/dossiers/{code}/reassignment", {"officer_id": "CB-00070-01", "reason": "cân bằng"})]
    answers = [await api_client.post(path, data={"csrf": session.csrf_token, **form}, headers=headers)
               for path, form in forms]
    assert [a.status_code for a in answers[:DOSSIER_BURST]] == [404] * DOSSIER_BURST  # no such dossier
    assert answers[DOSSIER_BURST].status_code == 429 and int(answers[DOSSIER_BURST].headers["retry-after"]) >= 1


def test_the_openapi_document_gives_each_write_its_429_with_retry_after():
    operations = {operation["operationId"]: operation for path in openapi_document()["paths"].values()
                  for operation in path.values()}
    for name, operation in operations.items():
        answer = operation["responses"].get("429")
        if name not in RATE_LIMITED:
            assert answer is None, name
            continue
        assert answer is not None, name
        assert answer["content"]["application/problem+json"]["schema"]["$ref"].endswith("/ProblemDetails")
        assert answer["headers"]["Retry-After"]["schema"]["type"] == "integer"


def test_a_bucket_refills_at_its_rate_up_to_its_burst():
    now = [0.0]
    buckets = TokenBuckets(per_minute=30, burst=2, clock=lambda: now[0])  # one token every 2 s
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(2.0)
    assert buckets.take("b") == 0.0  # each key its own bucket
    now[0] = 1.0
    assert buckets.take("a") == pytest.approx(1.0)
    now[0] = 2.0
    assert buckets.take("a") == 0.0
    now[0] = 1_000.0  # a long pause saves up the burst, not more
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(2.0)]


def test_the_oldest_key_is_forgotten_beyond_the_bound():
    buckets = TokenBuckets(per_minute=1, burst=1, max_keys=2, clock=lambda: 0.0)
    assert buckets.take("a") == 0.0 and buckets.take("b") == 0.0 and buckets.take("c") == 0.0
    assert buckets.take("a") == 0.0  # forgotten, so full again
    assert buckets.take("c") > 0.0


def test_the_defaults_leave_room_for_a_busy_portal_and_bound_one_dossier():
    defaults = ApiSettings()
    assert defaults.rate_per_minute >= 60 * 500 and defaults.rate_burst >= 500  # the benchmark's bursts
    assert 0 < defaults.dossier_rate_per_minute <= 120
