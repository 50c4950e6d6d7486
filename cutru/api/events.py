"""Operators manage who hears cutru's events (docs/events.md): subscriptions per client, the delivery log, the
dead letters, and a replay for a subscriber that was down.

The events themselves are written by the database with each step and delivered by the webhook dispatcher
(``activities.notify``); this module only reads and steers the delivery rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from cutru.api.problems import Problem, problem_responses
from cutru.api.security import permit
from cutru.api.state import State
from cutru.platform.oidc import Principal
from domain.webhooks import new_secret

router = APIRouter(tags=["operators"])
Operator = Annotated[Principal, Depends(permit("manage_events"))]

EVENT_TYPES = ("dossier.received", "dossier.accepted", "supplement.requested", "supplement.received",
               "dossier.proposed", "dossier.returned", "dossier.decided", "fee.due", "fee.paid", "dossier.completed",
               "dossier.refused", "dossier.cancelled", "dossier.withdrawn", "result.dispatched", "result.in_transit",
               "result.delivered", "result.returned")
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
BIGINT = 2**63 - 1  # the largest sequence PostgreSQL holds
# A replay schedules at most this many events per request; the answer says where to go on from.
REPLAY_LIMIT = 10_000


class SubscriptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client: Literal["portal", "payment", "statistics"]
    url: AnyHttpUrl = Field(description="where each event is POSTed")
    event_types: list[EventType] = Field(default=[], max_length=len(EVENT_TYPES),
                                         description="the types to deliver; empty: every type")


class Subscription(BaseModel):
    subscription_id: uuid.UUID
    client: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class NewSubscription(Subscription):
    secret: str = Field(description="whsec_…: the key the deliveries are signed with; shown only here")


class Delivery(BaseModel):
    sequence: int
    event_id: uuid.UUID
    type: str
    dossier_code: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_sequence: int = Field(ge=0, le=BIGINT, strict=True, description="the first event to deliver again")


class ReplayReceipt(BaseModel):
    scheduled: int = Field(description="events delivered again from now on")
    next_sequence: int | None = Field(description="where to replay on from, when the limit was reached")


_COLUMNS = "subscription_id, client, url, event_types, active, created_at"


def _subscription_not_found(subscription_id: uuid.UUID) -> Problem:
    return Problem(404, "subscription_not_found", "Subscription not found", "Không tìm thấy đăng ký nhận sự kiện",
                   detail=f"No subscription {subscription_id}: list them with GET /v1/subscriptions.",
                   detail_vi=f"Không có đăng ký {subscription_id}: xem danh sách tại GET /v1/subscriptions.")


async def _existing(state: State, subscription_id: uuid.UUID) -> None:
    if not await state.pool.fetchval("SELECT 1 FROM subscriptions WHERE subscription_id = $1", subscription_id):
        raise _subscription_not_found(subscription_id)


@router.post("/v1/subscriptions", operation_id="create_subscription", status_code=201, response_model=NewSubscription,
             responses=problem_responses(401, 403, 422), summary="Subscribe a client to events")
async def create_subscription(request: SubscriptionRequest, state: State, _: Operator) -> NewSubscription:
    secret = new_secret()
    row = await state.pool.fetchrow(
        f"INSERT INTO subscriptions (client, url, secret, event_types) VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}",
        request.client, str(request.url), secret, sorted(set(request.event_types)))
    return NewSubscription(**dict(row), secret=secret)


@router.get("/v1/subscriptions", operation_id="list_subscriptions", response_model=list[Subscription],
            responses=problem_responses(401, 403), summary="Every subscription")
async def list_subscriptions(state: State, _: Operator) -> list[Subscription]:
    rows = await state.pool.fetch(f"SELECT {_COLUMNS} FROM subscriptions ORDER BY created_at")
    return [Subscription(**dict(row)) for row in rows]


@router.delete("/v1/subscriptions/{subscription_id}", operation_id="end_subscription", response_model=Subscription,
               responses=problem_responses(401, 403, 404), summary="Stop delivering to a subscription")
async def end_subscription(subscription_id: uuid.UUID, state: State, _: Operator) -> Subscription:
    """Its log stays readable; nothing more is delivered to it."""
    row = await state.pool.fetchrow(
        f"UPDATE subscriptions SET active = false WHERE subscription_id = $1 RETURNING {_COLUMNS}", subscription_id)
    if row is None:
        raise _subscription_not_found(subscription_id)
    return Subscription(**dict(row))


async def _deliveries(state: State, subscription_id: uuid.UUID, status: str | None, after: int,
                      limit: int) -> list[Delivery]:
    await _existing(state, subscription_id)
    rows = await state.pool.fetch(
        "SELECT x.sequence, e.event_id, e.type, e.dossier_code, x.status, x.attempts, x.last_status, x.last_error,"
        " x.next_attempt_at, x.delivered_at FROM event_deliveries x JOIN events e ON e.sequence = x.sequence"
        " WHERE x.subscription_id = $1 AND ($2::text IS NULL OR x.status = $2) AND x.sequence > $3"
        " ORDER BY x.sequence LIMIT $4", subscription_id, status, after, limit)
    return [Delivery(**dict(row)) for row in rows]


@router.get("/v1/subscriptions/{subscription_id}/deliveries", operation_id="list_deliveries",
            response_model=list[Delivery], responses=problem_responses(401, 403, 404),
            summary="The delivery log of a subscription")
async def list_deliveries(subscription_id: uuid.UUID, state: State, _: Operator,
                          status: Literal["pending", "delivered", "dead"] | None = None,
                          after: Annotated[int, Query(ge=0, le=BIGINT, description="sequences above this one")] = 0,
                          limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[Delivery]:
    return await _deliveries(state, subscription_id, status, after, limit)


@router.get("/v1/subscriptions/{subscription_id}/dead-letters", operation_id="list_dead_letters",
            response_model=list[Delivery], responses=problem_responses(401, 403, 404),
            summary="Events whose delivery gave up")
async def list_dead_letters(subscription_id: uuid.UUID, state: State, _: Operator,
                            after: Annotated[int, Query(ge=0, le=BIGINT)] = 0,
                            limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[Delivery]:
    """Each delivery whose attempts are spent; a replay from its sequence delivers it again."""
    return await _deliveries(state, subscription_id, "dead", after, limit)


@router.post("/v1/subscriptions/{subscription_id}/replay", operation_id="replay_events", status_code=202,
             response_model=ReplayReceipt, responses=problem_responses(401, 403, 404, 409, 422),
             summary="Deliver every event from a sequence number again")
async def replay_events(subscription_id: uuid.UUID, replay: ReplayRequest, state: State,
                        _: Operator) -> ReplayReceipt:
    """For a subscriber that was down or lost what it took: its types' events from ``from_sequence`` on are
    delivered again (dead ones included), in sequence order, at most ``REPLAY_LIMIT`` per request."""
    active = await state.pool.fetchval("SELECT active FROM subscriptions WHERE subscription_id = $1",
                                       subscription_id)
    if active is None:
        raise _subscription_not_found(subscription_id)
    if not active:
        raise Problem(409, "subscription_ended", "Subscription ended", "Đăng ký đã chấm dứt",
                      detail="The subscription was ended: create a new one to receive events again.",
                      detail_vi="Đăng ký đã chấm dứt: tạo đăng ký mới để nhận lại sự kiện.")
    row = await state.pool.fetchrow(
        "WITH chosen AS (SELECT e.sequence FROM events e JOIN subscriptions s ON s.subscription_id = $1"
        " WHERE e.sequence >= $2 AND (s.event_types = '{}' OR e.type = ANY (s.event_types))"
        " ORDER BY e.sequence LIMIT $3),"
        " scheduled AS (INSERT INTO event_deliveries (subscription_id, sequence) SELECT $1, sequence FROM chosen"
        " ON CONFLICT (subscription_id, sequence) DO UPDATE SET status = 'pending', attempts = 0,"
        " next_attempt_at = now(), last_error = NULL, last_status = NULL, delivered_at = NULL RETURNING sequence)"
        " SELECT count(*) AS scheduled, max(sequence) AS last FROM scheduled",
        subscription_id, replay.from_sequence, REPLAY_LIMIT)
    full = row["scheduled"] == REPLAY_LIMIT
    return ReplayReceipt(scheduled=row["scheduled"], next_sequence=row["last"] + 1 if full else None)
