"""The officer's inbox page: reminders and escalations, newest first, and marking them read (``cutru.api.inbox``).
The header's count of unread notices is read with the session (``cutru.api.desk.guard``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from cutru.api.desk.guard import DeskRoute, Form, Session, allowed
from cutru.api.desk.render import page
from cutru.api.inbox import MAX_MARKED, inbox, mark_read
from cutru.api.officers import officer_id_of
from cutru.api.state import ApiState, api_state

router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)

PAGE_SIZE = 30
KIND_LABELS = {"reminder": "Nhắc hạn xử lý", "escalation": "Quá hạn, đã báo lãnh đạo"}


@router.get("/inbox")
async def inbox_page(
    request: Request,
    session: Session,
    state: Annotated[ApiState, Depends(api_state)],
    unread: Annotated[str | None, Query(max_length=5)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    allowed(session, "inbox")
    notices = await inbox(state, officer_id_of(session.principal), unread_only=unread == "1", limit=PAGE_SIZE,
                          cursor=cursor)
    return page(request, "inbox.html", notices=notices, unread_only=unread == "1", kinds=KIND_LABELS)


@router.post("/inbox/read")
async def read(session: Session, form: Form, state: Annotated[ApiState, Depends(api_state)]) -> Response:
    """Mark the ticked notices read (those not the officer's change nothing)."""
    allowed(session, "inbox")
    ids = tuple(int(str(value)) for value in form.getlist("notice_id") if str(value).isdigit())
    if ids:
        await mark_read(state, officer_id_of(session.principal), ids[:MAX_MARKED])
    return RedirectResponse("/desk/inbox", status_code=303)
