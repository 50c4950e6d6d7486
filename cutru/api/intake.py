"""Counter intake: an officer files a dossier online for a citizen who came to the station.

The commune police do this to move people onto the online service: the dossier is an online one in every respect
(online fee, the same workflow), with channel ``assisted`` and the filing officer recorded — both set here, from
the verified token, never from the body. The body is a submission as a portal sends it, without what the counter
decides: the code (``TQ.<commune>-<yymmdd>-<6 hex>``, made here unless given), the receipt time (now) and the
channel. The officer files for their own units and procedures only; a portal cannot file an assisted dossier.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import ValidationError
from temporalio.service import RPCError

from cutru.api.attachments import check_uploads
from cutru.api.idempotency import idempotent
from cutru.api.officers import officer_id_of
from cutru.api.portal import _WRITE_ERRORS, _check_scope, _json, _receipt, _rejected, submit
from cutru.api.problems import engine_unavailable, field_errors, problem_responses, validation_problem
from cutru.api.ratelimit import write_limit
from cutru.api.security import permit
from cutru.api.state import ApiState, State
from cutru.api.views import SubmitReceipt
from cutru.clients.client import SubmissionRejected, check_submission
from cutru.platform.oidc import Principal
from domain.calendar import local_date
from domain.models import SubmissionBase

router = APIRouter(prefix="/v1", tags=["officers"])

# What the counter sets, whatever the body says.
SERVER_SET = ("received_at", "channel", "filed_by")


def intake_code(police_unit: str, now: datetime) -> str:
    """A fresh dossier code for the counter: the unit's commune, the day, 24 random bits (a collision within a
    unit's day is one in 16 million per pair, and would answer ``already_submitted``, not file over another)."""
    return f"TQ.{police_unit.removeprefix('CA-')}-{local_date(now):%y%m%d}-{secrets.token_hex(3).upper()}"


def assisted(raw: dict[str, Any], officer_id: str, now: datetime) -> SubmissionBase:
    """The body as the assisted dossier the officer files now; a 422 problem naming each wrong field (without the
    procedure's tag: the form has one procedure), in English and Vietnamese."""
    filed = {key: value for key, value in raw.items() if key not in SERVER_SET}
    filed |= {"received_at": now.isoformat(), "channel": "assisted", "filed_by": officer_id}
    if not filed.get("dossier_code") and isinstance(raw.get("police_unit"), str):
        filed["dossier_code"] = intake_code(raw["police_unit"], now)
    try:
        return check_submission(filed, now)
    except SubmissionRejected as error:
        cause = error.__cause__
        if isinstance(cause, ValidationError):
            raise validation_problem(field_errors(cause.errors())) from error
        raise _rejected(error.errors) from error


async def file_at_counter(state: ApiState, principal: Principal,
                          raw: dict[str, Any]) -> tuple[SubmissionBase, bool]:
    """File ``raw`` as the token's officer (the API's and the desk's way alike): the dossier filed (recorded, and
    started at once or as soon as the engine can: ``cutru.api.portal.submit``), and whether it had been filed before
    (the same code again records nothing)."""
    officer_id = officer_id_of(principal)
    submission = assisted(raw, officer_id, datetime.now(UTC))
    _check_scope(principal, submission, assisted_by=officer_id)
    if submission.attachments:
        await check_uploads(state.pool, submission.attachments)
    try:
        already = await submit(state, submission)
    except RPCError as error:  # a stay notification's register out of reach
        raise engine_unavailable() from error
    return submission, already


@router.post(
    "/intake", operation_id="intake_dossier", dependencies=[write_limit("intake")], status_code=201,
    response_model=SubmitReceipt, summary="Officer: file a dossier at the counter for a citizen (channel assisted)",
    description="The body is a submission as a portal sends it (`schemas/workflow-input.<procedure>.json`); "
                "`dossier_code` may be left out (one is made), `received_at`, `channel` and `filed_by` are set "
                "here. Send an `Idempotency-Key` header (a UUID) to make a retry safe.",
    responses={200: {"model": SubmitReceipt, "description": "already submitted: the same dossier"},
               **_WRITE_ERRORS, **problem_responses(503)},
)
async def intake_dossier(
    raw: Annotated[dict[str, Any], Body(description="a submission, without received_at, channel and filed_by")],
    request: Request, state: State, principal: Annotated[Principal, Depends(permit("intake"))],
) -> Response:
    async def produce() -> Response:
        submission, already = await file_at_counter(state, principal, raw)
        return _json(_receipt(submission, already), 200 if already else 201)

    return await idempotent(request, state, principal, produce)
