"""Events for other systems: subscriptions through the operators' API, deliveries signed as Standard Webhooks says
to a real HTTP subscriber that is down for a while, the dead letters of one that never answers, and a replay."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiohttp import web
from temporalio.client import Client
from temporalio.worker import Worker

from activities.notify import Backoff, Outbox
from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from domain import webhooks
from domain.models import DossierState
from tests.api_fixtures import bearer
from tests.cli import closed_port, refusing_port
from tests.factories import head_signs, pay
from tests.integration.test_permanent_registration import approve, own_residence_dossier, wait_state
from tests.notify_fixtures import dispatching, eventually
from tests.oidc import OidcProvider, client_credentials_token

# Retried within a second, given up after about seven.
BACKOFF = Backoff(first=timedelta(milliseconds=200), longest=timedelta(seconds=1), attempts=10)


@pytest.fixture
async def worker(client: Client, settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Worker | None]:
    """The API's worker, with the webhook dispatcher retrying quickly. Subscriptions earlier tests left active in the
    session's database stay: each is a lane of its own."""
    async with dispatching(client, settings, pool, Outbox(pool, backoff=BACKOFF), ["webhook"]):
        yield None


class Subscriber:
    """A subscriber's endpoint (aiohttp) that takes only correctly signed events; started and stopped at will."""

    def __init__(self, *, hang_first: bool = False) -> None:
        self.port = closed_port()
        self.url = f"http://127.0.0.1:{self.port}/cutru-events"
        self.secret = ""
        self.received: list[dict[str, Any]] = []
        self.refused = 0
        self.hung: str | None = None  # the event whose first post was never answered (hang_first)
        self._hang_first = hang_first
        self._never = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def _take(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not webhooks.verify(self.secret, dict(request.headers), body, int(time.time())):
            self.refused += 1
            return web.Response(status=401)
        if self._hang_first and self.hung is None:
            self.hung = request.headers["webhook-id"]
            await self._never.wait()
        self.received.append({"id": request.headers["webhook-id"], **json.loads(body)})
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/cutru-events", self._take)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self._never.set()  # a hung handler outlives its closed connection: the cleanup would wait it out
        if self._runner is not None:
            await self._runner.cleanup()


class BlackHole:
    """A subscriber's address that accepts the connection, reads the request and never answers."""

    def __init__(self) -> None:
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._hung: list[asyncio.StreamWriter] = []

    async def _hang(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._hung.append(writer)
        if await reader.read(1):
            self.requests += 1
        await reader.read()  # until the client gives up

    @property
    def waiting(self) -> int:
        """Connections the client has not closed."""
        return sum(not w.transport.is_closing() for w in self._hung)

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._hang, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/events"

    async def stop(self) -> None:
        assert self._server is not None
        for writer in self._hung:
            writer.close()
        self._server.close()
        await self._server.wait_closed()


async def subscribe(pool: asyncpg.Pool, client: str, url: str) -> tuple[uuid.UUID, str]:
    secret = webhooks.new_secret()
    subscription_id = await pool.fetchval(
        "INSERT INTO subscriptions (client, url, secret) VALUES ($1, $2, $3) RETURNING subscription_id",
        client, url, secret)
    return subscription_id, secret


async def test_a_subscriber_that_never_answers_delays_no_other(client: Client, settings: Settings,
                                                               pool: asyncpg.Pool):
    """Each subscription is a lane: while the post to a subscriber that never answers waits for its timeout (five
    minutes here), another subscriber receives every event written meanwhile."""
    hole, live = BlackHole(), Subscriber()
    dead_id, _ = await subscribe(pool, "statistics", await hole.start())
    live_id, live.secret = await subscribe(pool, "portal", live.url)
    await live.start()
    outbox = Outbox(pool, backoff=BACKOFF, webhook_timeout=timedelta(minutes=5))
    dossiers = DossierClient(client, settings.task_queue)
    try:
        async with dispatching(client, settings, pool, outbox, ["webhook"]):
            first = await own_residence_dossier(pool)
            await dossiers.submit(first)

            async def hanging() -> bool:
                return hole.requests >= 1
            await eventually(hanging, "a post to the subscriber that never answers")

            # Written while that post waits: the live subscriber receives them all the same.
            second = await own_residence_dossier(pool)
            code = second["dossier_code"]
            await dossiers.submit(second)
            await wait_state(dossiers, code, DossierState.AWAITING_DECISION)

            async def arrived() -> bool:
                return {e["type"] for e in live.received if e["data"]["dossier_code"] == code} == {
                    "dossier.received", "dossier.accepted"}
            await eventually(arrived, "the live subscriber's events")

            dead = await pool.fetchrow(
                "SELECT count(*) AS waiting, max(attempts) AS attempts, count(last_error) AS errors"
                " FROM event_deliveries x JOIN events e USING (sequence)"
                " WHERE x.subscription_id = $1 AND e.dossier_code = ANY ($2::text[])",
                dead_id, [first["dossier_code"], code])
            assert dead["waiting"] >= 4 and dead["attempts"] == 0 and dead["errors"] == 0
            assert hole.waiting >= 1 and live.refused == 0
    finally:
        await pool.execute("UPDATE subscriptions SET active = false WHERE subscription_id = ANY ($1::uuid[])",
                           [dead_id, live_id])
        await live.stop()
        await hole.stop()


async def test_a_worker_that_dies_mid_post_leaves_the_delivery_to_be_posted_again(
        client: Client, settings: Settings, pool: asyncpg.Pool):
    """At least once: the worker posting an event dies before the subscriber answers; nothing is recorded, its claim
    expires, and another worker posts the event again (same webhook-id) and records it delivered."""
    subscriber = Subscriber(hang_first=True)
    subscription_id, subscriber.secret = await subscribe(pool, "portal", subscriber.url)
    await subscriber.start()
    dossiers = DossierClient(client, settings.task_queue)
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    try:
        # A claim of a second, shorter than the post's wait, so that the test need not wait out a real lease.
        dying = Outbox(pool, backoff=BACKOFF, webhook_timeout=timedelta(minutes=5),
                       webhook_lease=timedelta(seconds=1))
        async with dispatching(client, settings, pool, dying, ["webhook"]):
            await dossiers.submit(submission)

            async def posted() -> bool:
                return subscriber.hung is not None
            await eventually(posted, "a post the subscriber does not answer")
        # The worker is gone (its lanes cancelled, as a process killed would leave them): no attempt recorded.
        hung = await pool.fetchrow(
            "SELECT x.status, x.attempts FROM event_deliveries x JOIN events e USING (sequence)"
            " WHERE x.subscription_id = $1 AND e.event_id = $2", subscription_id, uuid.UUID(subscriber.hung))
        assert dict(hung) == {"status": "pending", "attempts": 0}

        async with dispatching(client, settings, pool, Outbox(pool, backoff=BACKOFF), ["webhook"]):
            async def delivered() -> bool:
                return await pool.fetchval(
                    "SELECT status = 'delivered' AND attempts = 1 FROM event_deliveries x JOIN events e USING"
                    " (sequence) WHERE x.subscription_id = $1 AND e.event_id = $2",
                    subscription_id, uuid.UUID(subscriber.hung))
            await eventually(delivered, "the event posted again by another worker")
        assert subscriber.hung in {e["id"] for e in subscriber.received}
        assert {e["data"]["dossier_code"] for e in subscriber.received} == {code}
    finally:
        await pool.execute("UPDATE subscriptions SET active = false WHERE subscription_id = $1", subscription_id)
        await subscriber.stop()
        await dossiers.handle(code).terminate("test over")


@pytest.fixture
def refused_port() -> Iterator[int]:
    with refusing_port() as port:
        yield port


async def test_events_reach_a_subscriber_that_was_down_and_replay_from_a_sequence(
        api_client: httpx.AsyncClient, oidc_provider: OidcProvider, client: Client, settings: Settings,
        pool: asyncpg.Pool, refused_port: int):
    operator = bearer(client_credentials_token(oidc_provider, "cutru-operator"))
    subscriber = Subscriber()
    created = await api_client.post("/v1/subscriptions", headers=operator,
                                    json={"client": "portal", "url": subscriber.url})
    assert created.status_code == 201, created.text
    portal = created.json()
    subscriber.secret = portal["secret"]
    assert portal["secret"].startswith("whsec_") and portal["event_types"] == []
    unreachable = (await api_client.post("/v1/subscriptions", headers=operator, json={
        "client": "statistics", "url": f"http://127.0.0.1:{refused_port}/x",
        "event_types": ["dossier.completed"]})).json()
    portal_token = bearer(client_credentials_token(oidc_provider))
    refused = await api_client.post("/v1/subscriptions", headers=portal_token,
                                    json={"client": "portal", "url": subscriber.url})
    assert refused.status_code == 403

    try:
        dossiers = DossierClient(client, settings.task_queue)
        submission = await own_residence_dossier(pool)
        code = submission["dossier_code"]
        await dossiers.submit(submission)
        await wait_state(dossiers, code, DossierState.AWAITING_DECISION)

        # The subscriber is down while the dossier is received: its first event fails more than once. It comes up
        # then (not after a while: BACKOFF gives an event up after about seven seconds of failures): what it missed
        # arrives, and what follows.
        async def refused_twice() -> bool:
            log = (await api_client.get(f"/v1/subscriptions/{portal['subscription_id']}/deliveries",
                                        headers=operator, params={"after": 0})).json()
            return any(d["attempts"] >= 2 for d in log)
        # Up to a heartbeat timeout (30 s) more when a dispatcher round of an earlier test's worker must time out
        # before this test's worker takes the channel over.
        await eventually(refused_twice, "a delivery to the subscriber that is down, tried again", timeout=90)
        await subscriber.start()
        await dossiers.decide(code, approve())
        await head_signs(dossiers, pool, code)
        await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
        await pay(dossiers, pool, code)
        assert (await dossiers.result(code)).state == DossierState.COMPLETED
        expected = {"dossier.received", "dossier.accepted", "dossier.proposed", "dossier.decided", "fee.due",
                    "fee.paid", "dossier.completed"}

        def mine() -> list[dict[str, Any]]:
            return [e for e in subscriber.received if e["data"]["dossier_code"] == code]

        async def all_arrived() -> bool:
            return {e["type"] for e in mine()} == expected
        await eventually(all_arrived, "every event of the dossier at the subscriber")
        arrived = sorted(mine(), key=lambda e: e["sequence"])
        # In the order written: the trail entry of the sign-off is written after the fee's order is made.
        assert [e["type"] for e in arrived] == ["dossier.received", "dossier.accepted", "dossier.proposed", "fee.due",
                                                "dossier.decided", "fee.paid", "dossier.completed"]
        assert subscriber.refused == 0
        assert all(e["id"] == str(e["id"]) and "personal_id" not in json.dumps(e) for e in arrived)
        assert arrived[0]["data"]["resource"] == f"/v1/dossiers/{code}"

        log = (await api_client.get(f"/v1/subscriptions/{portal['subscription_id']}/deliveries",
                                    headers=operator, params={"after": arrived[0]["sequence"] - 1})).json()
        first = next(d for d in log if d["sequence"] == arrived[0]["sequence"])
        assert first["status"] == "delivered" and first["attempts"] > 1 and first["last_status"] == 204

        # The subscriber that never answers: its delivery gives up and shows among the dead letters.
        async def dead() -> bool:
            letters = (await api_client.get(f"/v1/subscriptions/{unreachable['subscription_id']}/dead-letters",
                                            headers=operator)).json()
            return any(d["dossier_code"] == code and d["type"] == "dossier.completed" for d in letters)
        try:
            await eventually(dead, "the unreachable subscriber's dead letter")
        except AssertionError as error:  # what the dispatcher did instead, for a failure to explain itself
            log = (await api_client.get(f"/v1/subscriptions/{unreachable['subscription_id']}/deliveries",
                                        headers=operator)).json()
            pending = await pool.fetch(
                "SELECT s.url, count(*) FROM event_deliveries x JOIN subscriptions s USING (subscription_id)"
                " WHERE s.active AND x.status = 'pending' GROUP BY s.url")
            waiting = [tuple(row) for row in pending]
            raise AssertionError(f"{error}; its deliveries: {log}; pending: {waiting}") from error

        # The portal lost what it took after the decision: a replay from that sequence delivers it again.
        before = len(mine())
        from_sequence = arrived[2]["sequence"]
        replay = await api_client.post(f"/v1/subscriptions/{portal['subscription_id']}/replay", headers=operator,
                                       json={"from_sequence": from_sequence})
        assert replay.status_code == 202 and replay.json()["scheduled"] >= 4

        async def replayed() -> bool:
            return len(mine()) >= before + len(arrived[2:])
        await eventually(replayed, "the replayed events")
        again = mine()[before:]
        assert sorted(e["id"] for e in again) == sorted(e["id"] for e in arrived[2:])
    finally:
        await subscriber.stop()
        for subscription in (portal, unreachable):
            ended = await api_client.delete(f"/v1/subscriptions/{subscription['subscription_id']}", headers=operator)
            assert ended.status_code == 200 and not ended.json()["active"]


async def test_subscriptions_refuse_what_they_cannot_deliver(api_client: httpx.AsyncClient,
                                                             oidc_provider: OidcProvider):
    operator = bearer(client_credentials_token(oidc_provider, "cutru-operator"))
    for body in ({"client": "portal", "url": "ftp://example.vn/x"}, {"client": "bank", "url": "http://a.vn"},
                 {"client": "portal", "url": "http://a.vn", "event_types": ["dossier.lost"]}):
        answer = await api_client.post("/v1/subscriptions", headers=operator, json=body)
        assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/problem+json")
    missing = await api_client.post("/v1/subscriptions/00000000-0000-0000-0000-000000000000/replay",
                                    headers=operator, json={"from_sequence": 1})
    assert missing.status_code == 404 and missing.json()["code"] == "subscription_not_found"


async def test_a_post_follows_no_redirect_and_keeps_the_refusal(pool: asyncpg.Pool):
    """A subscriber's redirect is its answer, not an address to post the event to (it could point anywhere inside
    the ministry's network); a refusal's body is kept short as the delivery's last error."""
    taken: list[bytes] = []

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/elsewhere")

    async def elsewhere(request: web.Request) -> web.Response:
        taken.append(await request.read())
        return web.Response(status=204)

    async def refusing(request: web.Request) -> web.Response:
        return web.Response(status=503, text="overloaded " * 200)

    app = web.Application()
    app.router.add_post("/moved", moved)
    app.router.add_post("/elsewhere", elsewhere)
    app.router.add_post("/refusing", refusing)
    runner = web.AppRunner(app)
    await runner.setup()
    port = closed_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    outbox = Outbox(pool, backoff=BACKOFF)
    row = {"event_id": uuid.uuid4(), "sequence": 1, "type": "dossier.received", "data": "{}",
           "occurred_at": datetime.now(UTC), "secret": webhooks.new_secret()}
    try:
        status, error = await outbox._post({**row, "url": f"http://127.0.0.1:{port}/moved"})
        assert status == 307 and error is not None and error.startswith("HTTP 307") and taken == []
        status, error = await outbox._post({**row, "url": f"http://127.0.0.1:{port}/refusing"})
        assert status == 503 and error == "HTTP 503: " + ("overloaded " * 200)[:200]
        with refusing_port() as gone:
            status, error = await outbox._post({**row, "url": f"http://127.0.0.1:{gone}/gone"})
        assert status is None and error is not None and error.startswith("ClientConnector")
    finally:
        await outbox.close()
        await runner.cleanup()
