"""The draft of a dossier's result as a PDF preview: for the officer on the dossier page, for the head or deputy on
the sign-off page (with the signer's name as it will print).

A draft is laid out by the same form code as the issued result (``domain.documents``) from what the commit would
record, which only a worker can read (``workflows.drafts``); it is marked DỰ THẢO, carries no verification code and
no signature, and is rendered here, per request: never stored, issued or sent to the citizen. Each view is recorded
as a read of the dossier's personal data, like the other desk reads.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from temporalio.client import WorkflowFailureError
from temporalio.common import Priority
from temporalio.service import RPCError

from activities.contracts import DraftRequest
from cutru.api.desk.guard import DeskRoute, Session, allowed
from cutru.api.desk.wording import STATE_LABELS
from cutru.api.officers import dossier_status
from cutru.api.problems import Problem
from cutru.api.signoff import signer_of
from cutru.api.state import ApiState, api_state
from cutru.platform.oidc import Principal
from cutru.platform.reads import Channel, record_reads
from domain.documents import render
from domain.kinds import DocumentKind, Procedure
from domain.models import DossierState, DossierStatus, Signer
from domain.priority import URGENT, fairness_key
from domain.procedures.catalogue import PROCEDURES
from workflows.drafts import ResultDraft, draft_id

router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)

# Long enough for a worker's first draft (it prepares the fonts), short enough that a page never hangs for long.
DRAFT_WAIT = timedelta(seconds=20)
# Where each desk page offers a draft: an approval still to come (the officer's) or to be signed (the head's).
OFFICER_STATES = frozenset({DossierState.AWAITING_DECISION, DossierState.AWAITING_SIGN_OFF})
SIGNER_STATES = frozenset({DossierState.AWAITING_SIGN_OFF})


@router.get("/dossiers/{code}/draft/{kind}")
async def officer_draft(code: str, kind: DocumentKind, session: Session,
                        state: Annotated[ApiState, Depends(api_state)]) -> Response:
    """The result as it would be issued if the dossier were approved now; its signer not known yet."""
    allowed(session, "officer_view")
    status, _ = await dossier_status(state, session.principal, code)
    return await draft_response(state, session.principal, status, kind, OFFICER_STATES, signer=None)


@router.get("/sign-offs/{code}/draft/{kind}")
async def signer_draft(code: str, kind: DocumentKind, session: Session,
                       state: Annotated[ApiState, Depends(api_state)]) -> Response:
    """The result the head's signature would issue, with the head's (or deputy's) title and name."""
    allowed(session, "sign_off")
    status, _ = await dossier_status(state, session.principal, code)
    signer = await signer_of(state, session.principal, status.police_unit)
    return await draft_response(state, session.principal, status, kind, SIGNER_STATES, signer=signer)


async def draft_response(state: ApiState, principal: Principal, status: DossierStatus, kind: DocumentKind,
                         states: frozenset[DossierState], signer: Signer | None) -> Response:
    """The draft of ``kind`` for a dossier in one of ``states`` (the caller's scope already checked), recorded as
    a read of its personal data."""
    code = status.dossier_code
    if kind not in PROCEDURES[Procedure(status.procedure)].results:
        raise Problem(404, "not_found", "No such result", "Thủ tục không có kết quả này",
                      detail_vi=f"Hồ sơ {code} không có kết quả {kind.value}; hãy mở kết quả từ trang hồ sơ.")
    if status.state not in states or status.submission is None:
        raise Problem(409, "no_draft", "No draft at this stage", "Không có dự thảo ở bước này",
                      detail_vi=f"Hồ sơ {code} đang ở trạng thái “{STATE_LABELS.get(status.state, status.state)}”: "
                                "dự thảo kết quả chỉ có khi hồ sơ chờ quyết định hoặc chờ ký duyệt. Hãy mở lại "
                                "trang hồ sơ để xem giấy tờ đã ban hành.")
    request = DraftRequest.model_validate({"submission": status.submission, "at": datetime.now(UTC),
                                           "signer": signer})
    try:
        result = await state.dossiers.client.execute_workflow(
            ResultDraft.run, request, id=draft_id(code, uuid.uuid4().hex),
            task_queue=state.dossiers.task_queue, execution_timeout=DRAFT_WAIT,
            # An officer waits on the page: ahead of any backlog (docs/reliability.md, urgent work first).
            priority=Priority(priority_key=URGENT, fairness_key=fairness_key(status.police_unit)))
    except (WorkflowFailureError, RPCError) as error:
        raise _UNAVAILABLE from error
    if result.refusals:
        raise Problem(409, "no_draft", "The checks refuse the dossier", "Không lập được dự thảo",
                      detail_vi="Kết quả kiểm tra với Cơ sở dữ liệu về cư trú có căn cứ từ chối ("
                                + "; ".join(r.message_vi or r.message for r in result.refusals)
                                + "), nên hồ sơ không thể được phê duyệt như hiện tại. Hãy xem các căn cứ trên trang "
                                  "hồ sơ.")
    data = next(document for document in result.documents if document.kind == kind)
    content = await asyncio.to_thread(render, data)
    await record_reads(state.pool, principal, [code], Channel.DESK, "desk_draft", kind=kind.value)
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{code}-{kind.value}-du-thao.pdf"',
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


_UNAVAILABLE = Problem(503, "draft_unavailable", "The draft could not be made", "Chưa lập được dự thảo",
                       detail_vi="Hệ thống chưa lập được dự thảo kết quả lúc này (máy xử lý bận hoặc tạm ngừng). "
                                 "Hãy thử lại sau ít phút; hồ sơ không bị ảnh hưởng.")
