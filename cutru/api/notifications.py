"""Operators see the notifications that could not be delivered and put them back in the queue (docs/notifications.md).

The outbox's dispatchers (``activities.notify``) give an e-mail or SMS up (``failed``) when no retry can help: an
address the server refuses for good, an invalid number, an SMS that would carry a personal ID. A shipment the
postal service keeps refusing is retried for ever, its last error recorded. Once the cause is fixed, an operator
re-queues the item; the dispatcher sends it with the same idempotency key (Message-ID, RequestId, order code).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cutru.api.problems import Problem, problem_responses
from cutru.api.security import permit
from cutru.api.state import State
from cutru.api.views import Page, after_time_and_code, encode_cursor
from cutru.platform.oidc import Principal
from domain.models import DossierCode

router = APIRouter(prefix="/v1/notifications", tags=["operators"])
Operator = Annotated[Principal, Depends(permit("manage_notifications"))]

NotificationChannel = Literal["email", "sms", "postal"]
SHIPMENT = "shipment"  # the step of a postal item: one shipment per dossier

# The failed messages and the shipments still refused, oldest first, after the cursor's (time, key). A 12-digit run in
# a carrier's error is masked: a personal ID number never reaches the operators' screens.
_FAILED_SQL = """
WITH items AS (
    SELECT n.channel, n.dossier_code, n.step, n.kind, 'failed' AS status, n.attempts, n.last_error, n.created_at
    FROM notifications n WHERE n.status = 'failed'
    UNION ALL
    SELECT 'postal', s.dossier_code, 'shipment', 'shipment', 'retrying', s.attempts, s.last_error, s.created_at
    FROM shipments s WHERE s.status = 'pending' AND s.last_error IS NOT NULL)
SELECT channel, dossier_code, step, kind, status, attempts, created_at,
       regexp_replace(last_error, '(?<![0-9])[0-9]{12}(?![0-9])', '************', 'g') AS last_error
FROM items
WHERE ($1::text IS NULL OR channel = $1)
    AND ($2::timestamptz IS NULL OR (created_at, channel || ':' || dossier_code || ':' || step) > ($2, $3))
ORDER BY created_at, channel || ':' || dossier_code || ':' || step
LIMIT $4
"""
# A failed message back to pending, its attempts counted afresh; what it was, and whether this request changed it.
_REQUEUE_MESSAGE = """
WITH found AS (SELECT notification_id, status FROM notifications
               WHERE dossier_code = $1 AND step = $2 AND channel = $3 FOR UPDATE),
requeued AS (UPDATE notifications n SET status = 'pending', attempts = 0, next_attempt_at = now()
             FROM found f WHERE n.notification_id = f.notification_id AND f.status = 'failed' RETURNING 1)
SELECT (SELECT status FROM found) AS status, (SELECT count(*) FROM requeued) AS requeued
"""
# A refused shipment due at once, its attempts counted afresh.
_REQUEUE_SHIPMENT = """
WITH found AS (SELECT status, last_error FROM shipments WHERE dossier_code = $1 FOR UPDATE),
requeued AS (UPDATE shipments s SET attempts = 0, next_attempt_at = now(), last_error = NULL, updated_at = now()
             FROM found f WHERE s.dossier_code = $1 AND f.status = 'pending' AND f.last_error IS NOT NULL
             RETURNING 1)
SELECT (SELECT status FROM found) AS status, (SELECT count(*) FROM requeued) AS requeued
"""


class FailedNotification(BaseModel):
    channel: NotificationChannel
    dossier_code: str
    step: str = Field(description="with the channel and dossier code, the item's key (``shipment`` for postal)")
    kind: str = Field(description="what it tells: accepted, fee_due, completed, … (``shipment`` for postal)")
    status: Literal["failed", "retrying"] = Field(
        description="failed: given up (e-mail, SMS); retrying: a shipment the postal service still refuses")
    attempts: int
    last_error: str | None
    created_at: datetime


class RequeueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: NotificationChannel
    dossier_code: DossierCode
    step: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_-]+$",
                      description="as listed; ``shipment`` for postal")

    @model_validator(mode="after")
    def _postal_step(self) -> RequeueRequest:
        if (self.channel == "postal") != (self.step == SHIPMENT):
            raise ValueError("the step of a postal item is 'shipment', and only of a postal item")
        return self


class Requeued(BaseModel):
    channel: NotificationChannel
    dossier_code: str
    step: str
    requeued: bool = Field(description="false: it was waiting in the queue already, and still is")


def _not_found(item: RequeueRequest) -> Problem:
    return Problem(404, "notification_not_found", "Notification not found", "Không tìm thấy thông báo",
                   detail=f"No {item.channel} item {item.step} of dossier {item.dossier_code}: "
                          "take the key from GET /v1/notifications/failed.",
                   detail_vi=f"Không có thông báo {item.channel} {item.step} của hồ sơ {item.dossier_code}: "
                             "lấy khóa từ GET /v1/notifications/failed.")


def _delivered(item: RequeueRequest) -> Problem:
    return Problem(409, "notification_delivered", "Already delivered", "Thông báo đã được gửi",
                   detail=f"The {item.channel} item {item.step} of {item.dossier_code} was delivered (or, for post, "
                          "is with the postal service): there is nothing to send again.",
                   detail_vi=f"Thông báo {item.channel} {item.step} của hồ sơ {item.dossier_code} đã được gửi "
                             "(bưu gửi đã giao cho bưu điện): không có gì để gửi lại.")


@router.get("/failed", operation_id="list_failed_notifications", response_model=Page[FailedNotification],
            responses=problem_responses(401, 403, 422), summary="Citizens' and officers' messages not delivered")
async def list_failed_notifications(
    state: State, _: Operator,
    channel: NotificationChannel | None = None,
    limit: Annotated[int | None, Query(ge=1, description="items per page (default CUTRU_API_PAGE_SIZE)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> Page[FailedNotification]:
    """E-mails and SMS given up, and shipments the postal service still refuses, oldest first."""
    size = min(limit or state.settings.page_size, state.settings.max_page_size)
    after_at, after_key = after_time_and_code(cursor)
    rows = await state.pool.fetch(_FAILED_SQL, channel, after_at, after_key, size + 1)
    items = [FailedNotification.model_validate(dict(row)) for row in rows[:size]]
    last = items[-1] if len(rows) > size else None
    return Page[FailedNotification](items=items, next_cursor=encode_cursor(
        [last.created_at.isoformat(), f"{last.channel}:{last.dossier_code}:{last.step}"]) if last else None)


@router.post("/requeue", operation_id="requeue_notification", status_code=202, response_model=Requeued,
             responses=problem_responses(401, 403, 404, 409, 422), summary="Send a failed notification again")
async def requeue_notification(item: RequeueRequest, state: State, _: Operator) -> Requeued:
    """Back in the queue, its attempts counted afresh, sent again with the same idempotency key. Asking twice is
    asking once; a delivered item is refused (409) and nothing changes."""
    if item.channel == "postal":
        row = await state.pool.fetchrow(_REQUEUE_SHIPMENT, item.dossier_code)
    else:
        row = await state.pool.fetchrow(_REQUEUE_MESSAGE, item.dossier_code, item.step, item.channel)
    assert row is not None
    if row["status"] is None:
        raise _not_found(item)
    if not row["requeued"] and row["status"] != "pending":  # sent, or with the postal service
        raise _delivered(item)
    return Requeued(channel=item.channel, dossier_code=item.dossier_code, step=item.step,
                    requeued=bool(row["requeued"]))
