"""Operators: liveness and readiness (no token: the orchestrator's probes), metrics, and closing a dossier that
cannot proceed (role ``operator``).

``/metrics`` is Prometheus text: requests by method, route template and status, and their latency histogram. It
is on the API's own port behind the operator role, so that one bind serves everything; a scraper uses client
credentials like any other service.

``POST /v1/operations/dossiers/{code}/closure`` ends a dossier with a reason (a step failing for good, a dossier
opened in error): the API signs the closure with the operator's token id and subject, as it signs an officer's
decision, and the dossier's ``close`` update refuses anything else; the dossier ends cancelled, the reason and the
operator in its trail and the audit table (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from cutru.api.idempotency import idempotent
from cutru.api.officers import _decision_keys, _json, _token_id, _updated
from cutru.api.problems import dossier_not_found, problem_responses
from cutru.api.ratelimit import RATE_LIMITED, write_limit
from cutru.api.security import permit
from cutru.api.state import State
from cutru.api.views import ClosureReceipt, ClosureRequest, Health
from cutru.clients.officer import dossier_row
from cutru.platform.oidc import Principal
from cutru.platform.signing import sign_now
from domain.models import Closure
from workflows.lifecycle import CLOSE_REFUSED

router = APIRouter(tags=["operators"])

READY_TIMEOUT = 2.0


@router.get("/livez", operation_id="livez", response_model=Health, summary="The process is up")
async def livez() -> Health:
    return Health(status="ok")


@router.get("/readyz", operation_id="readyz", response_model=Health,
            responses={503: {"model": Health, "description": "a dependency is unreachable"}},
            summary="The database and Temporal are reachable")
async def readyz(state: State) -> Response:
    checks: dict[str, str] = {}

    async def database() -> None:
        await state.pool.fetchval("SELECT 1")

    async def temporal() -> None:
        await state.dossiers.client.service_client.check_health()

    for name, probe in (("database", database), ("temporal", temporal)):
        try:
            await asyncio.wait_for(probe(), READY_TIMEOUT)
            checks[name] = "ok"
        except Exception as error:  # noqa: BLE001 (any failure of a probe means not ready; it is reported)
            checks[name] = f"unavailable: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(Health(status="ok" if ready else "unavailable", checks=checks).model_dump(),
                        status_code=200 if ready else 503)


@router.get("/metrics", operation_id="metrics", response_class=PlainTextResponse,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition"}, **problem_responses(401, 403)},
            summary="Prometheus metrics")
async def metrics(state: State,
                  _: Annotated[Principal, Depends(permit("metrics"))]) -> PlainTextResponse:
    return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4")


@router.post("/v1/operations/dossiers/{code}/closure", operation_id="close_dossier", response_model=ClosureReceipt,
             dependencies=[write_limit("close_dossier")],
             responses={**problem_responses(401, 403, 404, 409, 422), **RATE_LIMITED},
             summary="Operator: end a dossier that cannot proceed, with a reason (it ends cancelled)")
async def close_dossier(code: str, body: ClosureRequest, request: Request, state: State,
                        principal: Annotated[Principal, Depends(permit("close_dossier"))]) -> Response:
    async def produce() -> Response:
        if await dossier_row(state.pool, code) is None:
            raise dossier_not_found(code)
        closure = Closure(operator_id=principal.subject[:200], reason=body.reason)
        signed = sign_now(_decision_keys(state), closure, code, _token_id(principal, request))
        status = await _updated(state.dossiers.close(code, signed), code, CLOSE_REFUSED, "closure",
                                "yêu cầu đóng hồ sơ")
        return _json(ClosureReceipt(dossier_code=code, state=status.state, closed_by=closure.operator_id,
                                    reason=body.reason))

    return await idempotent(request, state, principal, produce)
