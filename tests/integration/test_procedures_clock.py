"""Time at workflow level, on the time-skipping test server: deadlines across Tết and per deadline case, the rule-set
switch of 2026-07-01, reminder and escalation, payment and supplement timeouts, fee exemption, and the ex-officio
deletion after a police notice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from domain.calendar import VN_TZ, local_date
from domain.documents import format_date
from domain.kinds import DocumentKind
from domain.models import DecisionKind, DossierState, TrailAction, Withdrawal
from domain.procedures.deletion import CitizenFiling
from tests.factories import Desk, consent, dossier_code, new_person, new_place, procedure_desk, registration
from tests.integration.test_permanent_registration import wait_for
from tests.integration.test_procedures import (
    Case,
    days,
    pdf_text,
    permanent_deletion,
    residence_confirmation,
    residence_declaration,
    temporary_absence,
    temporary_deletion,
    temporary_registration,
)
from workflows.procedures import TemporaryResidenceDeletion


@pytest.fixture(scope="module")
async def desk(database_url: str, pool: asyncpg.Pool, tmp_root: Path) -> AsyncIterator[Desk]:
    async with procedure_desk(database_url, pool, tmp_root / "documents") as running:
        yield running


def vn(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


async def at(desk: Desk, builder: Callable[..., Awaitable[Case]], received: datetime, **options: Any) -> Case:
    async with desk.pool.acquire() as conn:
        return await builder(conn, received, **options)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0) -> None:
    stop = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > stop:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.05)


# ---- deadlines -------------------------------------------------------------------------------------------------


async def test_a_7_working_day_deadline_spanning_tet_2027(desk: Desk, pool: asyncpg.Pool):
    """Received Monday 1 February 2027: Tuesday and Wednesday count, Tết runs 4–10 February (Thursday to the next
    Wednesday), then Thursday 11, Friday 12, Monday 15, Tuesday 16 and Wednesday 17 February: 17:00 that day."""
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    raw = registration(person, place)
    raw["received_at"] = vn(2027, 2, 1).isoformat()
    await desk.start(raw)
    status = await desk.wait_state(raw["dossier_code"], DossierState.AWAITING_DECISION)
    assert status.deadline == vn(2027, 2, 17, 17, 0)
    receipt = await pdf_text(pool, raw["dossier_code"], DocumentKind.CT04)
    assert "Hẹn trả kết quả: ngày 17/02/2027" in receipt and "Nguyễn Thị Ánh Tuyết" in receipt
    await desk.decide(raw["dossier_code"], DecisionKind.REJECT, reason="Kiểm thử thời hạn")
    assert (await desk.result(raw["dossier_code"])).state == DossierState.REFUSED


async def _unverified(conn: asyncpg.Connection, now: datetime) -> Case:
    case = await residence_declaration(conn, now)
    await conn.execute("UPDATE people SET identity_verified = false WHERE personal_id = $1",
                       case.people["person"].personal_id)
    return case


async def _category_a(conn: asyncpg.Connection, now: datetime) -> Case:
    return await temporary_absence(conn, now, category="a", absence_to=days(now, 30))


async def _with_authority(case: Case) -> Case:
    case.raw["consents"] = [consent("supervising_authority", authority_name="Tòa án nhân dân Thành phố Hà Nội")]
    return case


@pytest.mark.parametrize(("builder", "expected"), [
    (residence_confirmation, vn(2027, 3, 1, 17, 0)),  # ½ working day, received Monday morning
    (residence_declaration, vn(2027, 3, 8, 17, 0)),  # 5 working days (the person is in CSDLQG)
    (_unverified, vn(2027, 3, 31, 17, 0)),  # 30 calendar days: verification
    (_category_a, vn(2027, 3, 3, 17, 0)),  # 2 working days: the supervising authority's consent is checked
], ids=["confirmation-half-day", "declaration-5-days", "declaration-30-days", "absence-2-days"])
async def test_deadline_case_chosen_from_the_facts(desk: Desk, builder: Any, expected: datetime):
    received = vn(2027, 3, 1)
    case = await at(desk, builder, received)
    if case.raw["procedure"] == "TemporaryAbsenceDeclaration":
        case = await _with_authority(case)
    await desk.start(case.raw)
    status = await desk.wait_state(case.code, DossierState.AWAITING_DECISION)
    assert status.deadline == expected
    await desk.decide(case.code, DecisionKind.REJECT, reason="Kiểm thử thời hạn")
    await desk.result(case.code)


# ---- the rule-set switch -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("builder", "before", "after"), [
    (residence_confirmation, (30, "days"), (1, "years")),  # CT07: 30 days under the 2021 set, 1 year from 2026-07-01
    (residence_declaration, (6, "months"), (1, "years")),  # CT07 of a declared residence: 6 months, then 1 year
], ids=["confirmation", "declaration"])
async def test_the_same_dossier_on_30_june_and_1_july_2026(desk: Desk, pool: asyncpg.Pool, builder: Any,
                                                         before: tuple[int, str], after: tuple[int, str]):
    from domain.rulesets import Period, PeriodUnit

    valid: dict[str, date] = {}
    issued: dict[str, date] = {}
    for label, received in (("before", vn(2026, 6, 30, 10)), ("after", vn(2026, 7, 1, 10))):
        case = await at(desk, builder, received)
        await desk.start(case.raw)
        await desk.approve(case.code)
        assert (await desk.result(case.code)).state == DossierState.COMPLETED
        row = await pool.fetchrow("SELECT issued_on, valid_until FROM residence_confirmations WHERE dossier_code = $1",
                                  case.code)
        issued[label], valid[label] = row["issued_on"], row["valid_until"]
        assert f"có giá trị đến ngày {format_date(row['valid_until'])}" in await pdf_text(pool, case.code,
                                                                                          DocumentKind.CT07)
    for label, (amount, unit) in (("before", before), ("after", after)):
        assert valid[label] == Period(amount=amount, unit=PeriodUnit(unit)).end_from(issued[label])
    assert valid["before"] < valid["after"]


# ---- reminder, escalation, overdue -------------------------------------------------------------------------------


async def test_reminder_then_escalation_and_overdue_when_the_deadline_passes(desk: Desk, pool: asyncpg.Pool):
    case = await at(desk, temporary_registration, await desk.now())
    handle = await desk.start(case.raw)
    status = await desk.wait_state(case.code, DossierState.AWAITING_DECISION)
    assert status.deadline is not None and status.received_at is not None

    async def actions() -> list[str]:
        rows = await pool.fetch("SELECT action FROM audit_events WHERE dossier_code = $1 ORDER BY event_id", case.code)
        return [r["action"] for r in rows]

    remind_at = status.received_at + (status.deadline - status.received_at) * 0.75
    await desk.sleep(remind_at - await desk.now() + timedelta(minutes=1))

    async def reminded() -> bool:
        return "reminder_sent" in await actions()

    await eventually(reminded, "reminder sent")
    assert not (await desk.status(case.code)).overdue

    await desk.sleep(status.deadline - await desk.now() + timedelta(hours=1))

    async def escalated() -> bool:
        return "escalated" in await actions()

    await eventually(escalated, "escalated to the supervisor")
    assert (await desk.status(case.code)).overdue
    assert await pool.fetchval("SELECT overdue FROM dossiers WHERE dossier_code = $1", case.code)
    attributes = (await handle.describe()).typed_search_attributes
    assert next(p.value for p in attributes if p.key.name == "DossierOverdue") is True
    escalation = await pool.fetchval("SELECT details->>'detail' FROM audit_events WHERE dossier_code = $1"
                                     " AND action = 'escalated'", case.code)
    assert "CB-00070-00" in escalation  # the unit's supervisor

    await desk.approve(case.code)
    await desk.pay(case.code)
    assert (await desk.result(case.code)).state == DossierState.COMPLETED


async def test_unpaid_fee_cancels_the_dossier_after_the_payment_timeout(desk: Desk, pool: asyncpg.Pool):
    case = await at(desk, temporary_registration, await desk.now())
    await desk.start(case.raw)
    await desk.approve(case.code)
    await desk.wait_state(case.code, DossierState.AWAITING_PAYMENT)
    await desk.sleep(timedelta(minutes=2))  # FAST: 30 s to pay, polled every second
    outcome = await desk.result(case.code)
    assert outcome.state == DossierState.CANCELLED
    assert await pool.fetchval("SELECT status FROM payments WHERE dossier_code = $1", case.code) == "cancelled"
    assert await pool.fetchval("SELECT count(*) FROM temporary_residences WHERE dossier_code = $1", case.code) == 0


async def test_no_supplement_in_time_cancels_the_dossier(desk: Desk):
    """The worker's timings decide, not the submission: timings a submission still carries (the key of old, which
    recorded histories hold) are ignored."""
    case = await at(desk, temporary_deletion, await desk.now())
    case.raw["processing"] = {"supplement_timeout": "P90D"}
    await desk.start(case.raw)
    await desk.decide(case.code, DecisionKind.REQUEST_SUPPLEMENT, missing_items=("Hợp đồng thuê nhà đã thanh lý",))
    await desk.wait_state(case.code, DossierState.AWAITING_SUPPLEMENT)
    await desk.sleep(timedelta(minutes=5))  # FAST: 60 s to supplement
    assert (await desk.result(case.code)).state == DossierState.CANCELLED


async def test_a_fee_exempt_applicant_pays_nothing(desk: Desk, pool: asyncpg.Pool):
    case = await at(desk, temporary_registration, await desk.now())
    await pool.execute("UPDATE people SET fee_exemption = 'ho_ngheo' WHERE personal_id = $1",
                       case.people["tenant"].personal_id)
    case.raw["fee_exemption"] = {"reason_code": "ho_ngheo"}
    await desk.start(case.raw)
    await desk.approve(case.code)
    outcome = await desk.result(case.code)
    assert outcome.state == DossierState.COMPLETED and outcome.fee_paid_vnd == 0
    assert await pool.fetchval("SELECT count(*) FROM payments WHERE dossier_code = $1", case.code) == 0


# ---- ex-officio deletion after a police notice -------------------------------------------------------------------


def _notice(now: datetime) -> dict[str, str]:
    return {"notice_number": "15/TB-CAP", "notified_on": local_date(now).isoformat(), "officer_id": "CB-00070-01"}


async def test_nothing_filed_within_7_days_of_the_notice_deletes_ex_officio(desk: Desk, pool: asyncpg.Pool):
    now = await desk.now()
    case = await at(desk, permanent_deletion, now, police_notice=_notice(now), event_date=days(now, -20))
    await desk.start(case.raw)
    await asyncio.sleep(0.3)
    assert (await desk.status(case.code)).state == DossierState.AWAITING_FILING

    async def listed() -> bool:  # the read model lists the waiting dossier, and the audit trail has the notice
        return await pool.fetchval("SELECT status FROM dossiers WHERE dossier_code = $1", case.code) is not None

    await wait_for(listed)
    assert await pool.fetchval("SELECT status FROM dossiers WHERE dossier_code = $1", case.code) == "awaiting_filing"
    assert await pool.fetchval("SELECT actor || ' ' || action FROM audit_events WHERE dossier_code = $1",
                               case.code) == "CB-00070-01 notice_served"
    await desk.sleep(timedelta(days=8))
    status = await desk.wait_state(case.code, DossierState.AWAITING_DECISION)
    closes = datetime.combine(local_date(now) + timedelta(days=8), datetime.min.time(), VN_TZ)
    assert status.received_at == closes  # the ex-officio case opens when the window closes
    row = await pool.fetchrow("SELECT status, received_at FROM dossiers WHERE dossier_code = $1", case.code)
    assert (row["status"], row["received_at"]) == ("awaiting_decision", closes)
    assert any("Ex officio deletion" in line for line in status.findings)
    await desk.approve(case.code)  # the minutes (biên bản)
    assert (await desk.result(case.code)).state == DossierState.COMPLETED
    row = await pool.fetchrow("SELECT ex_officio, filed_late FROM residence_deletions WHERE dossier_code = $1",
                              case.code)
    assert (row["ex_officio"], row["filed_late"]) == (True, False)
    assert "Xóa theo thông báo số 15/TB-CAP" in await pdf_text(pool, case.code, DocumentKind.CT08)


async def test_a_filing_within_the_window_leaves_no_ex_officio_deletion(desk: Desk, pool: asyncpg.Pool):
    """Only the notified person's own filing of the same deletion cancels the notice: a made-up code, or a dossier
    of someone else, is recorded as refused and the notice keeps waiting."""
    now = await desk.now()
    case = await at(desk, temporary_deletion, now)
    details = dict(case.raw["details"])
    case.raw["details"]["police_notice"] = _notice(now)
    handle = await desk.start(case.raw)
    await desk.sleep(timedelta(days=3))
    filing = {**case.raw, "dossier_code": dossier_code(), "received_at": (await desk.now()).isoformat(),
              "details": details}
    await desk.start(filing)
    other = await at(desk, temporary_registration, await desk.now())
    await desk.start(other.raw)
    async def in_read_model() -> bool:
        known = await pool.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = ANY($1)",
                                    [filing["dossier_code"], other.code])
        return bool(known == 2)
    await eventually(in_read_model, "the filings in the read model")

    await handle.signal(TemporaryResidenceDeletion.citizen_filed, CitizenFiling(dossier_code="HS-CITIZEN-000001"))
    await handle.signal(TemporaryResidenceDeletion.citizen_filed, CitizenFiling(dossier_code=other.code))

    async def both_refused() -> bool:
        trail = (await desk.status(case.code)).trail
        return [e.action for e in trail].count(TrailAction.FILING_REFUSED) == 2
    await eventually(both_refused, "both filings refused", timeout=30)
    refused = [e.detail for e in (await desk.status(case.code)).trail if e.action == TrailAction.FILING_REFUSED]
    assert sorted(refused) == sorted(["no dossier HS-CITIZEN-000001 was filed",
                                      f"dossier {other.code} is a TemporaryResidenceRegistration, not a "
                                      "TemporaryResidenceDeletion"])
    assert (await desk.status(case.code)).state == DossierState.AWAITING_FILING

    await handle.signal(TemporaryResidenceDeletion.citizen_filed, CitizenFiling(dossier_code=filing["dossier_code"]))
    outcome = await desk.result(case.code)
    assert outcome.state == DossierState.CANCELLED
    assert await pool.fetchval("SELECT status FROM temporary_residences WHERE personal_id = $1",
                               case.people["tenant"].personal_id) == "active"
    assert filing["dossier_code"] in (await desk.status(case.code)).trail[-1].detail
    actions = await pool.fetch("SELECT action FROM audit_events WHERE dossier_code = $1 ORDER BY event_key", case.code)
    assert [row["action"] for row in actions] == ["notice_served", "filing_refused", "filing_refused", "cancelled"]


async def test_a_notice_cannot_be_withdrawn_and_a_filing_only_by_its_applicant(desk: Desk):
    now = await desk.now()
    case = await at(desk, temporary_deletion, now)
    landlord = case.people["landlord"].personal_id
    notice = {**case.raw, "dossier_code": dossier_code(),
              "details": {**case.raw["details"], "police_notice": _notice(now)}}
    await desk.start(notice)
    await desk.wait_state(notice["dossier_code"], DossierState.AWAITING_FILING)
    await desk.dossiers.withdraw(notice["dossier_code"], Withdrawal(reason="Không đồng ý", applicant_id=landlord))

    await desk.start(case.raw)
    await desk.wait_state(case.code, DossierState.AWAITING_DECISION)
    await desk.dossiers.withdraw(case.code, Withdrawal(reason="Đổi ý", applicant_id=case.people["tenant"].personal_id))
    await desk.dossiers.withdraw(case.code, Withdrawal(reason="Đổi ý"))

    async def refusals(code: str, count: int) -> list[str]:
        async def arrived() -> bool:
            trail = (await desk.status(code)).trail
            return [e.action for e in trail].count(TrailAction.WITHDRAWAL_REFUSED) == count
        await eventually(arrived, f"{count} withdrawal(s) refused on {code}")
        return [e.detail for e in (await desk.status(code)).trail if e.action == TrailAction.WITHDRAWAL_REFUSED]

    assert await refusals(notice["dossier_code"], 1) == ["a dossier opened by a police notice cannot be withdrawn"]
    assert await refusals(case.code, 2) == ["only the dossier's applicant can withdraw it",
                                            "a withdrawal names the applicant's personal ID, as the portal verified it"]
    assert (await desk.status(case.code)).state == DossierState.AWAITING_DECISION
    await desk.dossiers.withdraw(case.code, Withdrawal(reason="Đổi ý", applicant_id=landlord))
    assert (await desk.result(case.code)).state == DossierState.WITHDRAWN
