"""The officers' and supervisors' desk: the unit's queue, one dossier, decisions, reassignment, escalations.

Who acts is the token's ``officer_id``, never a field of the request; the token's ``police_units`` bound what the
desk shows. At decision time the officer's record is read again from the database (active, of the dossier's unit),
and the decision reaches the workflow as an envelope signed with the API's decision key and the request's token id
(``domain.envelopes``); the workflow's validator refuses anything else. A decision the dossier refuses is a 409
problem that says why.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from cutru.api.idempotency import HEADER, idempotent
from cutru.api.problems import (
    Problem,
    dossier_not_found,
    field_errors,
    problem_responses,
    validated,
    validation_problem,
)
from cutru.api.ratelimit import RATE_LIMITED, write_limit
from cutru.api.security import check_procedure, check_readable, check_unit, forbidden, permit
from cutru.api.state import ApiState, api_state
from cutru.api.views import Page, bad_cursor, decode_cursor, encode_cursor
from cutru.clients.officer import (
    QUEUE_STATES,
    DecisionRequest,
    DeskDossier,
    Officer,
    QueueFilter,
    QueueItem,
    QueueState,
    ReassignmentRequest,
    dossier_row,
    find_officer,
    masked,
    queue,
)
from cutru.platform.oidc import ANY, Principal
from cutru.platform.reads import Channel, record_reads
from cutru.platform.signing import DecisionKeyRing, sign_now
from domain.calendar import WorkingCalendar
from domain.models import DecisionReceipt, DossierStatus, OfficerDecision, Reassignment
from workflows.lifecycle import DECISION_REFUSED, REASSIGNMENT_REFUSED

T = TypeVar("T")
B = TypeVar("B")

router = APIRouter(prefix="/v1/desk", tags=["officers"])

_CALENDAR = WorkingCalendar()
_READS = problem_responses(401, 403, 404, 422)
_MAX_OFFSET = 2**31 - 1  # what PostgreSQL's OFFSET takes; a cursor beyond it is not one this API gave
_WRITES = {**problem_responses(401, 403, 404, 409, 422), **RATE_LIMITED}


# ---------------------------------------------------------------------------------------------- scope


def officer_id_of(principal: Principal) -> str:
    if not principal.officer_id:
        raise forbidden("Your token names no officer (claim officer_id): sign in with your own officer account.",
                        "Tài khoản không gắn với cán bộ nào (officer_id): hãy đăng nhập bằng tài khoản cán bộ.")
    return principal.officer_id


def _units(principal: Principal, unit: str | None) -> list[str] | None:
    """The units a listing covers: the one asked for (when the token covers it), else every unit of the token."""
    if unit is not None:
        check_unit(principal, unit)
        return [unit]
    return None if ANY in principal.units else sorted(principal.units)


def _procedures(principal: Principal, procedure: str | None) -> list[str] | None:
    if procedure is not None:
        check_procedure(principal, procedure)
        return [procedure]
    return None if ANY in principal.procedures else sorted(principal.procedures)


async def _visible(state: ApiState, principal: Principal, code: str) -> tuple[str, str]:
    """The dossier's unit and applicant's name; 404 when it is not in the read model or not in the caller's scope."""
    row = await dossier_row(state.pool, code)
    if row is None:
        raise dossier_not_found(code)
    unit, procedure, applicant_name = row
    check_readable(principal, code, unit, procedure)
    return unit, applicant_name


async def _acting_officer(state: ApiState, principal: Principal, unit: str, *, supervisor: bool) -> Officer:
    """The caller's officer record as the database holds it now: active, of the dossier's unit (its supervisor)."""
    officer_id = officer_id_of(principal)
    officer = await find_officer(state.pool, officer_id)
    if officer is None or not officer.active:
        raise forbidden(f"Officer {officer_id} is not an active officer: ask the unit's supervisor.",
                        f"Cán bộ {officer_id} không còn hoạt động: liên hệ lãnh đạo đơn vị.")
    if officer.unit_code != unit:
        raise forbidden(f"Officer {officer_id} is not an officer of {unit}.",
                        f"Cán bộ {officer_id} không thuộc đơn vị {unit}.")
    if supervisor and officer.role != "supervisor":
        raise forbidden(f"Officer {officer_id} is not the supervisor of {unit}.",
                        f"Cán bộ {officer_id} không phải lãnh đạo đơn vị {unit}.")
    return officer


def _token_id(principal: Principal, request: Request) -> str:
    """Unique per request, and the same for a retry under one Idempotency-Key: the dossier takes one message per
    token id, so a retry that reaches the workflow twice is refused the second time."""
    return f"{principal.token_id}:{request.headers.get(HEADER) or uuid.uuid4().hex}"[:200]


def _decision_keys(state: ApiState) -> DecisionKeyRing:
    keys = state.dossiers.decision_keys
    if keys is None:  # load_api_settings refuses to start without them; an app built otherwise says so here
        raise Problem(503, "decisions_unavailable", "Decisions cannot be signed", "Chưa thể ký quyết định",
                      detail="The API holds no decision key (CUTRU_DECISION_KEYS); tell the operator.",
                      detail_vi="Hệ thống chưa có khóa ký quyết định; hãy báo quản trị viên.")
    return keys


def _refused(error: WorkflowUpdateFailedError, what: str, what_vi: str) -> Problem:
    cause = error.cause
    reason = cause.message if isinstance(cause, ApplicationError) else str(cause or error)
    return Problem(409, f"{what}_refused", f"The dossier refused the {what}", f"Hồ sơ không nhận {what_vi}",
                   detail=f"{reason}.", detail_vi=f"Hồ sơ không nhận {what_vi}: {reason}.")


def _json(model: Any) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"))



async def signed_write(request: Request, state: ApiState, principal: Principal, code: str, body: B,
                       write: Callable[[ApiState, Principal, str, B, str], Awaitable[Any]]) -> Response:
    """A route's signed message to the dossier (``write``, given the message's token id), answered once: a retry
    under the same Idempotency-Key gets the first answer again."""
    async def produce() -> Response:
        return _json(await write(state, principal, code, body, _token_id(principal, request)))

    return await idempotent(request, state, principal, produce)


# ---------------------------------------------------------------------------------------------- listings


Limit = Annotated[int | None, Query(ge=1, description="items per page (default CUTRU_API_PAGE_SIZE)")]
Cursor = Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")]


def _page(state: ApiState, limit: int | None, cursor: str | None) -> tuple[int, int]:
    size = limit or state.settings.page_size
    if size > state.settings.max_page_size:
        raise validation_problem(field_errors([{
            "loc": ("query", "limit"), "type": "less_than_equal",
            "msg": f"Input should be less than or equal to {state.settings.max_page_size}"}]))
    offset = 0
    if cursor is not None:
        values = decode_cursor(cursor)
        if len(values) != 1 or not isinstance(values[0], int) or isinstance(values[0], bool) \
                or not 0 <= values[0] <= _MAX_OFFSET:
            raise bad_cursor()
        offset = values[0]
    return size, offset


async def _listing(state: ApiState, units: list[str] | None, procedures: list[str] | None, *, limit: int | None,
                   cursor: str | None, states: Sequence[str] = QUEUE_STATES, assigned_to: str | None = None,
                   due_by: datetime | None = None, search: str | None = None) -> Page[QueueItem]:
    size, offset = _page(state, limit, cursor)
    # One more than the page: whether a next page exists, without counting.
    items = await queue(state.pool, units, procedures=procedures, states=states, assigned_to=assigned_to,
                        due_by=due_by, search=search, limit=size + 1, offset=offset)
    following = encode_cursor([offset + size]) if len(items) > size else None
    return Page[QueueItem](items=items[:size], next_cursor=following)


@router.get("/queue", response_model=Page[QueueItem], responses=_READS, operation_id="desk_queue",
            summary="The unit's dossiers awaiting a decision or a supplement: overdue first, then by deadline")
async def desk_queue(
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("officer_queue"))],
    unit: Annotated[str | None, Query(pattern=r"^CA-[0-9]{5}$", description="one of your units")] = None,
    procedure: Annotated[str | None, Query(max_length=80, description="workflow type")] = None,
    status: Annotated[QueueState | None, Query(alias="state")] = None,
    mine: Annotated[bool, Query(description="only the dossiers assigned to me")] = False,
    q: Annotated[str | None, Query(min_length=1, max_length=100,
                                   description="a dossier code, or part of the applicant's name")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> Page[QueueItem]:
    # A 422 for text no dossier or name could carry (control characters).
    chosen = validated(QueueFilter, unit=unit, procedure=procedure, state=status, mine=mine, q=q)
    listing = await unit_queue(state, principal, chosen, limit=limit, cursor=cursor)
    await listed(state, principal, listing, Channel.API, "desk_queue")
    return listing


async def listed(state: ApiState, principal: Principal, listing: Page[QueueItem], channel: Channel,
                 operation: str) -> None:
    """A listing shows each dossier's applicant: a read of every dossier on the page."""
    await record_reads(state.pool, principal, [item.dossier_code for item in listing.items], channel, operation)


async def unit_queue(state: ApiState, principal: Principal, chosen: QueueFilter, *, limit: int | None,
                     cursor: str | None) -> Page[QueueItem]:
    """One page of the caller's queue as ``chosen`` narrows it (the API's and the web desk's)."""
    return await _listing(state, _units(principal, chosen.unit), _procedures(principal, chosen.procedure),
                          limit=limit, cursor=cursor, states=[chosen.state] if chosen.state else QUEUE_STATES,
                          assigned_to=officer_id_of(principal) if chosen.mine else None, search=chosen.q)


@router.get("/escalations", response_model=Page[QueueItem], responses=_READS, operation_id="desk_escalations",
            summary="Supervisor: the unit's dossiers overdue or due within one working day")
async def desk_escalations(
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("escalations"))],
    unit: Annotated[str | None, Query(pattern=r"^CA-[0-9]{5}$", description="one of your units")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> Page[QueueItem]:
    listing = await escalations(state, principal, unit, limit=limit, cursor=cursor)
    await listed(state, principal, listing, Channel.API, "desk_escalations")
    return listing


async def escalations(state: ApiState, principal: Principal, unit: str | None, *, limit: int | None,
                      cursor: str | None) -> Page[QueueItem]:
    """One page of the dossiers overdue or due within one working day (the API's and the web desk's)."""
    due_by = _CALENDAR.add_working_days(datetime.now(UTC), 1)
    return await _listing(state, _units(principal, unit), _procedures(principal, None), limit=limit, cursor=cursor,
                          due_by=due_by)


# ---------------------------------------------------------------------------------------------- one dossier


@router.get("/dossiers/{code}", response_model=DeskDossier, responses=_READS, operation_id="desk_dossier",
            summary="One dossier of your unit in full: state, deadline, findings, papers, trail (ID numbers masked)")
async def desk_dossier(
    code: str,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("officer_view"))],
) -> DeskDossier:
    return await desk_view(state, principal, code, Channel.API)


async def desk_view(state: ApiState, principal: Principal, code: str, shown: Channel | None) -> DeskDossier:
    """The dossier as the workflow reports it now, ID numbers masked; 404 outside the caller's scope. The read is
    recorded as one through ``shown`` (None: a check whose answer no one is shown, such as a decision's)."""
    status, applicant_name = await dossier_status(state, principal, code)
    if shown is not None:
        await record_reads(state.pool, principal, [code], shown, "desk_dossier")
    return masked(status, applicant_name)


async def dossier_status(state: ApiState, principal: Principal, code: str) -> tuple[DossierStatus, str]:
    """The dossier as the workflow reports it now, nothing masked, and its applicant's name; 404 outside the
    caller's scope. Not for showing: what the desk shows of it is ``desk_view``'s."""
    _, applicant_name = await _visible(state, principal, code)
    try:
        return await state.dossiers.status(code), applicant_name
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise dossier_not_found(code) from error
        raise


@router.post("/dossiers/{code}/decision", response_model=DecisionReceipt, responses=_WRITES,
             operation_id="desk_decide", dependencies=[write_limit("decide")],
             summary="Approve, reject (with a reason) or request a supplement (with the missing items)")
async def desk_decide(
    code: str,
    body: DecisionRequest,
    request: Request,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("decide"))],
) -> Response:
    return await signed_write(request, state, principal, code, body, decide)


async def decide(state: ApiState, principal: Principal, code: str, body: DecisionRequest,
                 token_id: str) -> DecisionReceipt:
    """The caller's decision, as the officer the database holds now, signed for ``token_id`` and sent to the
    dossier (the API's and the web desk's); a Problem when anything refuses it."""
    unit, _ = await _writable(state, principal, code)
    officer = await _acting_officer(state, principal, unit, supervisor=False)
    decision = validated(OfficerDecision, officer_id=officer.officer_id, decision=body.decision, reason=body.reason,
                         missing_items=body.missing_items or tuple(entry.item for entry in body.checklist),
                         checklist=body.checklist)
    signed = sign_now(_decision_keys(state), decision, code, token_id)
    return await _updated(state.dossiers.decide(code, signed), code, DECISION_REFUSED, "decision", "quyết định")


@router.post("/dossiers/{code}/reassignment", response_model=DeskDossier, responses=_WRITES,
             operation_id="desk_reassign", dependencies=[write_limit("reassign")],
             summary="Supervisor: give the dossier to another officer of the unit")
async def desk_reassign(
    code: str,
    body: ReassignmentRequest,
    request: Request,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("reassign"))],
) -> Response:
    return await signed_write(request, state, principal, code, body, reassign)


async def reassign(state: ApiState, principal: Principal, code: str, body: ReassignmentRequest,
                   token_id: str) -> DeskDossier:
    """The supervisor's reassignment, checked against the database now, signed for ``token_id`` and sent to the
    dossier (the API's and the web desk's); a Problem when anything refuses it."""
    unit, applicant_name = await _writable(state, principal, code)
    supervisor = await _acting_officer(state, principal, unit, supervisor=True)
    # The dossier checks its roster as it was at acceptance; the database says who is active now.
    target = await find_officer(state.pool, body.officer_id)
    if target is None or not target.active or target.unit_code != unit:
        raise Problem(409, "reassignment_refused", "The reassignment is refused", "Không thể phân công lại",
                      detail=f"{body.officer_id} is not an active officer of {unit}.",
                      detail_vi=f"{body.officer_id} không phải cán bộ đang công tác tại đơn vị {unit}.")
    reassignment = Reassignment(supervisor_id=supervisor.officer_id, officer_id=body.officer_id, reason=body.reason)
    signed = sign_now(_decision_keys(state), reassignment, code, token_id)
    status = await _updated(state.dossiers.reassign(code, signed), code, REASSIGNMENT_REFUSED,
                            "reassignment", "việc phân công lại")
    return masked(status, applicant_name)


async def _updated(update: Awaitable[T], code: str, refused_type: str, what: str, what_vi: str) -> T:
    """The update's answer; the dossier's refusal (``refused_type``) as 409, a dossier gone as 404."""
    try:
        return await update
    except WorkflowUpdateFailedError as error:
        if isinstance(error.cause, ApplicationError) and error.cause.type == refused_type:
            raise _refused(error, what, what_vi) from error
        raise
    except RPCError as error:
        raise _not_found_or(error, code) from error


async def _writable(state: ApiState, principal: Principal, code: str) -> tuple[str, str]:
    """A write: 404 for no dossier; 403 for a dossier outside the caller's units or procedures."""
    row = await dossier_row(state.pool, code)
    if row is None:
        raise dossier_not_found(code)
    unit, procedure, applicant_name = row
    check_unit(principal, unit)
    check_procedure(principal, procedure)
    return unit, applicant_name


def _not_found_or(error: RPCError, code: str) -> Exception:
    """A closed dossier answers an update with NOT_FOUND: it takes no decision any more."""
    if error.status == RPCStatusCode.NOT_FOUND:
        return Problem(409, "dossier_closed", "The dossier is closed", "Hồ sơ đã kết thúc",
                       detail=f"Dossier {code} is closed and takes no decision.",
                       detail_vi=f"Hồ sơ {code} đã kết thúc, không nhận quyết định.")
    return error
