"""The public verification of result documents, on the session's database and the API in process: a CT07 issued by
the delivery activity verifies as valid, its PDF or hash matches, a different hash does not, a later change of the
person's residence records makes it void; an unknown code is a 404 problem; no answer carries personal data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import ActivityEnvironment

from activities import delivery, records
from activities.contracts import DeliveryRequest, DocumentRequest, DossierPaper
from activities.dossier import DossierActivities
from activities.facts import records_of
from activities.payment import LocalPaymentGateway
from cutru.api.app import create_app
from cutru.api.settings import ApiSettings
from domain.calendar import local_date
from domain.kinds import DocumentKind, Procedure
from domain.models import DossierState
from domain.procedures.catalogue import parse_submission
from domain.procedures.residence_confirmation import ct07_statements
from tests.factories import (
    DEMO_UNIT,
    OTHER_COMMUNE,
    PersonRow,
    add_temporary,
    household_with,
    new_person,
    new_place,
    submission,
)
from tests.integration.test_api import assert_problem
from tests.unit.test_documents import pdf_text

URL = "https://dichvucong.example.vn/v1/verifications"


@dataclass
class Issued:
    code: str
    request: DocumentRequest
    path: Path
    sha256: str
    person: PersonRow

    @property
    def dossier_code(self) -> str:
        return self.request.dossier_code


async def issue_ct07(pool: asyncpg.Pool, document_dir: Path) -> Issued:
    """A residence confirmation committed and its CT07 delivered, as the worker's activities do it."""
    async with pool.acquire() as conn:
        head = await new_person(conn, full_name="Trần Văn Đức", sex="male", birth_date=date(1958, 1, 1))
        son = await new_person(conn, full_name="Trần Minh Khoa", sex="male", birth_date=date(1988, 2, 2))
        await household_with(conn, head, (son, "child"))
        s = parse_submission(submission(Procedure.RESIDENCE_CONFIRMATION, son, {"purpose": "Bổ sung hồ sơ xin việc"}))
        await records.commit(conn, s)
        result = DocumentRequest(dossier_code=s.dossier_code, procedure=s.procedure, kinds=(DocumentKind.CT07,),
                                 paper=DossierPaper.of(s))
        receipt = await delivery.deliver(conn, DeliveryRequest(final_state=DossierState.COMPLETED, result=result),
                                         document_dir, URL)
        code = await conn.fetchval("SELECT code FROM result_verifications WHERE dossier_code = $1", s.dossier_code)
    return Issued(code, result, document_dir / s.dossier_code / "CT07.pdf", receipt.sha256[0], son)


@pytest.fixture
async def issued(pool: asyncpg.Pool, tmp_root: Path) -> Issued:
    return await issue_ct07(pool, tmp_root / "documents")


def assert_nothing_personal(response: httpx.Response, issued: Issued) -> None:
    text = response.text
    for personal in (issued.person.personal_id, issued.person.full_name, issued.dossier_code, "Số", "Nơi"):
        assert personal not in text, personal


async def test_a_ct07_verifies_its_unit_date_and_hash_then_is_void_after_a_change(
        api_client: httpx.AsyncClient, pool: asyncpg.Pool, issued: Issued) -> None:
    printed = f"{issued.code[:5]}-{issued.code[5:]}"
    response = await api_client.get(f"/v1/verifications/{printed.lower()}")
    assert response.status_code == 200, response.text
    body = response.json()
    today = local_date(datetime.now(UTC))
    assert body | {"message": "", "message_vi": ""} == {
        "code": printed, "status": "valid", "document": "CT07", "title_vi": "XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ",
        "issued_by": {"unit_code": DEMO_UNIT, "name": "Công an Phường Hoàn Kiếm"}, "issued_on": today.isoformat(),
        "valid_until": body["valid_until"], "sha256": issued.sha256, "hash_matches": None,
        "message": "", "message_vi": ""}
    assert body["message_vi"] == f"Văn bản có giá trị, do Công an Phường Hoàn Kiếm cấp ngày {today:%d/%m/%Y}."
    assert date.fromisoformat(body["valid_until"]) > today
    assert_nothing_personal(response, issued)

    pdf = issued.path.read_bytes()
    assert hashlib.sha256(pdf).hexdigest() == issued.sha256
    posted = await api_client.post(f"/v1/verifications/{issued.code}", content=pdf,
                                   headers={"Content-Type": "application/pdf"})
    assert posted.json()["hash_matches"] is True
    by_hash = await api_client.get(f"/v1/verifications/{issued.code}", params={"sha256": issued.sha256.upper()})
    assert by_hash.json()["hash_matches"] is True
    altered = await api_client.post(f"/v1/verifications/{issued.code}", content=pdf + b"\n",
                                    headers={"Content-Type": "application/pdf"})
    assert (altered.json()["hash_matches"], altered.json()["status"]) == (False, "valid")
    assert "mã băm SHA-256 khác" in altered.json()["message_vi"]

    async with pool.acquire() as conn:  # the person registers a temporary residence elsewhere: the data changed
        elsewhere = await new_place(conn, owner_id=None, commune_code=OTHER_COMMUNE)
        await add_temporary(conn, issued.person, elsewhere, today, today + timedelta(days=90))
    void = await api_client.get(f"/v1/verifications/{issued.code}", params={"sha256": issued.sha256})
    assert (void.json()["status"], void.json()["hash_matches"]) == ("void", True)
    assert void.json()["message_vi"].startswith("Văn bản đã hết giá trị")
    assert_nothing_personal(void, issued)


async def test_the_databases_fingerprint_is_the_one_a_ct07_records(pool: asyncpg.Pool, issued: Issued) -> None:
    # verify_result compares in SQL what the commit computed in Python: both must list the records alike.
    async def both(conn: asyncpg.Connection) -> tuple[str, str]:
        return (ct07_statements(await records_of(conn, issued.person.personal_id))[1],
                await conn.fetchval("SELECT residence_records_fingerprint($1)", issued.person.personal_id))

    async with pool.acquire() as conn:
        in_python, in_sql = await both(conn)
        assert in_sql == in_python and in_sql.startswith("P:") and "," not in in_sql
        elsewhere = await new_place(conn, owner_id=None, commune_code=OTHER_COMMUNE)
        await add_temporary(conn, issued.person, elsewhere, date(2026, 12, 1), date(2027, 3, 1))
        in_python, in_sql = await both(conn)
    assert in_sql == in_python and ",T:" in in_sql and in_sql.endswith(":2027-03-01")


async def test_a_retried_rendering_prints_the_same_code(pool: asyncpg.Pool, tmp_path: Path,
                                                        issued: Issued) -> None:
    async with pool.acquire() as conn:
        [(_, again)] = await delivery.store_documents(conn, issued.request, tmp_path, verification_url=URL)
        with pytest.raises(ValueError, match="verification endpoint"):
            await delivery.store_documents(conn, issued.request, tmp_path)
    assert f"Mã xác thực: {issued.code[:5]}-{issued.code[5:]}" in pdf_text(again.path.read_bytes())
    codes = await pool.fetch("SELECT code FROM result_verifications WHERE dossier_code = $1", issued.dossier_code)
    assert [r["code"] for r in codes] == [issued.code]


async def test_the_delivery_prints_the_code_it_reserved_and_draws_again_for_a_taken_one(
        pool: asyncpg.Pool, tmp_path: Path, issued: Issued, monkeypatch: pytest.MonkeyPatch) -> None:
    """The delivery activity reserves its results' codes in the statement it opens with (test_round_trips counts
    it); a fresh code that is already another document's is drawn again, and the code printed is the one kept."""
    async with pool.acquire() as conn:
        person = await new_person(conn, full_name="Lê Thị Hoa", birth_date=date(1990, 3, 3))
        await household_with(conn, person)
        s = parse_submission(submission(Procedure.RESIDENCE_CONFIRMATION, person, {"purpose": "Bổ sung hồ sơ"}))
        await records.commit(conn, s)
    draws = iter([issued.code])  # the first fresh code drawn is the other dossier's
    drawn = delivery.code_from_bits
    monkeypatch.setattr(delivery, "code_from_bits", lambda bits: next(draws, None) or drawn(bits))
    result = DocumentRequest(dossier_code=s.dossier_code, procedure=s.procedure, kinds=(DocumentKind.CT07,),
                             paper=DossierPaper.of(s))
    activities = DossierActivities(pool=pool, gateway=LocalPaymentGateway(pool), document_dir=tmp_path,
                                   verification_url=URL)
    await ActivityEnvironment().run(activities.deliver_result,
                                    DeliveryRequest(final_state=DossierState.COMPLETED, result=result))
    codes = [r["code"] for r in await pool.fetch("SELECT code FROM result_verifications WHERE dossier_code = $1",
                                                 s.dossier_code)]
    assert len(codes) == 1 and codes[0] != issued.code
    text = pdf_text((tmp_path / s.dossier_code / "CT07.pdf").read_bytes())
    assert f"Mã xác thực: {codes[0][:5]}-{codes[0][5:]}" in text


@pytest.mark.parametrize("typed", ["0000000000", "not-a-code", "7K3QD-M2X9U"])
async def test_an_unknown_code_is_a_404_problem(api_client: httpx.AsyncClient, typed: str) -> None:
    assert_problem(await api_client.get(f"/v1/verifications/{typed}"), 404, "verification_not_found")


async def test_verifications_are_rate_limited_per_address(api_settings: ApiSettings, worker: object) -> None:
    app: FastAPI = create_app(api_settings.model_copy(update={"verify_rate_per_minute": 1, "verify_rate_burst": 2}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cutru.test") as client:
            statuses = [(await client.get("/v1/verifications/0000000000")).status_code for _ in range(3)]
            limited = await client.get("/v1/verifications/0000000000")
    assert statuses == [404, 404, 429]
    body = assert_problem(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1 and "lượt kiểm tra" in body["detail_vi"]


async def test_the_apis_role_verifies_without_reading_a_register(pool: asyncpg.Pool, issued: Issued) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL ROLE cutru_api")
        assert await conn.fetchval("SELECT records_unchanged FROM verify_result($1)", issued.code) is True
        for statement in ("SELECT residence_records_fingerprint('000000000000')",
                          "SELECT count(*) FROM residence_confirmations"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.fetchval(statement)


async def test_a_scanned_code_opens_a_vietnamese_page(api_client: httpx.AsyncClient, issued: Issued) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    answer = await api_client.get(f"/v1/verifications/{issued.code}", headers=browser)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "Văn bản có giá trị, do Công an Phường Hoàn Kiếm cấp ngày" in answer.text and issued.sha256 in answer.text
    assert_nothing_personal(answer, issued)
    unknown = await api_client.get("/v1/verifications/0000000000", headers=browser)
    assert unknown.status_code == 404 and "Không có văn bản nào mang mã xác thực này" in unknown.text
