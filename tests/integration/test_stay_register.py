"""Establishments' stay notifications go through a register per place and day (StayRegister), on the real dev server
and PostgreSQL: each notification is recorded once with its own dossier code, refusals stay per guest, malformed
signals never stall the register, and a register that has closed is started anew by a late notification."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cutru_local.stack import temporal_binary
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.contracts import StayOutcome
from cutru.clients.audit import replay_many
from cutru.clients.client import DossierClient, SubmitReceipt
from cutru.platform.codec import data_converter, replay_converter
from cutru.platform.config import SEARCH_ATTRIBUTES, Settings
from domain.kinds import DocumentKind, Procedure
from domain.models import DossierState, TrailAction
from domain.procedures.catalogue import parse_submission
from domain.procedures.stay_notification import StayNotificationSubmission
from tests.conftest import SEARCH_ATTRIBUTE_KINDS
from tests.factories import PAYLOAD_KEYS, PersonRow, Place, address, new_person, new_place, person_json, submission
from tests.integration.test_histories import HISTORY_DIR, RECORDING
from tests.integration.test_permanent_registration import wait_for
from worker import build_worker
from workflows.stay_register import RegisterSummary, StayRegister, register_key, uses_register


@pytest.fixture
def dossiers(client: Client, settings: Settings, worker: Any) -> DossierClient:
    return DossierClient(client, settings.task_queue)


def hotel_stay(host: PersonRow, hotel: Place, guest: PersonRow, *, arrival: datetime,
               host_kind: str = "hotel") -> dict[str, Any]:
    return submission(Procedure.STAY_NOTIFICATION, host, {
        "host_kind": host_kind, "place": address(hotel),
        "guests": [person_json(guest)],
        "arrival": arrival.isoformat(), "departure": (arrival + timedelta(days=2)).date().isoformat(),
        "reason": "Du lịch"}, received_at=arrival + timedelta(minutes=5))


async def hotel(conn: asyncpg.Connection) -> tuple[PersonRow, Place]:
    host = await new_person(conn, full_name="Trần Văn Khách")
    return host, await new_place(conn, owner_id=host.personal_id)


async def outcome_of(dossiers: DossierClient, receipt: SubmitReceipt, *, timeout: float = 30.0) -> StayOutcome:
    """Wait until the register has recorded or refused the notification."""
    stop = asyncio.get_running_loop().time() + timeout
    while True:
        outcome = await dossiers.stay_outcome(receipt)
        if outcome is not None and outcome.state != DossierState.RECEIVED:
            return outcome
        if asyncio.get_running_loop().time() > stop:
            raise AssertionError(f"{receipt.dossier_code} not recorded in time: {outcome}")
        await asyncio.sleep(0.1)


def test_establishments_use_a_register_and_households_a_dossier_each():
    now = datetime.now(UTC)
    person = PersonRow(personal_id="001190000001", full_name="Nguyễn Thị An", birth_date=date(1990, 5, 17),
                       sex="female")
    place = Place(residence_id=1, address_line="Số 5 phố Hàng Bài", household_id=None)
    for kind, registered in (("hotel", True), ("hospital", True), ("dormitory", True),
                             ("industrial_zone_lodging", True), ("household", False), ("guest", False),
                             ("vehicle", False)):
        assert uses_register(parse_submission(hotel_stay(person, place, person, arrival=now, host_kind=kind))) \
            is registered, kind
    one = parse_submission(hotel_stay(person, place, person, arrival=now))
    elsewhere = place.model_copy(update={"address_line": "Số 7 phố Hàng Bài"})
    other_line = parse_submission(hotel_stay(person, elsewhere, person, arrival=now))
    same_place_spelled_differently = parse_submission(
        hotel_stay(person, place.model_copy(update={"address_line": "  số 5   PHỐ Hàng Bài "}), person, arrival=now))
    next_day = parse_submission(hotel_stay(person, place, person, arrival=now + timedelta(days=1)))
    assert register_key(same_place_spelled_differently).register_id == register_key(one).register_id
    assert register_key(other_line).register_id != register_key(one).register_id
    assert register_key(next_day).register_id != register_key(one).register_id


async def test_a_hotels_notifications_are_recorded_once_each_in_its_register(dossiers: DossierClient,
                                                                            pool: asyncpg.Pool):
    now = datetime.now(UTC) - timedelta(hours=1)
    async with pool.acquire() as conn:
        hotels = [await hotel(conn) for _ in range(2)]
        names = "An Bình Chi Dũng Giang Hà Khoa Lan Minh Nam Oanh Phúc".split()
        guests = [await new_person(conn, full_name=f"Khách {name}") for name in names]
        dead_guest = await new_person(conn, full_name="Khách Đã Mất", status="dead")
    raws = [hotel_stay(*hotels[i % 2], guest, arrival=now) for i, guest in enumerate(guests)]
    refused_raw = hotel_stay(*hotels[0], dead_guest, arrival=now)

    receipts = await asyncio.gather(*(dossiers.submit(raw) for raw in [*raws, refused_raw]))
    again = await dossiers.submit(raws[0])  # a portal retrying: the register records it once

    registers = {register_key(StayNotificationSubmission.model_validate(raws[i])).register_id for i in (0, 1)}
    assert {r.workflow_id for r in receipts} == registers
    assert again.workflow_id == receipts[0].workflow_id
    outcomes = [await outcome_of(dossiers, receipt) for receipt in receipts]
    assert [o.state for o in outcomes[:-1]] == [DossierState.COMPLETED] * 12
    assert outcomes[-1].state == DossierState.REFUSED and outcomes[-1].refusals
    assert outcomes[-1].documents == (DocumentKind.CT06,) and all(not o.documents for o in outcomes[:-1])

    codes = [r.dossier_code for r in receipts]
    async with pool.acquire() as conn:
        rows = dict(await conn.fetch("SELECT dossier_code, status FROM dossiers WHERE dossier_code = ANY($1)", codes))
        stays = await conn.fetchval("SELECT count(*) FROM stay_notifications WHERE dossier_code = ANY($1)", codes)
    assert rows == {code: ("refused" if code == refused_raw["dossier_code"] else "completed") for code in codes}
    assert stays == 12
    async with pool.acquire() as conn:
        forms = await conn.fetch("SELECT dossier_code, kind FROM documents WHERE dossier_code = ANY($1)", codes)
    assert [tuple(row) for row in forms] == [(refused_raw["dossier_code"], "CT06")]
    summary = await dossiers.client.get_workflow_handle(receipts[0].workflow_id).query(
        StayRegister.summary)
    assert (summary.received, summary.recorded, summary.refused, summary.waiting) == (7, 6, 1, 0)


async def test_malformed_signals_are_refused_or_ignored_and_the_register_goes_on(dossiers: DossierClient,
                                                                                pool: asyncpg.Pool):
    now = datetime.now(UTC) - timedelta(hours=1)
    async with pool.acquire() as conn:
        host, place = await hotel(conn)
        guest = await new_person(conn)
    good = await dossiers.submit(hotel_stay(host, place, guest, arrival=now))
    handle = dossiers.client.get_workflow_handle(good.workflow_id)
    bad = hotel_stay(host, place, guest, arrival=now) | {"declaration_truthful": "perhaps"}
    await handle.signal(StayRegister.notify, bad)
    for junk in ("not a notification", {"dossier_code": "bad\ncode"}, {"dossier_code": 7}, None):
        await handle.signal(StayRegister.notify, junk)
    late = await dossiers.submit(hotel_stay(host, place, await new_person_in(pool), arrival=now))

    assert (await outcome_of(dossiers, good)).state == DossierState.COMPLETED
    assert (await outcome_of(dossiers, late)).state == DossierState.COMPLETED
    refused = await outcome_of(dossiers, SubmitReceipt(dossier_code=bad["dossier_code"], workflow_id=good.workflow_id,
                                                       run_id=None, already_submitted=False))
    assert refused.state == DossierState.REFUSED
    assert [r.code for r in refused.refusals] == ["invalid_submission"]
    assert "declaration_truthful" in refused.refusals[0].message


async def new_person_in(pool: asyncpg.Pool) -> PersonRow:
    async with pool.acquire() as conn:
        return await new_person(conn)


async def test_a_closed_register_is_started_anew_by_a_late_notification_and_replays(dossiers: DossierClient,
                                                                                    pool: asyncpg.Pool):
    # Guests who arrived two days ago: the register's closing time (noon the next day) has passed, so it records
    # what it was sent and closes; a notification after that starts a second run of the same register.
    arrival = datetime.now(UTC) - timedelta(days=2)
    async with pool.acquire() as conn:
        host, place = await hotel(conn)
        guests = [await new_person(conn) for _ in range(3)]
    first = await dossiers.submit(hotel_stay(host, place, guests[0], arrival=arrival))
    handle = dossiers.client.get_workflow_handle(first.workflow_id, run_id=first.run_id, result_type=RegisterSummary)
    closed = await handle.result()
    assert (closed.received, closed.recorded, closed.waiting) == (1, 1, 0)

    late = [await dossiers.submit(hotel_stay(host, place, guest, arrival=arrival)) for guest in guests[1:]]
    assert late[0].workflow_id == first.workflow_id and late[0].run_id != first.run_id
    for receipt in late:
        await dossiers.client.get_workflow_handle(receipt.workflow_id, run_id=receipt.run_id).result()
    async with pool.acquire() as conn:
        recorded = await conn.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = ANY($1) AND status ="
                                       " 'completed'", [first.dossier_code, *(r.dossier_code for r in late)])
    assert recorded == 3

    runs = {r.run_id: r.workflow_id for r in (first, *late)}
    histories = [await dossiers.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
                 for run_id, workflow_id in runs.items()]
    if RECORDING:  # kept with the procedures' histories, replayed on every run (tests/integration/test_histories)
        (HISTORY_DIR / f"{first.workflow_id}@StayRegister-closed.json").write_text(histories[0].to_json())
    summary, reports = await replay_many(iter(histories), replay_converter(PAYLOAD_KEYS))
    assert summary.ok == summary.replayed == len(runs) >= 2, reports
    assert reports[0].messages[0].action == "register_opened"
    trail = [(entry.action, entry.detail) for entry in reports[0].trail]
    assert trail == [(TrailAction.STAY_NOTIFIED, f"{first.dossier_code}: 1 guest(s)"),
                     (TrailAction.COMPLETED, first.dossier_code)]


async def test_a_long_register_continues_as_new_and_loses_nothing(database_url: str, pool: asyncpg.Pool,
                                                                  tmp_path: Path):
    """A dev server of its own that suggests continue-as-new after 60 events: a register busy enough to pass that
    continues as new between batches, and every notification, before and after, is recorded exactly once."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), data_converter=data_converter(PAYLOAD_KEYS),
        search_attributes=[SEARCH_ATTRIBUTE_KINDS[kind](name) for name, kind in SEARCH_ATTRIBUTES.items()],
        dev_server_extra_args=["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=60"],
    )
    settings = Settings(task_queue=f"tq-{uuid.uuid4().hex[:8]}", database_url=database_url,
                        document_dir=tmp_path / "documents")
    try:
        async with build_worker(env.client, settings, pool):
            dossiers = DossierClient(env.client, settings.task_queue)
            now = datetime.now(UTC) - timedelta(hours=1)
            async with pool.acquire() as conn:
                host, place = await hotel(conn)
                guests = [await new_person(conn) for _ in range(16)]
            receipts = []
            for guest in guests:  # one at a time: each is its own batch, so the history grows fast
                receipts.append(receipt := await dossiers.submit(hotel_stay(host, place, guest, arrival=now)))
                async def recorded(code: str = receipt.dossier_code) -> bool:
                    return await pool.fetchval("SELECT 1 FROM dossiers WHERE dossier_code = $1", code) is not None
                await wait_for(recorded)
            runs = [r async for r in env.client.list_workflows(f"WorkflowId = '{receipts[0].workflow_id}'")]
            codes = [r.dossier_code for r in receipts]
            stays = await pool.fetchval("SELECT count(*) FROM stay_notifications WHERE dossier_code = ANY($1)", codes)
    finally:
        await env.shutdown()
    assert len({r.workflow_id for r in receipts}) == 1
    assert len(runs) >= 2 and any(r.status == WorkflowExecutionStatus.CONTINUED_AS_NEW for r in runs)
    assert stays == len(guests)
