"""The officer's inbox: the reminders and escalations the workers wrote for them (``activities.notices``), newest
first, and marking them read. An officer sees and marks only their own (the token's ``officer_id``).

A notice names the dossier, its procedure and status and the deadline, not the applicant: the inbox shows no
personal data, so reading it is not a read of a dossier's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from cutru.api.officers import officer_id_of
from cutru.api.problems import problem_responses
from cutru.api.security import permit
from cutru.api.state import ApiState, api_state
from cutru.api.views import bad_cursor, decode_cursor, encode_cursor
from cutru.platform.oidc import Principal
from domain.models import Boundary

router = APIRouter(prefix="/v1/desk/inbox", tags=["officers"])

_READS = problem_responses(401, 403, 422)
_MAX_ID = 2**63 - 1
MAX_MARKED = 200  # notices marked read in one request

# Newest first, by id (the order they were written in), after the cursor's id; the unread count rides along.
_LIST_SQL = """
SELECT n.notice_id, n.dossier_code, n.kind, n.due, n.created_at, n.read_at, d.procedure, d.status,
       (SELECT count(*) FROM desk_notices u WHERE u.officer_id = $1 AND u.read_at IS NULL) AS unread
FROM desk_notices n LEFT JOIN dossiers d ON d.dossier_code = n.dossier_code
WHERE n.officer_id = $1 AND n.notice_id < $2 AND (NOT $3 OR n.read_at IS NULL)
ORDER BY n.notice_id DESC
LIMIT $4
"""

_UNREAD_SQL = "SELECT count(*) FROM desk_notices WHERE officer_id = $1 AND read_at IS NULL"

_MARK_SQL = """
WITH marked AS (UPDATE desk_notices SET read_at = now()
                WHERE officer_id = $1 AND notice_id = ANY($2::bigint[]) AND read_at IS NULL RETURNING 1)
SELECT (SELECT count(*) FROM marked) AS marked,
       (SELECT count(*) FROM desk_notices WHERE officer_id = $1 AND read_at IS NULL) - (SELECT count(*) FROM marked)
       AS unread
"""


class NoticeView(Boundary):
    notice_id: int
    dossier_code: str
    kind: Literal["reminder", "escalation"]
    due: datetime
    created_at: datetime
    read_at: datetime | None
    procedure: str | None
    status: str | None


class Inbox(Boundary):
    unread: int
    items: tuple[NoticeView, ...]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


class Unread(Boundary):
    unread: int


class MarkRead(Boundary):
    notice_ids: tuple[Annotated[int, Field(ge=1, le=_MAX_ID)], ...] = Field(min_length=1, max_length=MAX_MARKED)


class Marked(Boundary):
    marked: int
    unread: int


def _after(cursor: str | None) -> int:
    if cursor is None:
        return _MAX_ID
    values = decode_cursor(cursor)
    if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool) \
            or not 0 < values[0] <= _MAX_ID:
        raise bad_cursor()
    return values[0]


async def inbox(state: ApiState, officer_id: str, *, unread_only: bool = False, limit: int | None = None,
                cursor: str | None = None) -> Inbox:
    size = min(limit or state.settings.page_size, state.settings.max_page_size)
    rows = await state.pool.fetch(_LIST_SQL, officer_id, _after(cursor), unread_only, size + 1)
    unread = int(rows[0]["unread"]) if rows else await unread_count(state, officer_id)
    items = tuple(NoticeView.model_validate({k: v for k, v in dict(r).items() if k != "unread"})
                  for r in rows[:size])
    following = encode_cursor([items[-1].notice_id]) if len(rows) > size else None
    return Inbox(unread=unread, items=items, next_cursor=following)


async def unread_count(state: ApiState, officer_id: str) -> int:
    return int(await state.pool.fetchval(_UNREAD_SQL, officer_id))


async def mark_read(state: ApiState, officer_id: str, notice_ids: tuple[int, ...]) -> Marked:
    """Mark the caller's notices among ``notice_ids`` read; others' ids and ones already read change nothing."""
    row = await state.pool.fetchrow(_MARK_SQL, officer_id, list(notice_ids))
    assert row is not None
    return Marked(marked=int(row["marked"]), unread=int(row["unread"]))


@router.get("", response_model=Inbox, responses=_READS, operation_id="inbox",
            summary="Your reminders and escalations, newest first, with how many are unread")
async def list_inbox(
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("inbox"))],
    unread: Annotated[bool, Query(description="only the unread ones")] = False,
    limit: Annotated[int | None, Query(ge=1, description="items per page (default CUTRU_API_PAGE_SIZE)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> Inbox:
    return await inbox(state, officer_id_of(principal), unread_only=unread, limit=limit, cursor=cursor)


@router.get("/unread", response_model=Unread, responses=_READS, operation_id="inbox_unread",
            summary="How many of your notices are unread (the desk header's count)")
async def inbox_unread(
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("inbox"))],
) -> Unread:
    return Unread(unread=await unread_count(state, officer_id_of(principal)))


@router.post("/read", response_model=Marked, responses=problem_responses(401, 403, 422), operation_id="inbox_read",
             summary="Mark notices of yours read (marking one twice changes nothing)")
async def inbox_read(
    body: MarkRead,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("inbox"))],
) -> Marked:
    return await mark_read(state, officer_id_of(principal), body.notice_ids)
