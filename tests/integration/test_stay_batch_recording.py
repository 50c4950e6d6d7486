"""``record_stays`` records a register's accepted notifications together, on the real PostgreSQL: each notification
of a mixed batch (accepted, refused, a code twice, one recorded before) leaves exactly the rows it leaves when
recorded on its own, and a retried batch reports what is recorded without writing anything again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from temporalio.testing import ActivityEnvironment

from activities.contracts import StayBatch, StayOutcome
from activities.dossier import DossierActivities
from domain.models import DossierState
from domain.procedures.catalogue import parse_submission
from domain.procedures.stay_notification import StayNotificationSubmission
from tests.factories import PersonRow, new_person
from tests.integration.test_stay_register import hotel, hotel_stay

# Every row a stay notification leaves, without the dossier code and the times written.
ROWS = {
    "dossiers": "SELECT procedure, status, unit_code, applicant_id, applicant_name, received_at, outcome_reason"
                " FROM dossiers WHERE dossier_code = $1",
    "stays": "SELECT guest_no, personal_id, passport_number, full_name, birth_date, host_kind, province_code,"
             " commune_code, address_line, arrival, departure, reason, notified_at, notified_late"
             " FROM stay_notifications WHERE dossier_code = $1 ORDER BY guest_no",
    "changes": "SELECT procedure, summary FROM residence_changes WHERE dossier_code = $1",
    "audit": "SELECT event_key, actor, action, details FROM audit_events WHERE dossier_code = $1 ORDER BY event_key",
    "documents": "SELECT kind FROM documents WHERE dossier_code = $1 ORDER BY kind",
    "deliveries": "SELECT count(*) FROM deliveries WHERE dossier_code = $1",
}


async def rows_of(pool: asyncpg.Pool, code: str) -> dict[str, list[Any]]:
    async with pool.acquire() as conn:
        return {name: [tuple(r) for r in await conn.fetch(sql, code)] for name, sql in ROWS.items()}


def summary(outcome: StayOutcome) -> tuple[Any, ...]:
    return (outcome.dossier_code, outcome.state, [(r.code, r.message, r.message_vi) for r in outcome.refusals],
            outcome.documents)


def twin(s: StayNotificationSubmission) -> StayNotificationSubmission:
    """The same notification under another code."""
    return s.model_copy(update={"dossier_code": f"{s.dossier_code[:-8]}{uuid.uuid4().hex[:8].upper()}"})


async def test_a_mixed_batch_records_each_notification_as_on_its_own(
        activities: DossierActivities, pool: asyncpg.Pool) -> None:
    arrival = datetime.now(UTC) - timedelta(hours=1)
    async with pool.acquire() as conn:
        host, place = await hotel(conn)
        guests = [await new_person(conn, full_name=f"Khách {name}") for name in ("An", "Bình", "Chi")]
    unknown_host = PersonRow(personal_id=f"0011900{uuid.uuid4().int % 100000:05d}", full_name="Người Lạ",
                             birth_date=host.birth_date, sex=host.sex)
    accepted, earlier, twice = (parse_submission(hotel_stay(host, place, g, arrival=arrival)) for g in guests)
    refused = parse_submission(hotel_stay(unknown_host, place, guests[0], arrival=arrival))
    assert isinstance(accepted, StayNotificationSubmission) and isinstance(refused, StayNotificationSubmission)
    assert isinstance(earlier, StayNotificationSubmission) and isinstance(twice, StayNotificationSubmission)
    env = ActivityEnvironment()

    # Each notification's twin recorded on its own, as every notification was before batches were written together.
    alone = {}
    for s in (accepted, earlier, twice, refused):
        copy = twin(s)
        async with pool.acquire() as conn:
            await activities._accept_at_once(conn, copy, run=None)
        alone[s.dossier_code] = await rows_of(pool, copy.dossier_code)
    await env.run(activities.record_stays, StayBatch(notifications=(earlier,)))
    before = await rows_of(pool, earlier.dossier_code)

    batch = StayBatch(notifications=(accepted, refused, twice, earlier, twice))
    result = await env.run(activities.record_stays, batch)

    assert [(o.dossier_code, o.state) for o in result.outcomes] == [
        (accepted.dossier_code, DossierState.COMPLETED), (refused.dossier_code, DossierState.REFUSED),
        (twice.dossier_code, DossierState.COMPLETED), (earlier.dossier_code, DossierState.COMPLETED),
        (twice.dossier_code, DossierState.COMPLETED)]
    assert [r.code for r in result.outcomes[1].refusals] == ["identity_unknown"]
    recorded = {s.dossier_code: await rows_of(pool, s.dossier_code) for s in (accepted, earlier, twice, refused)}
    assert recorded == alone
    assert recorded[earlier.dossier_code] == before
    assert len(recorded[accepted.dossier_code]["stays"]) == 1 and recorded[refused.dossier_code]["documents"]

    # A retry reports what is recorded (from the trail, which keeps no legal basis), and writes nothing.
    again = await env.run(activities.record_stays, batch)
    assert [summary(o) for o in again.outcomes] == [summary(o) for o in result.outcomes]
    assert {s.dossier_code: await rows_of(pool, s.dossier_code) for s in (accepted, earlier, twice, refused)} == alone


async def test_a_code_of_another_procedures_dossier_is_refused_not_taken_for_recorded(
        activities: DossierActivities, pool: asyncpg.Pool) -> None:
    """A register never reports another dossier's row as its notification's outcome, nor writes under its code."""
    arrival = datetime.now(UTC) - timedelta(hours=1)
    async with pool.acquire() as conn:
        host, place = await hotel(conn)
        guest = await new_person(conn, full_name="Khách Dung")
    stay = parse_submission(hotel_stay(host, place, guest, arrival=arrival))
    assert isinstance(stay, StayNotificationSubmission)
    await pool.execute("INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id,"
                       " applicant_name, received_at, run_id) VALUES ($1, 'PermanentResidenceRegistration',"
                       " 'awaiting_decision', $2, $3, 'X', now(), 'a-run')",
                       stay.dossier_code, stay.police_unit, host.personal_id)
    [outcome] = (await ActivityEnvironment().run(activities.record_stays, StayBatch(notifications=(stay,)))).outcomes
    assert outcome.state == DossierState.REFUSED and [r.code for r in outcome.refusals] == ["dossier_code_taken"]
    assert "PermanentResidenceRegistration" in outcome.refusals[0].message
    rows = await rows_of(pool, stay.dossier_code)
    assert rows["stays"] == [] and rows["changes"] == [] and rows["audit"] == []
