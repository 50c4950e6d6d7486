"""Delivering the outbox (migration 0011): citizens' e-mail and SMS, other systems' webhooks, postal shipments.

The rows are written by the database, in the transaction that records each step; these activities send them. A
dispatcher (``workflows.dispatch``) runs one ``dispatch_round`` per channel at a time: for a few minutes it takes
due rows, sends each and marks it, heartbeating as it goes, then returns, so that the workflow's history grows by a
few events per round, not per message. A worker that dies mid-round stops heartbeating and Temporal runs the round
again elsewhere.

Each e-mail, SMS or shipment row is taken with ``FOR UPDATE SKIP LOCKED`` in a transaction held while it is sent,
so that two rounds (a round Temporal gave up on that still runs, and its successor) never send the same row; a
failed send puts the row back with a growing pause (``Backoff``), recorded on the row, which is what survives any
restart. The one window left is a crash between the server's acceptance and the row's mark: the message is then sent
again, with the same SMTP Message-ID or SMS RequestId, so that the repeat is recognisable (the SMS gateway refuses
it).

Webhooks go to servers cutru does not run, any of which may hang, so no transaction or connection is held while one
is posted. Each subscription is a lane: a short transaction claims a few of its due deliveries in sequence order by
pushing their next attempt past a lease; a task of the lane's own posts them one after another and records each
attempt; a lane that fails stops and releases the rest. A lane waiting on a subscriber that never answers holds
only itself, and a worker that dies mid-post leaves the lease to expire: the delivery is posted again (at least once).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

import aiohttp
import httpx
import structlog
from pydantic import Field
from temporalio import activity

from activities.channels import Undeliverable
from domain import webhooks
from domain.calendar import local_date
from domain.kinds import DocumentKind, Procedure
from domain.models import Boundary
from domain.notifications import (
    MessageFacts,
    NotificationKind,
    OfficerFacts,
    OfficerNoticeKind,
    PersonalIdInSms,
    Rendered,
    message_id,
    message_key,
    render,
    render_officer,
)
from domain.procedures.catalogue import PROCEDURES

if TYPE_CHECKING:
    from email.message import EmailMessage

    import asyncpg

OutboxChannel = Literal["email", "sms", "webhook", "postal"]


class DispatchRound(Boundary):
    """One round of a channel's dispatcher: how long it runs and how often it looks for due rows."""

    channel: OutboxChannel
    length: timedelta = Field(default=timedelta(minutes=5), gt=timedelta(0), le=timedelta(hours=1))
    poll: timedelta = Field(default=timedelta(seconds=1), gt=timedelta(0), le=timedelta(minutes=1))


class RoundReport(Boundary):
    sent: int = 0
    retried: int = 0
    failed: int = 0


class Backoff(Boundary):
    """The pause before a row's next attempt: ``first`` doubled per attempt up to ``longest``; an event delivery is
    given up (dead-lettered) after ``attempts``."""

    first: timedelta = Field(default=timedelta(seconds=2), gt=timedelta(0))
    longest: timedelta = Field(default=timedelta(minutes=10), gt=timedelta(0))
    attempts: int = Field(default=15, ge=1)

    def after(self, attempts: int) -> timedelta:
        return min(self.first * 2 ** min(attempts - 1, 30), self.longest)


class Mailer(Protocol):
    def message(self, to: str, subject: str, body: str, message_id: str) -> EmailMessage: ...

    async def send(self, message: EmailMessage) -> None: ...

    @property
    def domain(self) -> str: ...


class SmsSender(Protocol):
    async def send(self, request_id: str, phone: str, text: str) -> str: ...


class PostalService(Protocol):
    async def create_shipment(self, order_code: str, name: str, address: str, phone: str | None) -> str: ...

    async def statuses(self, tracking_number: str) -> list[tuple[str, datetime]]: ...


# A due notification with what its message says, locked for this round (the caller's transaction). A citizen's goes
# to the dossier's contact; an officer's (officer_id) to the roster's address.
_DUE_NOTIFICATION = """
SELECT n.notification_id, n.dossier_code, n.step, n.kind, n.detail, n.attempts, n.officer_id,
       CASE WHEN n.officer_id IS NULL THEN c.email ELSE o.email END AS email, c.phone,
       o.full_name AS officer_name, a.full_name AS assigned_name,
       d.procedure, d.applicant_name, d.applicant_id, d.deadline, d.unit_code, u.name AS unit_name,
       p.amount_vnd, l.method, l.documents, s.tracking_number
FROM notifications n
LEFT JOIN dossier_contacts c ON c.dossier_code = n.dossier_code
LEFT JOIN officers o ON o.officer_id = n.officer_id
JOIN dossiers d ON d.dossier_code = n.dossier_code
LEFT JOIN officers a ON a.officer_id = d.assigned_officer
LEFT JOIN police_units u ON u.unit_code = d.unit_code
LEFT JOIN payments p ON p.dossier_code = n.dossier_code
LEFT JOIN deliveries l ON l.dossier_code = n.dossier_code
LEFT JOIN shipments s ON s.dossier_code = n.dossier_code
WHERE n.channel = $1 AND n.status = 'pending' AND n.next_attempt_at <= now()
    AND (n.officer_id IS NOT NULL OR c.dossier_code IS NOT NULL)
ORDER BY n.next_attempt_at LIMIT 1
FOR UPDATE OF n SKIP LOCKED
"""
_SENT = "UPDATE notifications SET status = 'sent', sent_at = now(), attempts = attempts + 1, message_id = $2" \
        " WHERE notification_id = $1"
_RETRY = "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = now() + $2, last_error = $3" \
         " WHERE notification_id = $1"
_FAILED = "UPDATE notifications SET status = 'failed', attempts = attempts + 1, last_error = $2" \
          " WHERE notification_id = $1"

# Each subscription is a lane: up to $2 lanes (not $1, those this worker is posting to already), the longest-waiting
# first, each with up to $3 of its due deliveries in sequence order, leased for $4 (their next attempt pushed past
# the lease, so that nobody else takes them meanwhile and a worker that dies leaves them to come due again). One
# short transaction; the lease's end identifies the claim when its attempts are recorded.
_CLAIM_LANES = """
WITH due AS (
    SELECT x.subscription_id, x.sequence,
           row_number() OVER (PARTITION BY x.subscription_id ORDER BY x.sequence) AS place,
           min(x.next_attempt_at) OVER (PARTITION BY x.subscription_id) AS waited
    FROM event_deliveries x JOIN subscriptions s ON s.subscription_id = x.subscription_id AND s.active
    WHERE x.status = 'pending' AND x.next_attempt_at <= now() AND x.subscription_id <> ALL ($1::uuid[])),
lanes AS (SELECT subscription_id FROM due WHERE place = 1 ORDER BY waited LIMIT $2),
chosen AS (
    SELECT x.subscription_id, x.sequence FROM event_deliveries x
    JOIN due ON due.subscription_id = x.subscription_id AND due.sequence = x.sequence AND due.place <= $3
    JOIN lanes ON lanes.subscription_id = x.subscription_id
    WHERE x.status = 'pending' AND x.next_attempt_at <= now()
    FOR UPDATE OF x SKIP LOCKED)
UPDATE event_deliveries x SET next_attempt_at = now() + $4
FROM chosen c, events e, subscriptions s
WHERE x.subscription_id = c.subscription_id AND x.sequence = c.sequence AND e.sequence = c.sequence
    AND s.subscription_id = c.subscription_id
RETURNING x.subscription_id, x.sequence, x.attempts, x.next_attempt_at AS lease, e.event_id, e.type, e.data,
          e.occurred_at, s.url, s.secret
"""
# $3 the attempt's HTTP status (NULL: unreachable), $4 its error, $5 the pause before the next, $6 whether it was
# the last one allowed, $7 the claim's lease: a row replayed or claimed again since is left to its new claim.
_DELIVERY_ATTEMPT = """
UPDATE event_deliveries SET attempts = attempts + 1, last_status = $3, last_error = $4,
    status = CASE WHEN $4::text IS NULL THEN 'delivered' WHEN $6 THEN 'dead' ELSE 'pending' END,
    delivered_at = CASE WHEN $4::text IS NULL THEN now() END, next_attempt_at = now() + $5
WHERE subscription_id = $1 AND sequence = $2 AND status = 'pending' AND next_attempt_at = $7
"""
# A lane's claimed deliveries it did not post (it stopped at a failure): due again at once, unless claimed anew.
_RELEASE = """
UPDATE event_deliveries SET next_attempt_at = now()
WHERE subscription_id = $1 AND sequence = ANY ($2::bigint[]) AND status = 'pending' AND next_attempt_at = $3
"""
# A shipment to create or to follow, locked for this round, with where it goes.
_DUE_SHIPMENT = """
SELECT s.dossier_code, s.tracking_number, s.attempts, l.destination, d.applicant_name, c.phone
FROM shipments s
JOIN deliveries l ON l.dossier_code = s.dossier_code
JOIN dossiers d ON d.dossier_code = s.dossier_code
LEFT JOIN dossier_contacts c ON c.dossier_code = s.dossier_code
WHERE s.status IN ('pending', 'accepted', 'in_transit') AND s.next_attempt_at <= now()
ORDER BY s.next_attempt_at LIMIT 1
FOR UPDATE OF s SKIP LOCKED
"""
_SHIPMENT_RETRY = "UPDATE shipments SET attempts = attempts + 1, next_attempt_at = now() + $2, last_error = $3," \
                  " updated_at = now() WHERE dossier_code = $1"
# What the postal service said of a shipment ($2 its tracking number, $3 its latest status, $4 when to ask again, $5
# and $6 every status and its time): its statuses, an event for each new one, and the citizen's message once posted.
_SHIPMENT_TRACKED = """
WITH tracked AS (
    UPDATE shipments SET tracking_number = $2, status = $3, attempts = 0, last_error = NULL,
        next_attempt_at = now() + $4, updated_at = now() WHERE dossier_code = $1),
recorded AS (
    INSERT INTO shipment_statuses (dossier_code, status, at)
    SELECT $1, x.status, x.at FROM unnest($5::text[], $6::timestamptz[]) AS x(status, at)
    ON CONFLICT (dossier_code, status) DO NOTHING RETURNING status, at),
told AS (
    INSERT INTO notifications (dossier_code, step, kind, channel)
    SELECT $1, 'dispatched', 'dispatched', c.channel FROM dossier_contacts c
    WHERE c.dossier_code = $1 AND c.channel <> 'portal'
    ON CONFLICT (dossier_code, step, channel) DO NOTHING)
INSERT INTO events (type, dossier_code, source, data, occurred_at)
SELECT 'result.' || CASE r.status WHEN 'accepted' THEN 'dispatched' ELSE r.status END, $1, 'postal:' || r.status,
       jsonb_build_object('dossier_code', $1::text, 'tracking_number', $2::text, 'status', r.status,
                          'resource', '/v1/dossiers/' || $1), r.at
FROM recorded r
ON CONFLICT (dossier_code, source) DO NOTHING
"""
# How many subscribers a worker posts to at once, how many of one subscriber's deliveries a lane claims together
# (posted one after another), and how long one post may take.
WEBHOOK_LANES = 16
LANE_BATCH = 10
WEBHOOK_TIMEOUT = timedelta(seconds=5)
_ERROR_CHARS = 200  # of a refusing subscriber's answer, kept as the delivery's last error
LOCAL_DESK_URL = "http://127.0.0.1:8000"  # the local stack's API, which serves the desk


def lane_lease(timeout: timedelta = WEBHOOK_TIMEOUT) -> timedelta:
    """A lane's claim by default: it outlasts the lane's posts, one after another, each cut off at ``timeout``. A
    worker that dies or loses the database mid-lane leaves the lane's deliveries claimed this long."""
    return timeout * LANE_BATCH + timedelta(seconds=10)


def _log(**fields: Any) -> None:
    structlog.get_logger().info("outbox", **fields)


def event_body(event_id: str, sequence: int, event_type: str, occurred_at: datetime, data: dict[str, Any]) -> bytes:
    """The JSON a subscriber receives: Standard Webhooks' ``type``/``timestamp``/``data``, with the event's ``id``
    and ``sequence`` (its place in cutru's order, for a replay from it)."""
    return json.dumps({"id": event_id, "sequence": sequence, "type": event_type,
                       "timestamp": occurred_at.isoformat(), "data": data},
                      ensure_ascii=False, separators=(",", ":")).encode()


class Outbox:
    """The dispatchers' activities, with the channels the worker was configured with (None: not configured, its
    rows wait)."""

    def __init__(self, pool: asyncpg.Pool, *, mailer: Mailer | None = None, sms: SmsSender | None = None,
                 postal: PostalService | None = None, webhook_timeout: timedelta = WEBHOOK_TIMEOUT,
                 webhook_lease: timedelta | None = None,
                 payment_link: Callable[[str], Awaitable[str | None]] | None = None,
                 portal_url: str = "https://dichvucong.bocongan.gov.vn", desk_url: str = LOCAL_DESK_URL,
                 backoff: Backoff | None = None,
                 tracking_poll: timedelta = timedelta(minutes=10)) -> None:
        self._pool = pool
        self._mailer = mailer
        self._sms = sms
        self._postal = postal
        self._webhook_timeout = webhook_timeout
        self._http: aiohttp.ClientSession | None = None  # made in the event loop, at the first post
        # A shorter lease than the default lets another claim post again what a slow post has not finished (at least
        # once still).
        self._lease = webhook_lease or lane_lease(webhook_timeout)
        # The lanes being posted, by subscription: they belong to the worker process, not to a round (below).
        self._lanes: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._posted = RoundReport()  # what the lanes did, a round reporting its share
        self._payment_link = payment_link
        self._portal_url = portal_url.rstrip("/")
        self._desk_url = desk_url.rstrip("/")  # where an officer's message links to the dossier's page
        self._backoff = backoff or Backoff()
        self._tracking_poll = tracking_poll  # how often a posted result's status is asked for

    def channels(self) -> list[OutboxChannel]:
        """The channels this worker can deliver: webhooks always, the others when configured."""
        configured: list[tuple[OutboxChannel, object]] = [
            ("email", self._mailer), ("sms", self._sms), ("postal", self._postal)]
        return ["webhook", *(name for name, adapter in configured if adapter is not None)]

    @activity.defn
    async def dispatch_round(self, job: DispatchRound) -> RoundReport:
        if job.channel == "webhook":
            total = await self._webhooks(job)
        else:
            total = await self._rows(job)
        _log(channel=job.channel, sent=total.sent, retried=total.retried, failed=total.failed)
        return total

    async def _rows(self, job: DispatchRound) -> RoundReport:
        step: Callable[[], Awaitable[RoundReport]] = {
            "email": lambda: self._notifications("email"), "sms": lambda: self._notifications("sms"),
            "postal": self._shipments}[job.channel]
        total = RoundReport()
        ends = time.monotonic() + job.length.total_seconds()
        while _round_lasts(ends):
            report = await step()
            total = _added(total, report)
            activity.heartbeat(total.sent)
            if report == RoundReport():
                await asyncio.sleep(job.poll.total_seconds())
        return total

    async def close(self) -> None:
        """Stop the lanes being posted (their claims expire and the deliveries come due again) and the HTTP client."""
        lanes = list(self._lanes.values())
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    # ---- citizens' messages --------------------------------------------------------------------------------------

    async def _notifications(self, channel: Literal["email", "sms"]) -> RoundReport:
        """Send due messages one at a time until none is due; what was done."""
        sent = retried = failed = 0
        async with self._pool.acquire() as conn:
            while True:
                async with conn.transaction():
                    row = await conn.fetchrow(_DUE_NOTIFICATION, channel)
                    if row is None:
                        return RoundReport(sent=sent, retried=retried, failed=failed)
                    try:
                        sent_id = await self._send(channel, row)
                    except (Undeliverable, PersonalIdInSms) as error:
                        await conn.execute(_FAILED, row["notification_id"], str(error))
                        failed += 1
                    except (OSError, RuntimeError, httpx.HTTPError, ValueError) as error:
                        await conn.execute(_RETRY, row["notification_id"], self._backoff.after(row["attempts"] + 1),
                                           f"{type(error).__name__}: {error}"[:500])
                        retried += 1
                    else:
                        await conn.execute(_SENT, row["notification_id"], sent_id)
                        sent += 1
                activity.heartbeat()

    async def _send(self, channel: Literal["email", "sms"], row: Any) -> str:
        if channel == "email":
            assert self._mailer is not None, "only configured channels are dispatched"
            if not row["email"]:  # an officer's address removed from the roster since
                raise Undeliverable(f"{row['officer_id']} has no e-mail address in the roster")
            rendered = self._officer_message(row) if row["officer_id"] else render(await self._facts(row), "email")
            identifier = message_id(row["dossier_code"], row["step"], "email", self._mailer.domain)
            await self._mailer.send(self._mailer.message(row["email"], rendered.subject, rendered.body, identifier))
            return identifier
        assert self._sms is not None and row["phone"], "only configured channels are dispatched"
        rendered = render(await self._facts(row), "sms")
        return await self._sms.send(message_key(row["dossier_code"], row["step"], "sms"), row["phone"], rendered.body)

    def _officer_message(self, row: Any) -> Rendered:
        return render_officer(OfficerFacts(
            kind=OfficerNoticeKind(row["kind"]), dossier_code=row["dossier_code"],
            procedure_name=PROCEDURES[Procedure(row["procedure"])].vietnamese_name,
            unit_name=row["unit_name"] or row["unit_code"], officer_name=row["officer_name"],
            assigned_name=row["assigned_name"], due=row["deadline"],
            desk_link=f"{self._desk_url}/desk/dossiers/{row['dossier_code']}"))

    async def _facts(self, row: Any) -> MessageFacts:
        kind = NotificationKind(row["kind"])
        procedure = PROCEDURES[Procedure(row["procedure"])]
        link = None
        if kind is NotificationKind.FEE_DUE:
            link = (await self._payment_link(row["dossier_code"]) if self._payment_link else None) or \
                f"{self._portal_url}/ho-so/{row['dossier_code']}/thanh-toan"
        documents = tuple(DocumentKind(k) for k in row["documents"] or ())
        return MessageFacts(
            kind=kind, dossier_code=row["dossier_code"], procedure_name=procedure.vietnamese_name,
            unit_name=row["unit_name"] or row["unit_code"], full_name=row["applicant_name"],
            personal_id=row["applicant_id"], detail=row["detail"],
            appointment=local_date(row["deadline"]) if row["deadline"] else None, amount_vnd=row["amount_vnd"],
            payment_link=link, documents=documents, postal=row["method"] == "postal",
            tracking_number=row["tracking_number"])

    # ---- other systems' events -----------------------------------------------------------------------------------

    async def _webhooks(self, job: DispatchRound) -> RoundReport:
        """Claim lanes while the round lasts, as many as there is room for, each posted by a task of its own.

        A lane's task is not bound to the round: one still waiting on a subscriber when the round ends goes on in the
        worker and the next round counts it busy, so that a subscriber that never answers delays neither the round's
        end nor any other lane. The round reports what the lanes finished while it ran."""
        before = self._posted
        ends = time.monotonic() + job.length.total_seconds()
        while _round_lasts(ends):
            room = WEBHOOK_LANES - len(self._lanes)
            if room > 0:
                rows = await self._pool.fetch(_CLAIM_LANES, list(self._lanes), room, LANE_BATCH, self._lease)
                for subscription_id, lane in _by_lane(rows).items():
                    task = asyncio.create_task(self._lane(lane))
                    self._lanes[subscription_id] = task
                    task.add_done_callback(functools.partial(self._lane_ended, subscription_id))
            activity.heartbeat(self._posted.sent - before.sent)
            if self._lanes:
                await asyncio.wait(list(self._lanes.values()), timeout=job.poll.total_seconds(),
                                   return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(job.poll.total_seconds())
        return RoundReport(sent=self._posted.sent - before.sent, retried=self._posted.retried - before.retried,
                           failed=self._posted.failed - before.failed)

    def _lane_ended(self, subscription_id: uuid.UUID, task: asyncio.Task[None]) -> None:
        self._lanes.pop(subscription_id, None)
        if not task.cancelled() and task.exception() is not None:
            # Its claim expires and its deliveries come due again; the next claim fails the round if the database is
            # what failed.
            structlog.get_logger().warning("webhook lane failed", subscription_id=str(subscription_id),
                                           error=repr(task.exception()))

    async def _lane(self, rows: list[Any]) -> None:
        """Post one subscriber's claimed deliveries in sequence order, recording each attempt; at the first failure
        the rest are released (the subscriber is down: they come due again, each with its own attempts)."""
        for place, row in enumerate(rows):
            status, error = await self._post(row)
            attempts = row["attempts"] + 1
            last = error is not None and attempts >= self._backoff.attempts
            await self._pool.execute(_DELIVERY_ATTEMPT, row["subscription_id"], row["sequence"], status, error,
                                     self._backoff.after(attempts), last, row["lease"])
            self._posted = _added(self._posted, RoundReport(
                sent=int(error is None), retried=int(error is not None and not last), failed=int(last)))
            if error is not None:
                rest = [r["sequence"] for r in rows[place + 1:]]
                if rest:
                    await self._pool.execute(_RELEASE, row["subscription_id"], rest, row["lease"])
                return

    async def _post(self, row: Any) -> tuple[int | None, str | None]:
        """One delivery: the subscriber's status and None when it took the event (2xx), else why not."""
        body = event_body(str(row["event_id"]), row["sequence"], row["type"], row["occurred_at"],
                          json.loads(row["data"]))
        signed = webhooks.headers(row["secret"], str(row["event_id"]), int(time.time()), body)
        try:
            # A redirect is the subscriber's answer, not an address to post to: it is not followed.
            async with self._session().post(row["url"], data=body, headers=signed, allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    return response.status, None
                # At most four bytes a character in UTF-8: the body is read no further than what is kept.
                text = (await response.content.read(4 * _ERROR_CHARS)).decode(errors="replace")
                return response.status, f"HTTP {response.status}: {text[:_ERROR_CHARS]}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"[:500] or type(error).__name__

    def _session(self) -> aiohttp.ClientSession:
        """The webhooks' connections: aiohttp, since httpx's pool costs the event loop more CPU a post the more
        lanes post at once (docs/benchmarks.md, the driver's HTTP client). Proxies from the environment, as httpx
        read them; each post cut off at the webhook timeout."""
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._webhook_timeout.total_seconds()), trust_env=True)
        return self._http

    # ---- postal shipments ------------------------------------------------------------------------------------------

    async def _shipments(self) -> RoundReport:
        """Create the due shipments at the postal service and read the tracked ones' statuses, one at a time."""
        assert self._postal is not None, "only configured channels are dispatched"
        sent = retried = 0
        async with self._pool.acquire() as conn:
            while True:
                async with conn.transaction():
                    row = await conn.fetchrow(_DUE_SHIPMENT)
                    if row is None:
                        return RoundReport(sent=sent, retried=retried)
                    code, tracking = row["dossier_code"], row["tracking_number"]
                    try:
                        if tracking is None:
                            tracking = await self._postal.create_shipment(
                                code, row["applicant_name"], row["destination"], row["phone"])
                        statuses = await self._postal.statuses(tracking)
                    except (OSError, RuntimeError, httpx.HTTPError, ValueError) as error:
                        await conn.execute(_SHIPMENT_RETRY, code, self._backoff.after(row["attempts"] + 1),
                                           f"{type(error).__name__}: {error}"[:500])
                        retried += 1
                    else:
                        latest = statuses[-1][0] if statuses else "accepted"
                        await conn.execute(_SHIPMENT_TRACKED, code, tracking, latest, self._tracking_poll,
                                           [status for status, _ in statuses], [at for _, at in statuses])
                        sent += row["tracking_number"] is None
                activity.heartbeat()


def _round_lasts(ends: float) -> bool:
    """Until the round's end, or until its worker stops: a stopping worker ends its round at once rather than at its
    graceful-shutdown timeout; what is due stays due, and the dispatcher's next round runs on whichever worker polls
    next."""
    return time.monotonic() < ends and not activity.is_worker_shutdown()


def _added(total: RoundReport, report: RoundReport) -> RoundReport:
    return RoundReport(sent=total.sent + report.sent, retried=total.retried + report.retried,
                       failed=total.failed + report.failed)


def _by_lane(rows: list[Any]) -> dict[uuid.UUID, list[Any]]:
    """Claimed rows by subscription, each lane's in sequence order."""
    lanes: dict[uuid.UUID, list[Any]] = {}
    for row in sorted(rows, key=lambda r: r["sequence"]):
        lanes.setdefault(row["subscription_id"], []).append(row)
    return lanes


def outbox_activities(outbox: Outbox) -> list[Any]:
    return [outbox.dispatch_round]
