"""Operators: liveness and readiness (no token: the orchestrator's probes) and metrics (role ``operator``).

``/metrics`` is Prometheus text: requests by method, route template and status, and their latency histogram. It
is on the API's own port behind the operator role, so that one bind serves everything; a scraper uses client
credentials like any other service.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from cutru.api.problems import problem_responses
from cutru.api.security import permit
from cutru.api.state import State
from cutru.api.views import Health
from cutru.platform.oidc import Principal

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
