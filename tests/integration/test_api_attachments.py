"""Attachments through the API: an upload streamed to the store, every bad upload refused with nothing stored (no
object, no row), a submission referring to uploads, and officers of the dossier's unit opening the files and
recording their findings."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from cutru.api.state import ApiState
from domain.attachments import EICAR
from domain.models import DossierState
from tests.api_fixtures import bearer
from tests.attachment_files import eicar_pdf, jpeg, pdf, png, zip_archive
from tests.integration.test_api import assert_problem
from tests.integration.test_permanent_registration import own_residence_dossier, wait_for, wait_state
from tests.oidc import OidcProvider, login_token

OFFICER = "CB-00070-02"
MIB = 2**20


def chunks(data: bytes, size: int = 16 * 1024) -> Any:
    """The body as a stream of chunks, with no Content-Length (chunked transfer)."""
    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start:start + size]
    return stream()


async def upload(api: httpx.AsyncClient, token: str, data: Any, media_type: str = "image/png",
                 file_name: str = "Giấy chứng nhận.png", **headers: str) -> httpx.Response:
    return await api.post("/v1/attachments", params={"file_name": file_name}, content=data,
                          headers={**bearer(token), "Content-Type": media_type, "Accept-Language": "vi", **headers})


def stored_files(state: ApiState) -> list[Path]:
    root = Path(state.settings.attachments.store.removeprefix("file://"))
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def state(api_app: FastAPI) -> ApiState:
    api_state: ApiState = api_app.state.api
    return api_state


async def test_an_upload_is_streamed_checked_and_stored_once_under_its_sha256(
        api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool, state: ApiState):
    image = png(300, 200)
    sha256 = hashlib.sha256(image).hexdigest()
    first = await upload(api_client, portal_token, chunks(image))
    assert first.status_code == 201, first.text
    assert first.json() == {"sha256": sha256, "media_type": "image/png", "size_bytes": len(image),
                            "file_name": "Giấy chứng nhận.png", "already_stored": False}
    again = await upload(api_client, portal_token, image, file_name="scan.png")
    assert again.status_code == 200 and again.json()["already_stored"] is True
    assert [p.name for p in stored_files(state)] == [sha256]
    assert stored_files(state)[0].read_bytes() == image
    row = await pool.fetchrow("SELECT media_type, size_bytes, scanned_by FROM attachments WHERE sha256 = $1", sha256)
    assert tuple(row) == ("image/png", len(image), "EicarScanner")


BAD_UPLOADS = {
    "too large, declared": (bytes(MIB + 1), "application/pdf", {}, 413, "file_too_large"),
    "too large, streamed": (chunks(b"%PDF-1.7\n" + bytes(MIB)), "application/pdf", {}, 413, "file_too_large"),
    "not an accepted type": (b"<html>hi</html>", "text/html", {}, 415, "unsupported_media_type"),
    "another type than declared": (png(), "image/jpeg", {}, 422, "type_mismatch"),
    "zip bomb": (png(4, 3, pixels=bytes(MIB)), "image/png", {}, 422, "decompression_bomb"),
    "polyglot": (jpeg() + zip_archive(), "image/jpeg", {}, 422, "polyglot"),
    "truncated stream": (pdf(), "application/pdf", {"Content-Length": str(len(pdf()) + 100)}, 400, "truncated"),
    "truncated file": (pdf()[:-30], "application/pdf", {}, 422, "truncated"),
    "malware": (eicar_pdf(), "application/pdf", {}, 422, "malware_found"),
    "plain test file": (EICAR, "application/pdf", {}, 422, "malware_found"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
async def test_a_bad_upload_is_refused_and_nothing_is_stored(
        case: str, api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool, state: ApiState):
    data, media_type, headers, status, code = BAD_UPLOADS[case]
    before = await pool.fetchval("SELECT count(*) FROM attachments")
    answer = await upload(api_client, portal_token, data, media_type, **headers)
    body = assert_problem(answer, status, code)
    assert answer.headers["content-language"] == "vi" and body["title"] == body["title_vi"]
    assert stored_files(state) == []  # neither in the store nor left in its staging directory
    assert await pool.fetchval("SELECT count(*) FROM attachments") == before


async def test_uploading_needs_a_portal_token_and_a_file_name(api_client: httpx.AsyncClient, portal_token: str,
                                                              oidc_provider: OidcProvider):
    assert (await api_client.post("/v1/attachments", params={"file_name": "a.png"}, content=png(),
                                  headers={"Content-Type": "image/png"})).status_code == 401
    officer = login_token(oidc_provider, OFFICER)
    assert_problem(await upload(api_client, officer, png()), 403, "forbidden")
    assert_problem(await upload(api_client, portal_token, png(), file_name="../../etc/passwd"), 422,
                   "invalid_request")


async def test_a_submission_refers_to_uploads_and_officers_of_the_unit_open_them(
        api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool, oidc_provider: OidcProvider,
        state: ApiState):
    deed = pdf(b"BT (So do) Tj ET")
    receipt = (await upload(api_client, portal_token, deed, "application/pdf", "Sổ đỏ.pdf")).json()
    paper = {"kind": "title_deed", **{k: receipt[k] for k in ("sha256", "file_name", "media_type", "size_bytes")}}
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    portal = bearer(portal_token)
    never_uploaded = {**paper, "sha256": hashlib.sha256(b"other").hexdigest()}
    refused = await api_client.post("/v1/dossiers", json={**submission, "attachments": [never_uploaded]},
                                    headers=portal)
    assert assert_problem(refused, 422, "invalid_request")["errors"][0]["field"] == "attachments.0.sha256"
    assert await pool.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = $1", code) == 0
    submitted = await api_client.post("/v1/dossiers", json={**submission, "attachments": [paper]}, headers=portal)
    assert submitted.status_code == 201, submitted.text

    officer = bearer(login_token(oidc_provider, OFFICER))
    await wait_state(state.dossiers, code, DossierState.AWAITING_DECISION)
    [listed] = (await api_client.get(f"/v1/desk/dossiers/{code}/attachments", headers=officer)).json()
    assert (listed["kind"], listed["file_name"], listed["finding"]) == ("title_deed", "Sổ đỏ.pdf", None)
    opened = await api_client.get(listed["href"], headers=officer)
    assert opened.status_code == 200 and opened.content == deed
    assert opened.headers["content-type"] == "application/pdf"
    assert opened.headers["content-disposition"] == (
        "inline; filename=\"S_ __.pdf\"; filename*=UTF-8''S%E1%BB%95%20%C4%91%E1%BB%8F.pdf")
    assert opened.headers["x-content-type-options"] == "nosniff"
    # The portal does not open files through the desk; a file of another dossier is not this dossier's.
    assert (await api_client.get(listed["href"], headers=portal)).status_code == 403
    other = hashlib.sha256(b"x").hexdigest()
    assert_problem(await api_client.get(f"/v1/desk/dossiers/{code}/attachments/{other}", headers=officer), 404,
                   "attachment_not_found")
    # The paper opened is a read of the dossier's personal data; the refused and the missing ones are none.
    assert [tuple(r) for r in await pool.fetch(
        "SELECT officer_id, operation FROM personal_data_reads WHERE dossier_code = $1 AND operation ="
        " 'desk_attachment'", code)] == [(OFFICER, "desk_attachment")]

    finding = f"/v1/desk/dossiers/{code}/attachments/{receipt['sha256']}/findings"
    assert_problem(await api_client.post(finding, json={"kind": "title_deed", "accepted": False}, headers=officer),
                   422, "invalid_request")
    found = await api_client.post(finding, json={"kind": "title_deed", "accepted": False,
                                                 "reason": "Bản chụp mờ, không đọc được số thửa"}, headers=officer)
    assert found.status_code == 201, found.text
    assert found.json()["finding"]["officer_id"] == OFFICER
    accepted = await api_client.post(finding, json={"kind": "title_deed", "accepted": True}, headers=officer)
    assert accepted.json()["finding"]["accepted"] is True  # the latest finding is the one in force
    assert await pool.fetchval("SELECT count(*) FROM attachment_findings WHERE dossier_code = $1", code) == 2
    await state.dossiers.handle(code).terminate("test over")


async def test_the_citizen_answers_a_checklist_item_by_item_and_the_officer_sees_what_is_missing(
        api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool, oidc_provider: OidcProvider,
        state: ApiState):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    portal, officer = bearer(portal_token), bearer(login_token(oidc_provider, OFFICER))
    assert (await api_client.post("/v1/dossiers", json=submission, headers=portal)).status_code == 201
    await wait_state(state.dossiers, code, DossierState.AWAITING_DECISION)
    checklist = [
        {"item": "Giấy chứng nhận quyền sở hữu nhà ở", "legal_basis": "Luật Cư trú 2020, Điều 21 khoản 1",
         "accepted_kinds": ["title_deed"]},
        {"item": "Văn bản đồng ý của chủ hộ", "legal_basis": "Luật Cư trú 2020, Điều 21 khoản 2",
         "accepted_kinds": ["consent_letter", "other"]},
    ]
    decided = await api_client.post(f"/v1/desk/dossiers/{code}/decision", headers=officer,
                                    json={"decision": "request_supplement", "checklist": checklist})
    assert decided.status_code == 200, decided.text
    await wait_state(state.dossiers, code, DossierState.AWAITING_SUPPLEMENT)

    deed = (await upload(api_client, portal_token, pdf(b"deed"), "application/pdf", "so-do.pdf")).json()
    letter = (await upload(api_client, portal_token, png(8, 8), "image/png", "dong-y.png")).json()

    def reply(item: int, kind: str, receipt: dict[str, Any]) -> dict[str, Any]:
        fields = {k: receipt[k] for k in ("sha256", "file_name", "media_type", "size_bytes")}
        return {"answers": [{"item": item, "attachment": {"kind": kind, **fields}}]}

    supplements = f"/v1/dossiers/{code}/supplements"
    wrong = await api_client.post(supplements, json=reply(0, "consent_letter", letter), headers=portal)
    assert assert_problem(wrong, 422, "invalid_request")["errors"][0]["field"] == "answers.0.attachment.kind"
    unknown = reply(0, "title_deed", {**deed, "sha256": hashlib.sha256(b"never").hexdigest()})
    assert assert_problem(await api_client.post(supplements, json=unknown, headers=portal), 422,
                          "invalid_request")["errors"][0]["field"] == "answers.0.attachment.sha256"
    assert (await api_client.post(supplements, json=reply(0, "title_deed", deed), headers=portal)).status_code == 202

    async def missing() -> list[str]:
        view = (await api_client.get(f"/v1/desk/dossiers/{code}", headers=officer)).json()
        return [entry["item"] for entry in view["checklist"] if entry["answer"] is None]

    async def only_the_letter_missing() -> bool:
        return await missing() == ["Văn bản đồng ý của chủ hộ"]

    await wait_for(only_the_letter_missing)
    again = await api_client.post(supplements, json=reply(0, "title_deed", deed), headers=portal)
    assert assert_problem(again, 422, "invalid_request")["errors"][0]["message"] == "this item is already answered"
    assert (await api_client.post(supplements, json=reply(1, "other", letter), headers=portal)).status_code == 202
    await wait_state(state.dossiers, code, DossierState.AWAITING_DECISION)
    papers = (await api_client.get(f"/v1/desk/dossiers/{code}/attachments", headers=officer)).json()
    assert [(paper["kind"], paper["checklist_item"]) for paper in papers] == [("title_deed", 0), ("other", 1)]
    await state.dossiers.handle(code).terminate("test over")
