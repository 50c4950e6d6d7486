"""The auditor's pages: the search of closed dossiers, a dossier's decision trail with who read it, the replay
verdict, and the history export.

Each calls the API's own auditor functions (``cutru.api.auditors``) with the desk as the channel, so the trail,
the replay and the export are recorded as reads of the dossier's personal data like the API's.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from cutru.api.auditors import ClosedSearch, history_export, replay_report, search_closed, trail
from cutru.api.desk.guard import DeskRoute, Session, allowed
from cutru.api.desk.pages import refusal_words
from cutru.api.desk.render import page
from cutru.api.desk.wording import procedure_name
from cutru.api.problems import Problem, validated
from cutru.api.state import ApiState, api_state
from cutru.platform.oidc import Role
from cutru.platform.reads import Channel
from domain.kinds import Procedure

router = APIRouter(prefix="/desk/audit", route_class=DeskRoute, include_in_schema=False)

PAGE_SIZE = 30
OUTCOMES = ("completed", "refused", "withdrawn", "cancelled")
PROCEDURES = sorted((procedure.value for procedure in Procedure), key=procedure_name)
CHANNEL_LABELS = {Channel.API: "API", Channel.DESK: "Bàn làm việc", Channel.CODEC: "Giải mã (Temporal)"}
ROLE_LABELS = {Role.PORTAL: "Cổng dịch vụ công", Role.PAYMENT_GATEWAY: "Cổng thanh toán", Role.OFFICER: "Cán bộ",
               Role.SUPERVISOR: "Lãnh đạo đơn vị", Role.AUDITOR: "Kiểm tra viên", Role.OPERATOR: "Quản trị hệ thống"}
# What was read, by the recorded operation (the API's operation id, the desk page); another shows its own name.
OPERATION_LABELS = {
    "audit_trail": "Xem nhật ký", "audit_replay": "Phát lại lịch sử", "audit_history": "Tải gói lịch sử",
    "desk_dossier": "Xem hồ sơ", "desk_document": "Xem giấy tờ", "desk_draft": "Xem dự thảo kết quả",
    "desk_attachment": "Xem giấy tờ đính kèm",
    "desk_queue": "Hàng đợi", "queue": "Hàng đợi",
    "desk_escalations": "Danh sách quá hạn", "supervise": "Trang giám sát", "get_document": "Tải giấy tờ",
    "decode": "Giải mã dữ liệu",
}

_INVALID_SEARCH = Problem(400, "invalid_request", "The search is invalid", "Điều kiện tìm kiếm không hợp lệ",
                          detail_vi="Mã hồ sơ tối đa 64 ký tự, đơn vị dạng CA-xxxxx, ngày bắt đầu không sau ngày "
                                    "kết thúc; hãy sửa lại rồi bấm Tìm.")


@router.get("")
async def search_page(
    request: Request,
    session: Session,
    state: Annotated[ApiState, Depends(api_state)],
    code: Annotated[str | None, Query(max_length=64)] = None,
    procedure: Annotated[str | None, Query(max_length=80)] = None,
    unit: Annotated[str | None, Query(max_length=20)] = None,
    since: Annotated[date | None, Query()] = None,
    until: Annotated[date | None, Query()] = None,
    outcome: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    allowed(session, "audit_search")
    chosen = validated(ClosedSearch, _INVALID_SEARCH, code=(code or "").strip() or None, procedure=procedure or None,
                       unit=(unit or "").strip().upper() or None, since=since, until=until, outcome=outcome or None)
    found = await search_closed(state, session.principal, chosen, limit=PAGE_SIZE, cursor=cursor)
    return page(request, "audit_search.html", found=found, chosen=chosen, procedures=PROCEDURES, outcomes=OUTCOMES,
                filter_query=urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]),
)


@router.get("/dossiers/{code}")
async def trail_page(code: str, request: Request, session: Session,
                     state: Annotated[ApiState, Depends(api_state)]) -> Response:
    allowed(session, "audit_trail")
    found = await trail(state, session.principal, code, Channel.DESK)
    return page(request, "audit_trail.html", trail=found, channels=CHANNEL_LABELS, operations=OPERATION_LABELS,
                role_labels=ROLE_LABELS, refusals=await _refusal_words(state, code))


@router.get("/dossiers/{code}/replay")
async def replay_page(code: str, request: Request, session: Session,
                      state: Annotated[ApiState, Depends(api_state)]) -> Response:
    allowed(session, "audit_replay")
    report = await replay_report(state, session.principal, code, Channel.DESK)
    return page(request, "audit_replay.html", code=code, report=report, refusals=await _refusal_words(state, code))


async def _refusal_words(state: ApiState, code: str) -> dict[str, str]:
    """The Vietnamese of the dossier's refusal messages (the trail records them in English), from the dossier
    itself (the caller's right to read it already checked); none once its history is gone."""
    try:
        return refusal_words((await state.dossiers.status(code)).refusals)
    except (RPCError, WorkflowQueryFailedError):  # gone, or a history this code cannot replay
        return {}


@router.get("/dossiers/{code}/history")
async def history(code: str, session: Session, state: Annotated[ApiState, Depends(api_state)]) -> Response:
    allowed(session, "audit_export")
    return await history_export(state, session.principal, code, Channel.DESK)
