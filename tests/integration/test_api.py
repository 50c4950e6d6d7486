"""The API in process against the real Temporal dev server, PostgreSQL, a worker and the local OIDC provider."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from cutru.platform.config import Settings
from tests.api_fixtures import bearer
from tests.integration.test_permanent_registration import own_residence_dossier, wait_for
from tests.oidc import OidcProvider, expired_token, signed_token, tampered_token

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["title_en"] and body["title_vi"] and body["detail_en"] and body["detail_vi"]
    return body


async def workflow_count(client: Client, code: str) -> int:
    return len([w async for w in client.list_workflows(f'WorkflowId = "{code}"')])


async def recorded(pool: asyncpg.Pool, code: str) -> int:
    """Whether the intake outbox holds the code (cutru/api/outbox.py): a refused request records nothing."""
    return int(await pool.fetchval("SELECT count(*) FROM dossier_intake WHERE dossier_code = $1", code))


async def wait_started(pool: asyncpg.Pool, code: str) -> None:
    """Until the API has started the dossier it recorded (after its answer: the intake outbox's fast path)."""
    async def started() -> bool:
        row = await pool.fetchrow("SELECT started_at FROM dossier_intake WHERE dossier_code = $1", code)
        return row is None or row["started_at"] is not None  # started, or started and pruned

    await wait_for(started, timeout=60)


@pytest.fixture
async def submission(pool: asyncpg.Pool) -> dict[str, Any]:
    raw: dict[str, Any] = await own_residence_dossier(pool)
    return json.loads(json.dumps(raw, default=str))


# ---------------------------------------------------------------------------------------------- authentication


async def test_an_unauthenticated_write_gets_401_and_starts_nothing(
        api_client: httpx.AsyncClient, submission: dict[str, Any], client: Client, pool: asyncpg.Pool):
    response = await api_client.post("/v1/dossiers", json=submission)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await workflow_count(client, submission["dossier_code"]) == 0
    assert await recorded(pool, submission["dossier_code"]) == 0


@pytest.mark.parametrize("make", [expired_token, lambda p: tampered_token(signed_token(p))],
                         ids=["expired", "tampered"])
async def test_a_bad_token_gets_401_invalid_token(api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
                                                  submission: dict[str, Any], make: Any):
    response = await api_client.post("/v1/dossiers", json=submission, headers=bearer(make(oidc_provider)))
    assert_problem(response, 401, "unauthenticated")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_wrong_role_gets_403_and_starts_nothing(api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
                                                       submission: dict[str, Any], client: Client,
                                                       pool: asyncpg.Pool):
    token = signed_token(oidc_provider, roles=["auditor"])
    response = await api_client.post("/v1/dossiers", json=submission, headers=bearer(token))
    assert_problem(response, 403, "forbidden")
    assert await workflow_count(client, submission["dossier_code"]) == 0
    assert await recorded(pool, submission["dossier_code"]) == 0


async def test_a_portal_of_another_unit_cannot_submit_or_see(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, portal_token: str,
        submission: dict[str, Any], client: Client, pool: asyncpg.Pool):
    other = signed_token(oidc_provider, police_units=["CA-99999"])
    refused = await api_client.post("/v1/dossiers", json=submission, headers=bearer(other))
    assert_problem(refused, 403, "forbidden")
    assert await workflow_count(client, submission["dossier_code"]) == 0
    assert await recorded(pool, submission["dossier_code"]) == 0

    code = submission["dossier_code"]
    assert (await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))).status_code == 201
    await wait_for(lambda: _in_read_model(pool, code))
    # Another unit's read is answered as if the dossier did not exist.
    hidden = await api_client.get(f"/v1/dossiers/{code}", headers=bearer(other))
    assert_problem(hidden, 404, "dossier_not_found")
    listed = await api_client.get("/v1/dossiers", headers=bearer(other))
    assert code not in {item["dossier_code"] for item in listed.json()["items"]}


# ---------------------------------------------------------------------------------------------- submission


async def test_submit_then_submit_again_is_one_dossier(api_client: httpx.AsyncClient, portal_token: str,
                                                       submission: dict[str, Any], client: Client,
                                                       pool: asyncpg.Pool):
    first = await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))
    assert first.status_code == 201, first.text
    assert first.json()["already_submitted"] is False
    second = await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))
    assert second.status_code == 200, second.text
    assert second.json()["already_submitted"] is True
    assert second.json()["dossier_code"] == submission["dossier_code"]
    await wait_started(pool, submission["dossier_code"])
    assert await workflow_count(client, submission["dossier_code"]) == 1


async def test_a_code_the_read_model_holds_is_never_started_again(api_client: httpx.AsyncClient, portal_token: str,
                                                                  submission: dict[str, Any], client: Client,
                                                                  pool: asyncpg.Pool):
    """Under another procedure (a stay a register recorded) the code is refused; under the same one it is this
    dossier, submitted before (its workflow id may be free again in Temporal after the retention period)."""
    code = submission["dossier_code"]
    await pool.execute("INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
                       " received_at, run_id) VALUES ($1, 'StayNotification', 'completed', 'CA-00070', $2, 'X', now(),"
                       " 'stay-register')", code, submission["applicant"]["personal_id"])
    refused = await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))
    assert code in assert_problem(refused, 409, "dossier_code_taken")["detail_en"]
    batch = await api_client.post("/v1/batches", json={"items": [submission]}, headers=bearer(portal_token))
    assert batch.json()["items"][0]["result"] == "rejected", batch.text
    assert await recorded(pool, code) == 0
    await pool.execute("UPDATE dossiers SET procedure = $2 WHERE dossier_code = $1", code, submission["procedure"])
    again = await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))
    assert again.status_code == 200 and again.json()["already_submitted"] is True, again.text
    assert await workflow_count(client, code) == 0


async def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(
        api_client: httpx.AsyncClient, portal_token: str, submission: dict[str, Any], pool: asyncpg.Pool):
    headers = bearer(portal_token) | {"Idempotency-Key": str(uuid.uuid4())}
    first = await api_client.post("/v1/dossiers", json=submission, headers=headers)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    replay = await api_client.post("/v1/dossiers", json=submission, headers=headers)
    # The replay is the first answer (201, not already_submitted), not a second submission's 200.
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()

    other = copy.deepcopy(submission) | {"dossier_code": f"HS-TEST-{uuid.uuid4().hex[:10].upper()}"}
    mismatch = await api_client.post("/v1/dossiers", json=other, headers=headers)
    assert_problem(mismatch, 422, "idempotency_key_reused")
    assert await pool.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = $1", other["dossier_code"]) == 0
    assert await recorded(pool, other["dossier_code"]) == 0


async def test_the_same_key_sent_twice_at_once_runs_once(api_client: httpx.AsyncClient, portal_token: str,
                                                         submission: dict[str, Any]):
    headers = bearer(portal_token) | {"Idempotency-Key": str(uuid.uuid4())}
    answers = await asyncio.gather(*(api_client.post("/v1/dossiers", json=submission, headers=headers)
                                     for _ in range(2)))
    statuses = sorted(answer.status_code for answer in answers)
    # The second either waited for nothing (409, retry) or came after the first finished (its replay): never a
    # second submission's 200.
    assert statuses in ([201, 201], [201, 409]), [answer.text for answer in answers]
    if statuses == [201, 409]:
        assert_problem(next(a for a in answers if a.status_code == 409), 409, "idempotency_in_progress")
    else:
        assert any(answer.headers.get("idempotent-replayed") == "true" for answer in answers)


async def test_a_refused_request_leaves_no_idempotency_record(api_client: httpx.AsyncClient, portal_token: str,
                                                              submission: dict[str, Any], pool: asyncpg.Pool):
    key = str(uuid.uuid4())
    broken = submission | {"police_unit": "nowhere"}
    response = await api_client.post("/v1/dossiers", json=broken, headers=bearer(portal_token) | {
        "Idempotency-Key": key})
    assert response.status_code == 422
    assert await pool.fetchval("SELECT count(*) FROM api_idempotency WHERE idempotency_key = $1", key) == 0
    fixed = await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token) | {
        "Idempotency-Key": key})
    assert fixed.status_code == 201


async def test_an_invalid_body_gets_field_errors_in_both_languages(
        api_client: httpx.AsyncClient, portal_token: str, submission: dict[str, Any], client: Client,
        pool: asyncpg.Pool):
    broken = copy.deepcopy(submission)
    broken["applicant"]["personal_id"] = "12"
    del broken["delivery"]
    english = await api_client.post("/v1/dossiers", json=broken, headers=bearer(portal_token))
    body = assert_problem(english, 422, "invalid_request")
    fields = {error["field"]: error for error in body["errors"]}
    assert {"applicant.personal_id", "delivery"} <= set(fields), fields
    assert fields["delivery"]["message_vi"] == "Thiếu trường bắt buộc"
    assert body["title"] == body["title_en"] == "The request is invalid"
    assert english.headers["content-language"] == "en"

    vietnamese = await api_client.post("/v1/dossiers", json=broken,
                                       headers=bearer(portal_token) | {"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"})
    body_vi = assert_problem(vietnamese, 422, "invalid_request")
    assert body_vi["title"] == body_vi["title_vi"] == "Dữ liệu không hợp lệ"
    assert vietnamese.headers["content-language"] == "vi"
    assert await workflow_count(client, submission["dossier_code"]) == 0
    assert await recorded(pool, submission["dossier_code"]) == 0


async def test_an_unknown_procedure_and_bad_json_are_422(api_client: httpx.AsyncClient, portal_token: str,
                                                         submission: dict[str, Any]):
    unknown = await api_client.post("/v1/dossiers", json=submission | {"procedure": "Nope"},
                                    headers=bearer(portal_token))
    body = assert_problem(unknown, 422, "invalid_request")
    assert [error["field"] for error in body["errors"]] == ["procedure"]
    garbage = await api_client.post("/v1/dossiers", content=b"{not json",
                                    headers=bearer(portal_token) | {"Content-Type": "application/json"})
    assert_problem(garbage, 422, "invalid_request")


async def test_an_oversized_body_gets_413_declared_or_streamed(api_client: httpx.AsyncClient, portal_token: str,
                                                               api_app: Any):
    limit = api_app.state.api.settings.max_body_bytes
    big = b'{"x": "' + b"a" * limit + b'"}'
    declared = await api_client.post("/v1/dossiers", content=big,
                                     headers=bearer(portal_token) | {"Content-Type": "application/json"})
    assert_problem(declared, 413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: only counting the bytes catches it
        for start in range(0, len(big), 4096):
            yield big[start:start + 4096]

    streamed = await api_client.post("/v1/dossiers", content=chunks(),
                                     headers=bearer(portal_token) | {"Content-Type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert_problem(streamed, 413, "payload_too_large")


async def test_a_batch_answers_each_item(api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool,
                                         submission: dict[str, Any], client: Client):
    second = json.loads(json.dumps(await own_residence_dossier(pool), default=str))
    broken = copy.deepcopy(second) | {"dossier_code": "HS-BAD-BATCH-1", "police_unit": "x"}
    response = await api_client.post("/v1/batches", json={"items": [submission, broken, second, submission]},
                                     headers=bearer(portal_token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["result"] for item in body["items"]][1:3] == ["rejected", "accepted"]
    # The same code twice in one batch is one dossier, whichever of the two calls got there first (the items are
    # submitted concurrently, so the first item may be the one answered "already_submitted").
    assert sorted([body["items"][0]["result"], body["items"][3]["result"]]) == ["accepted", "already_submitted"]
    assert body["items"][1]["errors"][0]["field"] == "police_unit"
    assert (body["accepted"], body["already_submitted"], body["rejected"]) == (2, 1, 1)
    await wait_started(pool, submission["dossier_code"])
    assert await workflow_count(client, submission["dossier_code"]) == 1
    assert await workflow_count(client, "HS-BAD-BATCH-1") == 0
    assert await recorded(pool, "HS-BAD-BATCH-1") == 0

    too_many = await api_client.post("/v1/batches", json={"items": [submission] * 51}, headers=bearer(portal_token))
    assert_problem(too_many, 422, "invalid_request")


# ---------------------------------------------------------------------------------------------- reads


async def _in_read_model(pool: asyncpg.Pool, code: str) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = $1", code))


async def test_an_unknown_code_is_404_problem(api_client: httpx.AsyncClient, portal_token: str):
    for path in ("/v1/dossiers/HS-NOPE-0001", "/v1/dossiers/HS-NOPE-0001/documents",
                 "/v1/dossiers/HS-NOPE-0001/receipt", "/v1/dossiers/HS-NOPE-0001/documents/CT04"):
        assert_problem(await api_client.get(path, headers=bearer(portal_token)), 404, "dossier_not_found")
    withdrawal = await api_client.post("/v1/dossiers/HS-NOPE-0001/withdrawal",
                                       json={"reason": "changed my mind", "applicant_id": "001090012345"},
                                       headers=bearer(portal_token))
    assert_problem(withdrawal, 404, "dossier_not_found")


async def test_status_is_citizen_safe_and_documents_match_their_hash(
        api_client: httpx.AsyncClient, portal_token: str, submission: dict[str, Any], pool: asyncpg.Pool):
    code = submission["dossier_code"]
    assert (await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))).status_code == 201

    async def receipt_issued() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM documents WHERE dossier_code = $1 AND kind = 'CT04'", code))

    await wait_for(receipt_issued)
    response = await api_client.get(f"/v1/dossiers/{code}", headers=bearer(portal_token))
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["dossier_code"] == code and view["police_unit"] == submission["police_unit"]
    text = response.text
    assert submission["applicant"]["personal_id"] not in text
    assert submission["applicant"]["full_name"] not in text
    assert not {"submission", "assigned_officer", "applicant_id", "applicant_name", "trail", "findings"} & set(view)

    sha256 = await pool.fetchval("SELECT sha256 FROM documents WHERE dossier_code = $1 AND kind = 'CT04'", code)
    listed = (await api_client.get(f"/v1/dossiers/{code}/documents", headers=bearer(portal_token))).json()
    assert {"kind": "CT04", "sha256": sha256} in [{"kind": d["kind"], "sha256": d["sha256"]} for d in listed]
    download = await api_client.get(f"/v1/dossiers/{code}/documents/CT04", headers=bearer(portal_token))
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(download.content).hexdigest() == sha256
    assert download.headers["repr-digest"] == f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"
    assert download.headers["etag"] == f'"{sha256}"'
    again = await api_client.get(f"/v1/dossiers/{code}/documents/CT04",
                                 headers=bearer(portal_token) | {"If-None-Match": f'"{sha256}"'})
    assert again.status_code == 304

    receipt = (await api_client.get(f"/v1/dossiers/{code}/receipt", headers=bearer(portal_token))).json()
    assert receipt["document"]["sha256"] == sha256 and receipt["appointment"] is not None


async def test_only_the_applicant_withdraws_and_only_an_awaited_supplement_is_taken(
        api_client: httpx.AsyncClient, portal_token: str, submission: dict[str, Any], pool: asyncpg.Pool):
    code = submission["dossier_code"]
    assert (await api_client.post("/v1/dossiers", json=submission, headers=bearer(portal_token))).status_code == 201
    await wait_for(lambda: _in_read_model(pool, code))
    supplement = await api_client.post(f"/v1/dossiers/{code}/supplements", json={"provided_items": ["Hợp đồng"]},
                                       headers=bearer(portal_token))
    assert_problem(supplement, 409, "not_awaiting_supplement")

    applicant = submission["applicant"]["personal_id"]
    stranger = "001090012345" if applicant != "001090012345" else "001090054321"
    refused = await api_client.post(f"/v1/dossiers/{code}/withdrawal", json={"reason": "đổi ý",
                                    "applicant_id": stranger}, headers=bearer(portal_token))
    assert_problem(refused, 403, "not_the_applicant")
    accepted = await api_client.post(f"/v1/dossiers/{code}/withdrawal", json={"reason": "đổi ý",
                                     "applicant_id": applicant}, headers=bearer(portal_token))
    assert accepted.status_code == 202, accepted.text

    async def withdrawn() -> bool:
        return await pool.fetchval("SELECT status FROM dossiers WHERE dossier_code = $1", code) == "withdrawn"

    await wait_for(withdrawn)
    closed = await api_client.post(f"/v1/dossiers/{code}/withdrawal", json={"reason": "đổi ý",
                                   "applicant_id": applicant}, headers=bearer(portal_token))
    assert_problem(closed, 409, "dossier_closed")


async def test_list_pages_with_an_opaque_cursor(api_client: httpx.AsyncClient, portal_token: str,
                                                oidc_provider: OidcProvider, pool: asyncpg.Pool):
    codes = []
    for _ in range(3):
        raw = json.loads(json.dumps(await own_residence_dossier(pool), default=str))
        assert (await api_client.post("/v1/dossiers", json=raw, headers=bearer(portal_token))).status_code == 201
        codes.append(raw["dossier_code"])
    for code in codes:
        await wait_for(lambda code=code: _in_read_model(pool, code))  # type: ignore[misc]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = (await api_client.get("/v1/dossiers", params=params, headers=bearer(portal_token))).json()
        assert len(page["items"]) <= 2
        seen += [item["dossier_code"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert set(codes) <= set(seen) and len(seen) == len(set(seen))
    bad = await api_client.get("/v1/dossiers", params={"cursor": "bm90IGEgY3Vyc29y"}, headers=bearer(portal_token))
    assert_problem(bad, 422, "invalid_cursor")


# ---------------------------------------------------------------------------------------------- public, operators


async def test_procedure_information_and_blank_forms_need_no_token(api_client: httpx.AsyncClient):
    listed = (await api_client.get("/v1/procedures")).json()
    assert len(listed) == 11
    info = (await api_client.get("/v1/procedures/PermanentResidenceRegistration")).json()
    assert info["tthc_code"] == "1.004222" and info["fee"]["online_vnd"] > 0 and info["papers"]
    form = await api_client.get(info["forms"][0]["href"])
    assert form.status_code == 200 and form.content.startswith(b"%PDF")
    assert_problem(await api_client.get("/v1/procedures/Nope"), 404, "procedure_not_found")
    assert_problem(await api_client.get("/v1/procedures/StayNotification/forms/CT01"), 404, "form_not_found")


async def test_every_error_is_problem_json(api_client: httpx.AsyncClient, portal_token: str):
    assert_problem(await api_client.get("/v1/nowhere"), 404, "not_found")
    assert_problem(await api_client.delete("/v1/procedures"), 405, "method_not_allowed")
    # A path with a GET and a POST route names both.
    wrong_method = await api_client.delete("/v1/dossiers", headers=bearer(portal_token))
    assert_problem(wrong_method, 405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "GET, HEAD, POST"


async def test_probes_and_metrics(api_client: httpx.AsyncClient, oidc_provider: OidcProvider, portal_token: str,
                                  settings: Settings):
    assert (await api_client.get("/livez")).json()["status"] == "ok"
    ready = await api_client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "temporal": "ok"}
    assert_problem(await api_client.get("/metrics"), 401, "unauthenticated")
    assert_problem(await api_client.get("/metrics", headers=bearer(portal_token)), 403, "forbidden")
    operator = signed_token(oidc_provider, roles=["operator"])
    text = (await api_client.get("/metrics", headers=bearer(operator))).text
    assert 'cutru_api_requests_total{method="GET",route="/readyz",status="200"} 1' in text
