"""The officer's pages: the unit's queue, one dossier, its papers, and the decision.

Each page calls the same desk functions as the JSON API (``cutru.api.officers``: the scope checks, the queue, the
masked status, the signed decision), so a page can show or do nothing the API would refuse, and a refusal reads
the same, in Vietnamese.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from cutru.api.attachments import paper_response, papers_of
from cutru.api.desk.drafts import OFFICER_STATES
from cutru.api.desk.guard import DeskRoute, Form, Session, allowed
from cutru.api.desk.render import days, page
from cutru.api.desk.wording import STATE_LABELS, procedure_name, vn_date, vn_time
from cutru.api.officers import decide, desk_view, listed, unit_queue
from cutru.api.portal import stored_document
from cutru.api.problems import Problem, validated
from cutru.api.ratelimit import take
from cutru.api.state import ApiState, api_state
from cutru.clients.officer import DecisionRequest, DeskDossier, QueueFilter
from cutru.platform.reads import Channel, record_reads
from domain.calendar import WorkingCalendar, local_date
from domain.deadlines import DeadlineProof
from domain.kinds import DocumentKind, Procedure
from domain.models import DecisionKind, DossierState, Refusal, Sha256, TrailAction
from domain.procedures.catalogue import PROCEDURES

router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)

PAGE_SIZE = 20
_SETTLE_POLLS, _SETTLE_INTERVAL = 30, 0.1
_CALENDAR = WorkingCalendar()
# The procedures an officer decides: those the queue can hold.
REVIEWED = sorted((spec.procedure.value for spec in PROCEDURES.values() if spec.officer_review),
                  key=procedure_name)
DONE = {DecisionKind.APPROVE: "Đã phê duyệt hồ sơ.",
        DecisionKind.REJECT: "Đã từ chối hồ sơ; công dân nhận phiếu từ chối (CT06).",
        DecisionKind.REQUEST_SUPPLEMENT: "Đã yêu cầu bổ sung; công dân nhận phiếu hướng dẫn (CT05)."}
# The papers a supplement request most often names (CT05); the officer adds any other in words.
SUPPLEMENT_ITEMS = (
    "Giấy tờ, tài liệu chứng minh chỗ ở hợp pháp",
    "Văn bản đồng ý của chủ hộ, chủ sở hữu chỗ ở hợp pháp",
    "Giấy tờ, tài liệu chứng minh quan hệ nhân thân với chủ hộ",
    "Tờ khai thay đổi thông tin cư trú (CT01) có đủ chữ ký",
    "Văn bản đồng ý của cha, mẹ hoặc người giám hộ",
)
_INVALID_FILTER = Problem(400, "invalid_request", "The request is invalid", "Bộ lọc không hợp lệ",
                          detail_vi="Bộ lọc hoặc ô tìm kiếm có giá trị không hợp lệ (tìm kiếm: tối đa 100 ký tự); "
                                    "hãy sửa lại rồi bấm Lọc.")


def _working_days_left(deadline: datetime | None, now: datetime) -> Decimal | None:
    return None if deadline is None else _CALENDAR.remaining_days(deadline, now)


@router.get("/queue")
async def queue_page(
    request: Request,
    session: Session,
    state: Annotated[ApiState, Depends(api_state)],
    procedure: Annotated[str | None, Query(max_length=80)] = None,
    status: Annotated[str | None, Query(alias="state", max_length=40)] = None,
    mine: Annotated[str | None, Query(max_length=5)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    allowed(session, "officer_queue")
    chosen = validated(QueueFilter, _INVALID_FILTER, procedure=procedure or None, state=status or None,
                       mine=mine == "1", q=(q or "").strip() or None)
    listing = await unit_queue(state, session.principal, chosen, limit=PAGE_SIZE, cursor=cursor)
    await listed(state, session.principal, listing, Channel.DESK, "queue")
    now = datetime.now(UTC)
    left = {item.dossier_code: _working_days_left(item.deadline, now) for item in listing.items}
    return page(request, "queue.html", rows=listing.items, left=left, chosen=chosen, next_cursor=listing.next_cursor,
                first_page=cursor is None,
                filter_query=urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]),
                procedures=REVIEWED, states=("awaiting_decision", "awaiting_supplement"))


# ---------------------------------------------------------------------------------------------- one dossier


@dataclass(frozen=True)
class DeadlineAccount:
    """How the deadline was counted: the proof recorded at acceptance (``domain.deadlines.deadline_proof``) or, for
    a dossier accepted before proofs were kept, the working days and days off between receipt and deadline; then
    the supplement pauses of the trail and the time left."""

    deadline: datetime
    lines: tuple[str, ...]
    pauses: tuple[tuple[datetime, datetime | None], ...]
    left: Decimal


def _counted(received_at: datetime, deadline: datetime) -> tuple[str, ...]:
    first, last = local_date(received_at), local_date(deadline)
    off = [(day, _CALENDAR.holiday_name(day) or ("Thứ Bảy" if day.weekday() == 5 else "Chủ nhật"))
           for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
           if not _CALENDAR.is_working_day(day)]
    lines = [f"Tiếp nhận lúc {vn_time(received_at)}; thời hạn "
             f"{days(_CALENDAR.working_days_between(received_at, deadline))} ngày làm việc, tính theo buổi làm việc."]
    if off:
        lines.append("Ngày không tính: " + "; ".join(f"{vn_date(day)} ({name})" for day, name in off) + ".")
    return tuple(lines)


def deadline_account(dossier: DeskDossier, proof: DeadlineProof | None, now: datetime) -> DeadlineAccount | None:
    if dossier.received_at is None or dossier.deadline is None:
        return None
    pauses: list[tuple[datetime, datetime | None]] = []
    for entry in dossier.trail:
        if entry.action == TrailAction.SUPPLEMENT_REQUESTED:
            pauses.append((entry.at, None))
        elif entry.action == TrailAction.SUPPLEMENTED and pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], entry.at)
    lines = proof.lines_vi() if proof is not None else _counted(dossier.received_at, dossier.deadline)
    return DeadlineAccount(dossier.deadline, lines, tuple(pauses), _CALENDAR.remaining_days(dossier.deadline, now))


async def _proof(state: ApiState, code: str) -> DeadlineProof | None:
    stored = await state.pool.fetchval("SELECT deadline_proof FROM dossiers WHERE dossier_code = $1", code)
    return None if stored is None else DeadlineProof.model_validate_json(stored)


def refusal_words(refusals: Sequence[Refusal]) -> dict[str, str]:
    """The Vietnamese of each refusal message, for the trail line that lists them in English."""
    return {refusal.message: refusal.message_vi for refusal in refusals if refusal.message_vi}


def grounds(dossier: DeskDossier) -> list[Refusal]:
    """The reasons an officer may pick to reject: what the checks found, then the procedure's own legal basis."""
    spec = PROCEDURES[Procedure(dossier.procedure)]
    general = Refusal(code="not_eligible", message="the dossier does not meet the procedure's conditions",
                      legal_basis=spec.legal_basis,
                      message_vi=f"Hồ sơ không đủ điều kiện {spec.vietnamese_name.lower()} theo quy định")
    return [*dossier.refusals, general]


async def _documents(state: ApiState, code: str) -> list[str]:
    rows = await state.pool.fetch("SELECT kind FROM documents WHERE dossier_code = $1 ORDER BY kind", code)
    return [row["kind"] for row in rows]


def _may_decide(session: Session) -> bool:
    try:
        allowed(session, "decide")
    except Problem:
        return False
    return True


@router.get("/dossiers/{code}")
async def dossier_page(code: str, request: Request, session: Session,
                       state: Annotated[ApiState, Depends(api_state)],
                       done: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    allowed(session, "officer_view")
    dossier = await desk_view(state, session.principal, code, Channel.DESK)
    deciding = dossier.state == DossierState.AWAITING_DECISION and _may_decide(session)
    drafts = PROCEDURES[Procedure(dossier.procedure)].results if dossier.state in OFFICER_STATES else ()
    return page(request, "dossier.html", dossier=dossier, documents=await _documents(state, code), drafts=drafts,
                papers=await papers_of(state.pool, code),
                account=deadline_account(dossier, await _proof(state, code), datetime.now(UTC)),
                grounds=grounds(dossier), deciding=deciding, supplement_items=SUPPLEMENT_ITEMS,
                refusals=refusal_words(dossier.refusals),
                done=next((text for kind, text in DONE.items() if kind.value == done), ""))


@router.get("/dossiers/{code}/documents/{kind}")
async def document(code: str, kind: DocumentKind, session: Session,
                   state: Annotated[ApiState, Depends(api_state)]) -> Response:
    """The PDF shown in the browser (inline), for the officers who may see the dossier."""
    allowed(session, "officer_view")
    await desk_view(state, session.principal, code, None)
    content, _ = await stored_document(state, code, kind)
    await record_reads(state.pool, session.principal, [code], Channel.DESK, "desk_document", kind=kind.value)
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{code}-{kind.value}.pdf"', "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff"})


@router.get("/dossiers/{code}/attachments/{sha256}")
async def attached_paper(code: str, sha256: Sha256, session: Session,
                         state: Annotated[ApiState, Depends(api_state)]) -> Response:
    """A paper the citizen attached, shown in the browser, for the officers who may see the dossier."""
    allowed(session, "officer_view")
    await desk_view(state, session.principal, code, None)
    paper = await paper_response(state, code, sha256)
    await record_reads(state.pool, session.principal, [code], Channel.DESK, "desk_attachment")
    return paper


def _decision(form: Form, dossier: DeskDossier) -> DecisionRequest:
    """The form's decision: a rejection's reason is the picked ground with its legal basis, then the officer's
    own words; a supplement's items are the ticked ones and the lines written in."""
    kind = form.get("decision")
    reason = None
    items: list[str] = []
    if kind == DecisionKind.REJECT:
        choices = grounds(dossier)
        picked = form.get("ground")
        if not (isinstance(picked, str) and picked.isdigit() and int(picked) < len(choices)):
            raise _form_problem("Hãy chọn một lý do từ chối trong danh sách căn cứ pháp lý.")
        ground = choices[int(picked)]
        own = str(form.get("reason_text") or "").strip()
        reason = f"{ground.message_vi or ground.message} (căn cứ: {ground.legal_basis})" + (f". {own}" if own else "")
    elif kind == DecisionKind.REQUEST_SUPPLEMENT:
        items = [str(item).strip() for item in form.getlist("item") if str(item).strip()]
        items += [line.strip() for line in str(form.get("other_items") or "").splitlines() if line.strip()]
        if not items:
            raise _form_problem("Hãy đánh dấu hoặc ghi ít nhất một giấy tờ cần bổ sung.")
    elif kind != DecisionKind.APPROVE:
        raise _form_problem("Hãy chọn một quyết định: phê duyệt, từ chối hoặc yêu cầu bổ sung.")
    return validated(DecisionRequest, _form_problem("Lý do tối đa 1000 ký tự, tối đa 20 giấy tờ, mỗi giấy tờ tối "
                                                    "đa 500 ký tự; hãy rút gọn rồi gửi lại."),
                     decision=DecisionKind(str(kind)), reason=reason, missing_items=tuple(items))


def _form_problem(detail_vi: str) -> Problem:
    return Problem(422, "invalid_request", "The decision is incomplete", "Quyết định chưa đầy đủ",
                   detail_vi=detail_vi + " Chưa có gì thay đổi trong hồ sơ.")


@router.post("/dossiers/{code}/decision")
async def decision(code: str, session: Session, form: Form, request: Request,
                   state: Annotated[ApiState, Depends(api_state)]) -> Response:
    allowed(session, "decide")
    take(request, session.principal)
    dossier = await desk_view(state, session.principal, code, None)
    body = _decision(form, dossier)
    if dossier.state != DossierState.AWAITING_DECISION:
        raise _not_waiting(code, dossier.state)
    # One decision per dossier per token id: each form sent is a request of its own.
    receipt = await decide(state, session.principal, code, body, f"{session.principal.token_id}:{uuid.uuid4().hex}")
    if not receipt.accepted:
        raise _not_waiting(code, receipt.state)
    await _moved_on(state, session, code)
    return RedirectResponse(f"/desk/dossiers/{code}?done={body.decision.value}", status_code=303)


async def _moved_on(state: ApiState, session: Session, code: str) -> None:
    """Wait a moment for the dossier to act on the decision it took (it leaves the state in its own time), so that
    the page the officer comes back to no longer offers to decide."""
    for _ in range(_SETTLE_POLLS):
        if (await desk_view(state, session.principal, code, None)).state != DossierState.AWAITING_DECISION:
            return
        await asyncio.sleep(_SETTLE_INTERVAL)


def _not_waiting(code: str, now: DossierState) -> Problem:
    return Problem(409, "decision_refused", "The dossier is not waiting for a decision", "Hồ sơ không còn chờ xử lý",
                   detail_vi=f"Hồ sơ {code} hiện ở trạng thái “{STATE_LABELS.get(now, now)}”, không còn chờ cán bộ "
                             "quyết định, nên quyết định chưa được ghi nhận. Hãy mở lại hồ sơ để xem ai đã xử lý, "
                             "hoặc quay lại hàng đợi.")
