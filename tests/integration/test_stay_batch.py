"""An establishment's stay notifications in one message (``notify_batch``), on the real dev server, PostgreSQL and
OIDC provider: each notification is still recorded once under its own code, a batch is split by the client within
its bounds, and a batch over its byte bound is refused, by the API (413) and by the register alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from activities.contracts import StayOutcome
from cutru.clients import client as client_module
from cutru.clients.audit import messages
from cutru.clients.client import DossierClient, SubmitReceipt
from cutru.platform.config import Settings
from domain.identity import mask_personal_id
from domain.models import DossierState
from tests.api_fixtures import bearer
from tests.factories import new_person
from tests.integration.test_stay_register import hotel, hotel_stay, outcome_of
from workflows.stay_register import RECEIVED_BATCH_BYTES, RECEIVED_BATCH_LIMIT, StayRegister, encoded_size

NAMES = "An Bình Chi Dũng Giang Hà Khoa Lan Minh Nam".split()


@pytest.fixture
def dossiers(client: Client, settings: Settings, worker: Any) -> DossierClient:
    return DossierClient(client, settings.task_queue)


async def two_hotels_guests(pool: asyncpg.Pool, guests: int = len(NAMES)) -> list[dict[str, Any]]:
    """Notifications of two hotels, alternating, one guest each, arrived an hour ago."""
    arrival = datetime.now(UTC) - timedelta(hours=1)
    async with pool.acquire() as conn:
        hotels = [await hotel(conn) for _ in range(2)]
        people = [await new_person(conn, full_name=f"Khách {NAMES[i % len(NAMES)]}") for i in range(guests)]
    return [hotel_stay(*hotels[i % 2], guest, arrival=arrival) for i, guest in enumerate(people)]


async def signals(client: Client, register_id: str) -> list[str]:
    """The names of the signals in the register's history, in order."""
    history = await client.get_workflow_handle(register_id).fetch_history()
    names = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            names.append(event.workflow_execution_signaled_event_attributes.signal_name)
    return names


async def recorded(pool: asyncpg.Pool, codes: list[str]) -> dict[str, str]:
    async with pool.acquire() as conn:
        return dict(await conn.fetch("SELECT dossier_code, status FROM dossiers WHERE dossier_code = ANY($1)", codes))


async def test_a_batch_is_one_signal_per_register_and_each_notification_is_recorded_once(
        dossiers: DossierClient, pool: asyncpg.Pool):
    raws = await two_hotels_guests(pool)
    receipts = await dossiers.notify_batch([*raws, raws[0]])  # a code twice in one batch
    again = await dossiers.notify_batch(raws[:4])  # and a portal sending part of the batch again

    registers = sorted({r.workflow_id for r in receipts})
    assert len(registers) == 2 and [r.dossier_code for r in receipts] == [*(r["dossier_code"] for r in raws),
                                                                         raws[0]["dossier_code"]]
    assert {r.workflow_id for r in again} == set(registers)
    outcomes = [await outcome_of(dossiers, receipt) for receipt in receipts[:len(raws)]]
    assert [o.state for o in outcomes] == [DossierState.COMPLETED] * len(raws)
    for register_id in registers:
        assert await signals(dossiers.client, register_id) == ["notify_batch", "notify_batch"]
        summary = await dossiers.client.get_workflow_handle(register_id).query(StayRegister.summary)
        assert (summary.received, summary.recorded, summary.waiting) == (len(raws) // 2, len(raws) // 2, 0)

    codes = [raw["dossier_code"] for raw in raws]
    assert await recorded(pool, codes) == dict.fromkeys(codes, "completed")
    async with pool.acquire() as conn:
        stays = await conn.fetch("SELECT dossier_code, count(*) FROM stay_notifications WHERE dossier_code = ANY($1)"
                                 " GROUP BY dossier_code", codes)
    assert {row["dossier_code"]: row["count"] for row in stays} == dict.fromkeys(codes, 1)


async def test_the_client_splits_a_batch_within_the_registers_bound(dossiers: DossierClient, pool: asyncpg.Pool,
                                                                   monkeypatch: pytest.MonkeyPatch):
    raws = await two_hotels_guests(pool, guests=8)
    monkeypatch.setattr(client_module, "RECEIVED_BATCH_LIMIT", 3)  # each register's 4 notifications: 3 and 1
    receipts = await dossiers.notify_batch(raws)
    for receipt in receipts:
        assert (await outcome_of(dossiers, receipt)).state == DossierState.COMPLETED
    for register_id in {r.workflow_id for r in receipts}:
        assert await signals(dossiers.client, register_id) == ["notify_batch", "notify_batch"]
    codes = [raw["dossier_code"] for raw in raws]
    assert await recorded(pool, codes) == dict.fromkeys(codes, "completed")


async def test_the_register_refuses_a_batch_over_its_byte_bound(dossiers: DossierClient, pool: asyncpg.Pool):
    raws = await two_hotels_guests(pool, guests=2)
    first = raws[0]
    # One hotel's notification repeated under new codes until the message is over the bound: the register refuses
    # every one of them, records none, and goes on taking notifications.
    big = first | {"details": first["details"] | {"guests": first["details"]["guests"] * 20}}
    copies = RECEIVED_BATCH_BYTES // encoded_size(big) + 1
    oversized = [first, *(big | {"dossier_code": f"{first['dossier_code']}-B{i}"} for i in range(copies))]
    assert len(oversized) <= RECEIVED_BATCH_LIMIT  # the bytes, not the count, are over
    assert sum(map(encoded_size, oversized)) > RECEIVED_BATCH_BYTES
    [receipt] = await dossiers.notify_batch([first])
    await outcome_of(dossiers, receipt)
    handle = dossiers.client.get_workflow_handle(receipt.workflow_id)
    await handle.signal(StayRegister.notify_batch, oversized)

    refused = await outcome_of(dossiers, SubmitReceipt(dossier_code=oversized[-1]["dossier_code"],
                                                       workflow_id=receipt.workflow_id, run_id=None,
                                                       already_submitted=False))
    assert refused.state == DossierState.REFUSED and [r.code for r in refused.refusals] == ["batch_too_large"]
    outcomes = await asyncio.gather(*(handle.query(StayRegister.notification, raw["dossier_code"])
                                      for raw in oversized[1:]))
    assert all(isinstance(o, StayOutcome) and o.state == DossierState.REFUSED for o in outcomes)
    assert await recorded(pool, [raw["dossier_code"] for raw in oversized[1:]]) == {}
    # The first one's code was in the refused batch too: it stays recorded, once.
    assert await recorded(pool, [first["dossier_code"]]) == {first["dossier_code"]: "completed"}

    [later] = await dossiers.notify_batch([first | {"dossier_code": f"{first['dossier_code']}-L"}])
    assert later.workflow_id == receipt.workflow_id
    assert (await outcome_of(dossiers, later)).state == DossierState.COMPLETED


async def test_the_api_sends_an_establishments_batch_and_refuses_one_over_its_byte_bound(
        api_client: httpx.AsyncClient, portal_token: str, pool: asyncpg.Pool, dossiers: DossierClient):
    raws = await two_hotels_guests(pool, guests=6)
    response = await api_client.post("/v1/batches", json={"items": raws}, headers=bearer(portal_token))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(raws)
    codes = [raw["dossier_code"] for raw in raws]

    async def all_recorded() -> bool:
        return len(await recorded(pool, codes)) == len(codes)

    deadline = asyncio.get_running_loop().time() + 30
    while not await all_recorded():
        assert asyncio.get_running_loop().time() < deadline, "the batch was not recorded in time"
        await asyncio.sleep(0.1)
    assert await recorded(pool, codes) == dict.fromkeys(codes, "completed")

    # Over the API's body bound (64 KiB in these tests, CUTRU_API_MAX_BODY_BYTES): 413 problem+json, nothing sent.
    more = await two_hotels_guests(pool, guests=2)
    padded = [raw | {"dossier_code": f"{raw['dossier_code']}-{i}",
                     "details": raw["details"] | {"guests": raw["details"]["guests"] * 8}}
              for i in range(25) for raw in more]  # 50 items: as many as these tests' API takes
    body = {"items": padded}
    assert 64 * 1024 < sum(map(encoded_size, padded))
    too_big = await api_client.post("/v1/batches", json=body, headers=bearer(portal_token))
    assert too_big.status_code == 413 and too_big.headers["content-type"] == "application/problem+json"
    assert too_big.json()["code"] == "payload_too_large"
    assert await recorded(pool, [raw["dossier_code"] for raw in padded]) == {}


async def test_the_auditors_messages_list_each_notification_of_a_batch(dossiers: DossierClient, pool: asyncpg.Pool):
    raws = await two_hotels_guests(pool)
    receipts = await dossiers.notify_batch(raws)
    for receipt in receipts:
        await outcome_of(dossiers, receipt)
    register_id = receipts[0].workflow_id
    history = await dossiers.client.get_workflow_handle(register_id).fetch_history()
    lines = await messages(history, dossiers.client.data_converter)
    batched = [raw["dossier_code"] for raw, receipt in zip(raws, receipts, strict=True)
               if receipt.workflow_id == register_id]
    notified = [line for line in lines if line.action == "stay_notified"]
    assert [line.detail.split(":")[0] for line in notified] == batched
    hosts = {r["dossier_code"]: r["applicant"]["personal_id"] for r in raws}
    assert [line.actor for line in notified] == [mask_personal_id(hosts[code]) for code in batched]
