"""``Idempotency-Key`` on every write: a retried request gets the first answer, not a second effect.

A key (opaque, 1–255 visible ASCII characters) is the caller's own: it is stored per verified token subject with the
SHA-256 of the request (method, path and body) in ``api_idempotency`` (migration 0005). The same key with the same
request replays the stored answer with ``Idempotent-Replayed: true``; with another request it is a 422 problem;
while the first request still runs, 409 with ``Retry-After``. Only successful answers (2xx) are stored: a refused
request leaves no row, so that correcting it and sending it again with the same key works. Keys expire after
``RETENTION``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import Request, Response

from cutru.api.problems import FieldError, Problem
from cutru.api.state import ApiState
from cutru.platform.oidc import Principal

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
RETENTION = timedelta(hours=24)
MAX_KEY = 255

_CLAIM = """
INSERT INTO api_idempotency (subject, idempotency_key, request_sha256) VALUES ($1, $2, $3)
ON CONFLICT (subject, idempotency_key) DO UPDATE
    SET request_sha256 = EXCLUDED.request_sha256, status_code = NULL, content_type = NULL, response_body = NULL,
        created_at = now()
    WHERE api_idempotency.created_at < now() - $4::interval
RETURNING true
"""


def _key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not all(" " < ch <= "~" for ch in key):
        raise Problem(422, "invalid_idempotency_key", "Invalid Idempotency-Key", "Idempotency-Key không hợp lệ",
                      detail=f"An Idempotency-Key is 1 to {MAX_KEY} visible ASCII characters (a UUID will do).",
                      detail_vi=f"Idempotency-Key gồm 1 đến {MAX_KEY} ký tự ASCII hiển thị được (ví dụ một UUID).",
                      errors=[FieldError(field=HEADER, message=f"1 to {MAX_KEY} visible ASCII characters",
                                         message_vi=f"1 đến {MAX_KEY} ký tự ASCII hiển thị được")])
    return key


async def idempotent(request: Request, state: ApiState, principal: Principal,
                     produce: Callable[[], Awaitable[Response]]) -> Response:
    """The answer of ``produce``, or the stored answer of the same request sent earlier with the same key."""
    key = _key(request)
    if key is None:
        return await produce()
    digest = hashlib.sha256(
        f"{request.method} {request.url.path}\n".encode() + await request.body()).hexdigest()
    claimed = await state.pool.fetchval(_CLAIM, principal.subject, key, digest, RETENTION)
    if not claimed:
        return await _replay(state, principal, key, digest)
    try:
        response = await produce()
    except BaseException:
        await _forget(state, principal, key)
        raise
    if 200 <= response.status_code < 300:
        await state.pool.execute(
            "UPDATE api_idempotency SET status_code = $3, content_type = $4, response_body = $5"
            " WHERE subject = $1 AND idempotency_key = $2",
            principal.subject, key, response.status_code, response.media_type, bytes(response.body))
    else:
        await _forget(state, principal, key)
    return response


async def _forget(state: ApiState, principal: Principal, key: str) -> None:
    await state.pool.execute("DELETE FROM api_idempotency WHERE subject = $1 AND idempotency_key = $2",
                             principal.subject, key)


async def _replay(state: ApiState, principal: Principal, key: str, digest: str) -> Response:
    row = await state.pool.fetchrow(
        "SELECT request_sha256, status_code, content_type, response_body FROM api_idempotency"
        " WHERE subject = $1 AND idempotency_key = $2", principal.subject, key)
    if row is None:  # the first request failed and forgot the key in between: the caller may send again
        raise _in_progress()
    if row["request_sha256"] != digest:
        raise Problem(422, "idempotency_key_reused", "Idempotency-Key reused", "Idempotency-Key đã được dùng",
                      detail="This Idempotency-Key was used for a different request; use a new key.",
                      detail_vi="Idempotency-Key này đã dùng cho một yêu cầu khác; hãy dùng khóa mới.")
    if row["status_code"] is None:
        raise _in_progress()
    return Response(row["response_body"], status_code=row["status_code"], media_type=row["content_type"],
                    headers={REPLAYED: "true"})


def _in_progress() -> Problem:
    return Problem(409, "idempotency_in_progress", "Request in progress", "Yêu cầu đang được xử lý",
                   detail="A request with this Idempotency-Key is still being processed; retry shortly.",
                   detail_vi="Yêu cầu với Idempotency-Key này đang được xử lý; hãy thử lại sau giây lát.",
                   headers={"Retry-After": "1"})
