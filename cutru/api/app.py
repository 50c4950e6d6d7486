"""The API application: ``create_app(settings)`` for uvicorn (``cutru api``) and for tests.

FastAPI, because the OpenAPI 3.1 document comes from the same pydantic models the domain already validates with
(the submissions, the messages), so the contract cannot drift from the code; its dependency injection carries the
authorisation (``cutru.api.security``); and it runs on uvicorn like the codec server.

The lifespan connects to Temporal (``DossierClient``), opens the database pool and discovers the OIDC issuer; a
verifier may be injected instead (tests). It runs the intake outbox's sweeper (``cutru.api.outbox``) while it lasts.
Middleware, outermost first: request metrics, then the body size limit.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.service import RPCError, RPCStatusCode

from cutru.api import (
    attachments,
    auditors,
    desk,
    events,
    inbox,
    intake,
    notifications,
    officers,
    operators,
    payments,
    portal,
    public,
    signoff,
    statistics,
    supervisors,
    verification,
)
from cutru.api.outbox import IntakeOutbox
from cutru.api.problems import (
    PROBLEM_JSON,
    dossier_not_found,
    engine_unavailable,
    payload_too_large,
    problem_response,
    status_problem,
)
from cutru.api.problems import install as install_problems
from cutru.api.settings import ApiSettings
from cutru.api.state import ApiState, RequestMetrics, Verifier
from cutru.clients.client import DossierClient
from cutru.platform.config import PROJECT_ROOT
from cutru.platform.oidc import TokenVerifier
from cutru.platform.storage import open_scanner, open_store
from cutru.platform.temporal import CONNECTION_RECYCLED, connect
from cutru.service.worker import database_pool

OPENAPI_FILE = PROJECT_ROOT / "schemas" / "openapi.json"
PROBLEM_REF = "#/components/schemas/ProblemDetails"
VALIDATION_REF = "#/components/schemas/HTTPValidationError"  # FastAPI's 422, which the problem handler replaces
VERSION = "1.0.0"
DESCRIPTION = """The one authenticated front door of cutru, Vietnam's online residence procedures.

Every error is `application/problem+json` (RFC 9457) with a stable `code`, in English or, with
`Accept-Language: vi`, in Vietnamese (both always present as `title_en`/`title_vi`, `detail_en`/`detail_vi`).
Every write takes an `Idempotency-Key` header. Lists page with `?limit=&cursor=` and answer `{items, next_cursor}`.
"""


class BodyLimit:
    """413 for a request body over ``limit`` bytes: a declared Content-Length over it is refused at once, and the
    bytes actually streamed are counted, so a missing or false Content-Length does not get past.

    Not for the upload (``POST /v1/attachments``), which streams its body to disk under a limit of its own."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "POST" and scope["path"] == attachments.UPLOAD_PATH):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            response = problem_response(Request(scope), payload_too_large(self.limit))
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException passes FastAPI's body parsing unchanged, to the problem handler.
                    problem = payload_too_large(self.limit)
                    raise StarletteHTTPException(413, detail=problem.detail)
            return message

        await self.app(scope, counted, send)


class Metrics:
    """Counts each answer by method, route template (not the raw path: codes would explode the label set) and
    status, with its latency."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            self.metrics.observe(scope["method"], getattr(route, "path", "unmatched"), status,
                                 time.perf_counter() - started)


# The engine's answers that a moment later may be different.
_ENGINE_AWAY = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED,
                CONNECTION_RECYCLED)


async def _on_rpc_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RPCError)
    if error.status in _ENGINE_AWAY:
        return problem_response(request, engine_unavailable())
    if error.status == RPCStatusCode.FAILED_PRECONDITION:
        # A query no worker picked up ("no poller seen for task queue recently"): none runs at the moment.
        return problem_response(request, status_problem(
            503, "No worker is answering for the dossiers; try again shortly.", {"Retry-After": "5"},
            detail_vi="Chưa có tiến trình nào xử lý hồ sơ; vui lòng thử lại sau ít phút."))
    code = request.path_params.get("code")
    if error.status == RPCStatusCode.NOT_FOUND and request.method == "GET" and code is not None:
        # The read model lists the dossier but Temporal holds its workflow no longer (past the retention).
        return problem_response(request, dossier_not_found(code))
    raise error


async def _on_database_down(request: Request, error: Exception) -> JSONResponse:
    return problem_response(request, status_problem(
        503, "The database is unavailable; try again shortly.", {"Retry-After": "2"},
        detail_vi="Cơ sở dữ liệu tạm thời không sẵn sàng; vui lòng thử lại sau ít phút."))


def _problems_everywhere(document: dict[str, Any]) -> None:
    """Make the generated document say what the app does: every error answer is problem+json
    (``ProblemDetails``), and every operation lists the errors any operation of its kind can give (a body: 400,
    413, 422; parameters: 422; a path parameter: 404; a token: 401, 403; always 500 and 503), but for an answer
    the route declares with a model of its own.

    Also: a submission's ``procedure`` tag is required (the union is told apart by it), though each model gives
    it a default."""
    schemas = document["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for schema in schemas.values():
        tag = schema.get("properties", {}).get("procedure", {})
        if "const" in tag and "procedure" not in schema.get("required", []):
            schema["required"] = ["procedure", *schema.get("required", [])]
    problem = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    for operations in document["paths"].values():
        for operation in operations.values():
            statuses = {"500", "503"}
            parameters = operation.get("parameters", [])
            if operation.get("requestBody"):
                statuses |= {"400", "413", "422"}
            if parameters:
                statuses.add("422")
            if any(parameter["in"] == "path" for parameter in parameters):
                statuses.add("404")
            if operation.get("security"):
                statuses |= {"401", "403"}
            responses = operation["responses"]
            for status in statuses:
                responses.setdefault(status, {"description": status_problem(int(status)).title})
            for status, answer in responses.items():
                # An error answer a route declares with a model of its own keeps what the route says: the payment
                # return page's (HTML, or JSON on request), readiness's 503 (its checks).
                if status[0] in "45" and not any(
                        media.get("schema", {}).get("$ref", PROBLEM_REF) not in (PROBLEM_REF, VALIDATION_REF)
                        for media in answer.get("content", {}).values()):
                    answer["content"] = problem


def create_app(settings: ApiSettings, *, verifier: Verifier | None = None) -> FastAPI:
    metrics = RequestMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if verifier is None and settings.oidc is None:
            raise RuntimeError("no OIDC settings and no token verifier: the API cannot authenticate anyone")
        client = await connect(settings.core)
        core = settings.core
        pool = await database_pool(core.database_url, core.database_pool_size, core.database)
        try:
            token_verifier = verifier if verifier is not None else await TokenVerifier.discover(settings.oidc)  # type: ignore[arg-type]
            dossiers = DossierClient(client, settings.core.task_queue, settings.decision_keys)
            outbox = IntakeOutbox.of(pool, dossiers)
            app.state.api = ApiState(dossiers, pool, settings, token_verifier, open_store(settings.attachments),
                                     open_scanner(settings.attachments), outbox, metrics)
            sweeper = asyncio.create_task(outbox.run())
            try:
                yield
            finally:
                sweeper.cancel()
                await asyncio.gather(sweeper, return_exceptions=True)
                await outbox.close()
                if verifier is None:
                    await token_verifier.aclose()
        finally:
            await pool.close()

    app = FastAPI(title="cutru API", version=VERSION, description=DESCRIPTION, lifespan=lifespan,
                  openapi_tags=[
                      {"name": "public",
                       "description": "procedure information, blank forms, document verification; no token"},
                      {"name": "portal", "description": "portal backends (client credentials, role portal)"},
                      {"name": "payments", "description": "payment gateways (role payment_gateway)"},
                      {"name": "officers", "description": "officers and supervisors"},
                      {"name": "auditors", "description": "auditors"},
                      {"name": "operators", "description": "probes, metrics and event subscriptions"},
                  ])
    install_problems(app)
    app.add_exception_handler(RPCError, _on_rpc_error)
    app.add_exception_handler(asyncpg.PostgresConnectionError, _on_database_down)
    app.add_exception_handler(asyncpg.CannotConnectNowError, _on_database_down)
    app.add_exception_handler(ConnectionError, _on_database_down)
    # A statement bounded by the pool's timeouts (a database that stops answering, or one too slow to answer):
    # the client's command timeout, or the server's statement or lock timeout.
    app.add_exception_handler(TimeoutError, _on_database_down)
    app.add_exception_handler(asyncpg.QueryCanceledError, _on_database_down)
    app.add_exception_handler(asyncpg.LockNotAvailableError, _on_database_down)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(Metrics, metrics=metrics)  # added last: outermost, so it sees the 413s too
    for module in (public, verification, portal, attachments, payments, officers, signoff, intake, supervisors,
                   statistics, inbox, auditors, operators, events, notifications):
        app.include_router(module.router)
    app.include_router(attachments.desk_router)
    desk.mount(app)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _problems_everywhere(generate())  # generate() caches the document in app.openapi_schema
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, independent of any environment (default settings, nothing connected)."""
    document: dict[str, Any] = create_app(ApiSettings()).openapi()
    return document


def render_openapi() -> str:
    return json.dumps(openapi_document(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def openapi_stale(path: Path = OPENAPI_FILE) -> bool:
    return not path.exists() or path.read_text(encoding="utf-8") != render_openapi()


def write_openapi(path: Path = OPENAPI_FILE) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_text(render_openapi(), encoding="utf-8")
