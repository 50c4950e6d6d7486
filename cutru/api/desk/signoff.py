"""The unit head's pages: the proposals waiting for the head's signature, one proposal, and the head's answer.

The same functions as the JSON API (``cutru.api.signoff``): the roster read at each request (the caller must be the
unit's active head or an authorised deputy), the answer signed and sent to the dossier, which refuses a signer who
proposed the approval. Vietnamese throughout; a refusal reads as the API's, in Vietnamese.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from cutru.api.desk.guard import DeskRoute, Form, Session, allowed
from cutru.api.desk.pages import PAGE_SIZE, _documents
from cutru.api.desk.render import page
from cutru.api.officers import desk_view
from cutru.api.problems import Problem, validated
from cutru.api.ratelimit import take
from cutru.api.signoff import proposals, sign_off, signer_of
from cutru.api.state import ApiState, api_state
from cutru.clients.signoff import SignOffRequest
from cutru.platform.reads import Channel
from domain.kinds import Procedure
from domain.models import DossierState, SignOffKind, TrailAction
from domain.procedures.catalogue import PROCEDURES

router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)

_SETTLE_POLLS, _SETTLE_INTERVAL = 30, 0.1
DONE = {SignOffKind.SIGN: "Đã ký duyệt. Kết quả được ban hành mang tên và chức danh của bạn.",
        SignOffKind.RETURN: "Đã trả lại hồ sơ cho cán bộ đề xuất, kèm lý do; cán bộ sẽ xử lý lại."}


@router.get("/sign-offs")
async def proposals_page(request: Request, session: Session, state: Annotated[ApiState, Depends(api_state)],
                         cursor: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    allowed(session, "sign_off")
    signer = await signer_of(state, session.principal)
    listing = await proposals(state, session.principal, limit=PAGE_SIZE, cursor=cursor)
    return page(request, "sign_offs.html", rows=listing.items, signer=signer, next_cursor=listing.next_cursor,
                first_page=cursor is None)


@router.get("/sign-offs/{code}")
async def proposal_page(code: str, request: Request, session: Session,
                        state: Annotated[ApiState, Depends(api_state)],
                        done: Annotated[SignOffKind | None, Query()] = None) -> Response:
    allowed(session, "sign_off")
    dossier = await desk_view(state, session.principal, code, Channel.DESK)  # the head reads it: recorded
    signer = await signer_of(state, session.principal, dossier.police_unit)
    proposed = [entry for entry in dossier.trail if entry.action == TrailAction.PROPOSED]
    return page(request, "sign_off.html", dossier=dossier, signer=signer, proposal=proposed[-1] if proposed else None,
                documents=await _documents(state, code), done=DONE[done] if done else "",
                results=PROCEDURES[Procedure(dossier.procedure)].results,
                waiting=dossier.state == DossierState.AWAITING_SIGN_OFF)


@router.post("/sign-offs/{code}")
async def answer(code: str, session: Session, form: Form, request: Request,
                 state: Annotated[ApiState, Depends(api_state)]) -> Response:
    allowed(session, "sign_off")
    take(request, session.principal)
    kind, reason = form.get("decision"), str(form.get("reason") or "").strip() or None
    if kind not in (SignOffKind.SIGN, SignOffKind.RETURN):
        raise _form_problem("Hãy chọn ký duyệt hoặc trả lại hồ sơ.")
    if kind == SignOffKind.RETURN and reason is None:
        raise _form_problem("Hãy ghi lý do trả lại: cán bộ đề xuất sẽ xử lý lại theo lý do này.")
    body = validated(SignOffRequest, _form_problem("Lý do tối đa 1000 ký tự; hãy rút gọn rồi gửi lại."),
                     decision=SignOffKind(str(kind)), reason=reason)
    # One answer per dossier per token id: each form sent is a request of its own.
    await sign_off(state, session.principal, code, body, f"{session.principal.token_id}:{uuid.uuid4().hex}")
    for _ in range(_SETTLE_POLLS):  # the dossier leaves the state in its own time: show the page after it did
        if (await desk_view(state, session.principal, code, None)).state != DossierState.AWAITING_SIGN_OFF:
            break
        await asyncio.sleep(_SETTLE_INTERVAL)
    return RedirectResponse(f"/desk/sign-offs/{code}?done={body.decision.value}", status_code=303)


def _form_problem(detail_vi: str) -> Problem:
    return Problem(422, "invalid_request", "The sign-off is incomplete", "Ý kiến ký duyệt chưa đầy đủ",
                   detail_vi=detail_vi + " Chưa có gì thay đổi trong hồ sơ.")
