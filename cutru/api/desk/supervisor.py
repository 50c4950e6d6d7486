"""The supervisor's page: the unit's escalations (overdue, or due within one working day) with a reassignment form
for each, each officer's workload, and the unit's on-time rate over a period.

The figures and the reassignment are the API's own (``cutru.api.supervisors``, ``cutru.api.officers``): the page
shows nothing and changes nothing the API would refuse.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from cutru.api.desk.guard import DeskRoute, Form, Session, allowed
from cutru.api.desk.render import page
from cutru.api.officers import escalations, reassign
from cutru.api.problems import Problem, validated
from cutru.api.ratelimit import take
from cutru.api.state import ApiState, api_state
from cutru.api.supervisors import on_time_rate, period, supervised_unit, workload
from cutru.api.views import Day
from cutru.clients.officer import ReassignmentRequest
from cutru.platform.reads import Channel, record_reads
from domain.calendar import VN_TZ, local_date

router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)

PAGE_SIZE = 50
_INCOMPLETE = Problem(422, "invalid_request", "The reassignment is incomplete", "Chưa đủ thông tin phân công lại",
                      detail_vi="Hãy chọn cán bộ nhận hồ sơ và ghi lý do phân công lại (tối đa 1000 ký tự). "
                                "Chưa có gì thay đổi trong hồ sơ.")


@router.get("/supervise")
async def supervise_page(
    request: Request,
    session: Session,
    state: Annotated[ApiState, Depends(api_state)],
    since: Annotated[Day | None, Query()] = None,
    until: Annotated[Day | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    done: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    allowed(session, "escalations")
    principal = session.principal
    unit = await supervised_unit(state, principal, None)
    listing = await escalations(state, principal, unit, limit=PAGE_SIZE, cursor=cursor)
    # The escalations show the applicants' names: a read of each dossier listed.
    await record_reads(state.pool, principal, [item.dossier_code for item in listing.items], Channel.DESK,
                       "supervise")
    first, last = period(since, until, local_date(datetime.now(VN_TZ)))
    load = await workload(state, unit)
    return page(request, "supervise.html", unit=unit, listing=listing, load=load, now=datetime.now(UTC),
                rate=await on_time_rate(state, unit, first, last), done=done or "",
                officers=[o for o in load.officers if o.active and o.role == "officer"])


@router.post("/supervise/dossiers/{code}/reassignment")
async def reassignment(code: str, session: Session, form: Form, request: Request,
                       state: Annotated[ApiState, Depends(api_state)]) -> Response:
    allowed(session, "reassign")
    take(request, session.principal)
    body = validated(ReassignmentRequest, _INCOMPLETE, officer_id=str(form.get("officer_id") or ""),
                     reason=str(form.get("reason") or ""))
    # One reassignment per form sent: each is a request of its own.
    await reassign(state, session.principal, code, body, f"{session.principal.token_id}:{uuid.uuid4().hex}")
    return RedirectResponse(f"/desk/supervise?done={code}", status_code=303)
