"""The unit head's sign-off: the proposals of the unit's officers waiting for the head, and the head's answer.

For the procedures whose results the unit head signs (rule data, ``domain.rulesets.SignOffRules``), an officer's
approval is a proposal. The head (Trưởng Công an), or a deputy head the head authorised to sign for them, signs it
or returns it to the officer with a reason. No role of its own: a head signs in with the officer's or the
supervisor's role, and the roster in the database, read again at every request, says who may sign
(``cutru.clients.signoff``); the dossier itself refuses a signer who proposed the approval. The answer reaches the
workflow as an envelope signed like a decision (``domain.envelopes``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from cutru.api.officers import (
    Cursor,
    Limit,
    _decision_keys,
    _listing,
    _updated,
    _writable,
    officer_id_of,
    signed_write,
)
from cutru.api.problems import problem_responses, validated
from cutru.api.ratelimit import RATE_LIMITED, write_limit
from cutru.api.security import check_unit, forbidden, permit
from cutru.api.state import ApiState, api_state
from cutru.api.views import Page
from cutru.clients.officer import QueueItem
from cutru.clients.signoff import SignOffRequest, find_signer
from cutru.platform.oidc import Principal
from cutru.platform.signing import sign_now
from domain.models import DossierState, Signer, SignOff, SignOffReceipt
from workflows.lifecycle import SIGN_OFF_REFUSED

router = APIRouter(prefix="/v1/desk", tags=["officers"])

_READS = problem_responses(401, 403, 422)
_WRITES = {**problem_responses(401, 403, 404, 409, 422), **RATE_LIMITED}


async def signer_of(state: ApiState, principal: Principal, unit: str | None = None) -> Signer:
    """The caller as a signer, as the roster says now: 403 when they are not their unit's active head or an
    authorised deputy, or (``unit``) not of that unit."""
    officer_id = officer_id_of(principal)
    signer = await find_signer(state.pool, officer_id)
    if signer is None:
        raise forbidden(f"Officer {officer_id} is not an active head, or a deputy head authorised to sign, of a "
                        "unit: only they sign results.",
                        f"Cán bộ {officer_id} không phải Trưởng Công an hoặc Phó Trưởng Công an được ủy quyền ký "
                        "đang công tác: chỉ lãnh đạo đơn vị ký kết quả.")
    if unit is not None and signer.unit_code != unit:
        raise forbidden(f"Officer {officer_id} signs for {signer.unit_code}, not for {unit}.",
                        f"Cán bộ {officer_id} ký cho đơn vị {signer.unit_code}, không phải đơn vị {unit}.")
    return signer


async def proposals(state: ApiState, principal: Principal, *, limit: int | None, cursor: str | None,
                    ) -> Page[QueueItem]:
    """One page of the proposals waiting for the caller's signature (the API's and the web desk's)."""
    signer = await signer_of(state, principal)
    check_unit(principal, signer.unit_code)
    return await _listing(state, [signer.unit_code], None, limit=limit, cursor=cursor,
                          states=[DossierState.AWAITING_SIGN_OFF.value])


async def sign_off(state: ApiState, principal: Principal, code: str, body: SignOffRequest,
                   token_id: str) -> SignOffReceipt:
    """The caller's answer to a proposal, as the signer the roster holds now, signed for ``token_id`` and sent to
    the dossier (the API's and the web desk's); a Problem when anything refuses it."""
    unit, _ = await _writable(state, principal, code)
    signer = await signer_of(state, principal, unit)
    answer = validated(SignOff, signer=signer, decision=body.decision, reason=body.reason)
    signed = sign_now(_decision_keys(state), answer, code, token_id)
    return await _updated(state.dossiers.sign_off(code, signed), code, SIGN_OFF_REFUSED, "sign_off",
                          "ý kiến ký duyệt")


@router.get("/sign-offs", response_model=Page[QueueItem], responses=_READS, operation_id="desk_sign_offs",
            summary="Head: the unit's proposals waiting for your sign-off, overdue first, then by deadline")
async def desk_sign_offs(
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("sign_off"))],
    limit: Limit = None,
    cursor: Cursor = None,
) -> Page[QueueItem]:
    return await proposals(state, principal, limit=limit, cursor=cursor)


@router.post("/dossiers/{code}/sign-off", response_model=SignOffReceipt, responses=_WRITES,
             operation_id="desk_sign_off", dependencies=[write_limit("sign_off")],
             summary="Head: sign an officer's proposal (the result is issued in your name) or return it with a reason")
async def desk_sign_off(
    code: str,
    body: SignOffRequest,
    request: Request,
    state: Annotated[ApiState, Depends(api_state)],
    principal: Annotated[Principal, Depends(permit("sign_off"))],
) -> Response:
    return await signed_write(request, state, principal, code, body, sign_off)
