"""Statistics over a small read model of two units of their own (province 99), with every figure known: counts by
channel, procedure and unit, the online share, the on-time rate, the median processing time, the fees; the scopes
a token's units allow; the CSV for Excel."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from cutru.api.statistics import CSV_HEADER
from domain.calendar import VN_TZ
from tests.api_fixtures import bearer
from tests.integration.test_api import assert_problem
from tests.oidc import OidcProvider, signed_token

UNIT_A, UNIT_B = "CA-99001", "CA-99002"
PERIOD = {"since": "2026-11-01", "until": "2026-11-30"}


def vn(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=VN_TZ)


# name: (unit, procedure, channel, status, received, closed (updated), officer handled it, overdue, fee paid on)
ROWS: dict[str, tuple[Any, ...]] = {
    "A1": (UNIT_A, "PermanentResidenceRegistration", "online", "completed", vn("2026-11-02", 9),
           vn("2026-11-04", 9), True, False, (20_000, vn("2026-11-03", 10))),
    "A2": (UNIT_A, "PermanentResidenceRegistration", "assisted", "refused", vn("2026-11-05", 8),
           vn("2026-11-05", 20), True, False, None),
    "A3": (UNIT_A, "TemporaryResidenceRegistration", "in_person", "completed", vn("2026-11-10", 8),
           vn("2026-11-20", 8), True, True, (15_000, vn("2026-11-11", 9))),
    "A4": (UNIT_A, "StayNotification", "online", "completed", vn("2026-11-12", 8), vn("2026-11-12", 8),
           False, False, None),  # closed at once by rule: nobody decided it
    "A5": (UNIT_A, "ResidenceConfirmation", "online", "completed", vn("2026-10-30", 10), vn("2026-11-01", 10),
           True, False, (10_000, vn("2026-10-30", 11))),  # received before the period, decided in it
    "A6": (UNIT_A, "ResidenceConfirmation", "online", "awaiting_decision", vn("2026-11-29", 15),
           vn("2026-11-29", 15), True, False, None),
    "B1": (UNIT_B, "TemporaryResidenceRegistration", "assisted", "completed", vn("2026-11-15", 8),
           vn("2026-11-16", 8), True, False, (15_000, vn("2026-11-16", 9))),
    "B2": (UNIT_B, "PermanentResidenceRegistration", "online", "completed", vn("2026-12-01", 8),
           vn("2026-12-02", 8), True, False, (20_000, vn("2026-12-01", 9))),  # after the period
}


@pytest.fixture(scope="module")
async def seeded(database_url: str) -> AsyncIterator[str]:
    tag = uuid.uuid4().hex[:6].upper()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.executemany(
            "INSERT INTO police_units (unit_code, name, province_code, commune_code) VALUES ($1, $2, '99', $3)",
            [(UNIT_A, "Công an Xã Thử Một", "99001"), (UNIT_B, "Công an Xã Thử Hai", "99002")])
        for name, (unit, procedure, channel, status, received, closed, handled, overdue, fee) in ROWS.items():
            code = f"HS-STAT-{tag}-{name}"
            await conn.execute(
                "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
                " received_at, overdue, assigned_officer, updated_at, channel, filed_by)"
                " VALUES ($1, $2, $3, $4, '001090000001', 'Nguyễn Văn Thử', $5, $6, $7, $8, $9, $10)",
                code, procedure, status, unit, received, overdue, f"CB-{unit[3:]}-01" if handled else None, closed,
                channel, f"CB-{unit[3:]}-02" if channel == "assisted" else None)
            if fee is not None:
                await conn.execute(
                    "INSERT INTO payments (dossier_code, order_id, amount_vnd, status, paid_at)"
                    " VALUES ($1, $2, $3, 'paid', $4)", code, f"ORD-{code}", fee[0], fee[1])
        yield tag
    finally:
        await conn.execute("DELETE FROM payments WHERE dossier_code LIKE 'HS-STAT-%'")
        await conn.execute("DELETE FROM dossiers WHERE dossier_code LIKE 'HS-STAT-%'")
        await conn.execute("DELETE FROM police_units WHERE unit_code = ANY($1)", [UNIT_A, UNIT_B])
        await conn.close()


def supervisor(provider: OidcProvider, *units: str, role: str = "supervisor") -> dict[str, str]:
    return bearer(signed_token(provider, sub="CB-99001-00", client_id="cutru-desk", roles=[role],
                               police_units=list(units), officer_id="CB-99001-00"))


async def test_the_figures_of_two_units(api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
                                        seeded: str) -> None:
    answer = await api_client.get("/v1/statistics", params=PERIOD,
                                  headers=supervisor(oidc_provider, UNIT_A, UNIT_B))
    assert answer.status_code == 200, answer.text
    stats = answer.json()
    assert stats["scope"] == {"kind": "units", "label": "2 đơn vị", "units": [UNIT_A, UNIT_B]}
    assert (stats["received"], stats["online_share"]) == (6, 5 / 6)
    assert [(c["channel"], c["dossiers"]) for c in stats["by_channel"]] == [
        ("online", 3), ("assisted", 2), ("in_person", 1)]
    assert [(p["procedure"], p["dossiers"], p["completed"], p["refused"]) for p in stats["by_procedure"]] == [
        ("PermanentResidenceRegistration", 2, 1, 1), ("TemporaryResidenceRegistration", 2, 2, 0),
        ("ResidenceConfirmation", 1, 0, 0), ("StayNotification", 1, 1, 0)]
    assert stats["by_procedure"][0]["label"] == "Đăng ký thường trú"
    assert stats["by_unit"] == [
        {"unit_code": UNIT_A, "name": "Công an Xã Thử Một", "received": 5, "online_share": 0.8, "decided": 4,
         "on_time": 3, "on_time_rate": 0.75},
        {"unit_code": UNIT_B, "name": "Công an Xã Thử Hai", "received": 1, "online_share": 1.0, "decided": 1,
         "on_time": 1, "on_time_rate": 1.0}]
    # Decided in the period: A1 48 h, A2 12 h, A3 240 h (late), A5 48 h, B1 24 h.
    assert (stats["decided"], stats["on_time"], stats["on_time_rate"]) == (5, 4, 0.8)
    assert stats["median_processing_hours"] == 48.0
    assert (stats["fees_paid"], stats["fees_collected_vnd"]) == (3, 50_000)
    assert "Nguyễn Văn Thử" not in answer.text and "001090000001" not in answer.text


async def test_a_unit_and_the_province(api_client: httpx.AsyncClient, oidc_provider: OidcProvider,
                                       seeded: str) -> None:
    both = supervisor(oidc_provider, UNIT_A, UNIT_B)
    one = (await api_client.get("/v1/statistics", params=PERIOD | {"unit": UNIT_B}, headers=both)).json()
    assert (one["scope"]["kind"], one["received"], one["decided"], one["fees_collected_vnd"]) == ("unit", 1, 1, 15_000)
    province = (await api_client.get("/v1/statistics", params=PERIOD | {"province": "99"}, headers=both)).json()
    assert (province["scope"]["kind"], province["received"], province["fees_collected_vnd"]) == ("province", 6, 50_000)
    own = (await api_client.get("/v1/statistics", params=PERIOD, headers=supervisor(oidc_provider, UNIT_A))).json()
    assert (own["scope"], own["received"]) == ({"kind": "unit", "label": "Công an Xã Thử Một", "units": [UNIT_A]}, 5)


@pytest.mark.parametrize(("units", "params", "status"), [
    ((UNIT_A,), {"province": "99"}, 403),  # a unit's supervisor does not see the province
    ((UNIT_A,), {"unit": UNIT_B}, 403),
    ((UNIT_A,), {"unit": UNIT_A, "province": "99"}, 422),
    ((UNIT_A,), {"since": "2026-11-30", "until": "2026-11-01"}, 422),
])
async def test_what_a_token_may_not_ask(api_client: httpx.AsyncClient, oidc_provider: OidcProvider, seeded: str,
                                        units: tuple[str, ...], params: dict[str, str], status: int) -> None:
    answer = await api_client.get("/v1/statistics", params=params, headers=supervisor(oidc_provider, *units))
    assert_problem(answer, status, "forbidden" if status == 403 else "invalid_request")


async def test_an_officer_sees_no_statistics(api_client: httpx.AsyncClient, oidc_provider: OidcProvider) -> None:
    answer = await api_client.get("/v1/statistics", headers=supervisor(oidc_provider, UNIT_A, role="officer"))
    assert_problem(answer, 403, "forbidden")


async def test_the_csv_opens_in_excel_with_its_vietnamese(api_client: httpx.AsyncClient,
                                                          oidc_provider: OidcProvider, seeded: str) -> None:
    answer = await api_client.get("/v1/statistics/export.csv", params=PERIOD,
                                  headers=supervisor(oidc_provider, UNIT_A, UNIT_B))
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="thong-ke-20261101-20261130.csv"'
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content[3:].decode("utf-8"))))
    assert tuple(rows[0]) == CSV_HEADER == ("Nhóm", "Mã", "Tên", "Số hồ sơ", "Tỷ lệ (%)", "Giá trị")
    assert ["Kênh nộp", "assisted", "Hỗ trợ nộp trực tuyến tại quầy", "2", "33.3", ""] in rows
    assert ["Tổng hợp", "on_time", "Giải quyết đúng hạn", "4", "80.0", "trên 5 hồ sơ đã giải quyết"] in rows
    assert ["Tổng hợp", "fees_collected_vnd", "Lệ phí đã thu (đồng)", "3", "", "50000"] in rows
    assert answer.content.endswith(b"\r\n")
