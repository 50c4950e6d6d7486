"""Competing dossiers: two dossiers on one person or household, both approved on facts read at acceptance, meet at
the record commit. The commit locks the people and places concerned and judges each dossier again: exactly one
commits, the other ends refused with the reason (CT06); dossiers on different people still both commit. Real
Temporal (the dev server) and real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from activities import records
from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from domain.kinds import DocumentKind, Procedure
from domain.models import DecisionKind, DossierOutcome, DossierState, OfficerDecision
from domain.procedures.catalogue import parse_submission
from tests.factories import head_signs, household_with, new_person, submission


@pytest.fixture
def dossiers(client, settings: Settings, worker) -> DossierClient:  # type: ignore[no-untyped-def]
    return DossierClient(client, settings.task_queue)


async def _death_in_household(conn: asyncpg.Connection) -> tuple[Any, Any]:
    """A widow and her late husband, one household with both permanently registered."""
    spouse = await new_person(conn, full_name="Phạm Thị Lan", birth_date=date(1962, 4, 1))
    deceased = await new_person(conn, full_name="Phạm Văn Hùng", sex="male", birth_date=date(1958, 9, 9),
                                status="dead")
    await household_with(conn, spouse, (deceased, "spouse"))
    return spouse, deceased


def _deletion(applicant: Any, deceased: Any) -> dict[str, Any]:
    event = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    return submission(Procedure.PERMANENT_RESIDENCE_DELETION, applicant, {
        "case": "death", "event_date": event, "subject_id": deceased.personal_id})


async def _approved_together(dossiers: DossierClient, pool: asyncpg.Pool, *codes: str) -> list[DossierOutcome]:
    """All approved (and signed) at once, each as soon as it waits for its officer."""
    async def approve(code: str) -> DossierOutcome:
        while (status := await dossiers.status(code)).state != DossierState.AWAITING_DECISION:
            assert not status.state.final, f"{code} closed as {status.state} before its decision"
            await asyncio.sleep(0.05)
        assert status.assigned_officer is not None
        await dossiers.decide(code, OfficerDecision(officer_id=status.assigned_officer,
                                                    decision=DecisionKind.APPROVE))
        if (await dossiers.status(code)).state == DossierState.AWAITING_SIGN_OFF:
            await head_signs(dossiers, pool, code)
        return await dossiers.result(code)

    return list(await asyncio.gather(*(approve(code) for code in codes)))


async def test_of_two_deletions_of_one_record_one_commits_and_the_other_is_refused(
        dossiers: DossierClient, pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        spouse, deceased = await _death_in_household(conn)
        son = await new_person(conn, full_name="Phạm Minh Tú", sex="male", birth_date=date(1988, 2, 2))
        await conn.execute("INSERT INTO household_members (personal_id, household_id, relation_to_head)"
                           " SELECT $1, household_id, 'child' FROM household_members WHERE personal_id = $2",
                           son.personal_id, spouse.personal_id)
    by_spouse, by_son = _deletion(spouse, deceased), _deletion(son, deceased)
    for raw in (by_spouse, by_son):
        await dossiers.submit(raw)

    outcomes = await _approved_together(dossiers, pool, by_spouse["dossier_code"], by_son["dossier_code"])

    assert sorted(o.state for o in outcomes) == [DossierState.COMPLETED, DossierState.REFUSED]
    (won,) = [o for o in outcomes if o.state == DossierState.COMPLETED]
    (lost,) = [o for o in outcomes if o.state == DossierState.REFUSED]
    assert [r.code for r in lost.refusals] == ["records_changed", "no_permanent_residence"]
    assert "hồ sơ khác được giải quyết trước" in lost.refusals[0].message_vi
    assert lost.documents == (DocumentKind.CT06,) and lost.fee_paid_vnd == 0
    # One deletion recorded, by the dossier that won; the other wrote nothing and its citizen reads why.
    rows = await pool.fetch("SELECT dossier_code FROM residence_deletions WHERE personal_id = $1",
                            deceased.personal_id)
    assert [r["dossier_code"] for r in rows] == [won.dossier_code]
    assert await pool.fetchval("SELECT count(*) FROM residence_changes WHERE dossier_code = $1",
                               lost.dossier_code) == 0
    read = await pool.fetchrow("SELECT status, outcome_reason FROM dossiers WHERE dossier_code = $1",
                               lost.dossier_code)
    assert read["status"] == "refused" and "changed after this dossier was approved" in read["outcome_reason"]
    assert await pool.fetchval("SELECT count(*) FROM documents WHERE dossier_code = $1 AND kind = 'CT06'",
                               lost.dossier_code) == 1


async def test_deletions_in_different_households_both_commit(dossiers: DossierClient, pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        first = await _death_in_household(conn)
        second = await _death_in_household(conn)
    raws = [_deletion(*first), _deletion(*second)]
    for raw in raws:
        await dossiers.submit(raw)

    outcomes = await _approved_together(dossiers, pool, *(raw["dossier_code"] for raw in raws))

    assert [o.state for o in outcomes] == [DossierState.COMPLETED, DossierState.COMPLETED]
    assert await pool.fetchval("SELECT count(*) FROM residence_deletions WHERE personal_id = ANY($1::char(12)[])",
                               [first[1].personal_id, second[1].personal_id]) == 2


async def test_a_commit_waits_for_a_competing_one_and_judges_on_its_result(pool: asyncpg.Pool):
    """The lock itself: while one commit's transaction is open, a competing commit waits (seen in pg_locks), then
    reads what the first wrote and is refused, writing nothing."""
    async with pool.acquire() as conn:
        spouse, deceased = await _death_in_household(conn)
    first, second = (parse_submission(_deletion(spouse, deceased)) for _ in range(2))
    async with pool.acquire() as holder, pool.acquire() as competitor:
        transaction = holder.transaction()
        await transaction.start()
        try:
            await records.commit(holder, first)
            waiting = asyncio.create_task(records.commit(competitor, second))
            pid = competitor.get_server_pid()
            while not await pool.fetchval("SELECT count(*) FROM pg_locks WHERE pid = $1 AND locktype = 'advisory'"
                                          " AND NOT granted", pid):
                assert not waiting.done(), "the competing commit did not wait for the first"
                await asyncio.sleep(0.02)
        finally:
            await transaction.commit()
        with pytest.raises(records.StaleFacts) as refused:
            await waiting
    assert [r.code for r in refused.value.refusals] == ["records_changed", "no_permanent_residence"]
    assert await pool.fetchval("SELECT count(*) FROM residence_changes WHERE dossier_code = $1",
                               second.dossier_code) == 0
