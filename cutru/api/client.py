"""A small typed client of the cutru API: what the ``cutru officer`` and ``cutru audit`` commands call.

    async with ApiClient.from_env() as api:
        items = await api.queue()
        receipt = await api.decide("HS-2026-000001", DecisionRequest(decision=DecisionKind.APPROVE))

The environment:

    CUTRU_API_URL                      the API (default http://127.0.0.1:8000)
    CUTRU_API_TOKEN                    a bearer token, sent as it is (e.g. from `cutru officer login`)
    CUTRU_CLIENT_ID, CUTRU_CLIENT_SECRET
                                       a service's client credentials: the token comes from the issuer's token
                                       endpoint (grant client_credentials)
    CUTRU_OIDC_ISSUER                  the issuer whose discovery document names the endpoints
    CUTRU_OIDC_AUDIENCE                the API's audience, asked for as the resource indicator (RFC 8707)
    CUTRU_OIDC_CLIENT                  the public client an officer signs in with (default cutru-cli)
    LANG                               vi_VN...: the API's problems in Vietnamese (English otherwise)

Without a token or client credentials, the command signs the officer in itself: authorization code with PKCE
(RFC 7636) and a loopback redirect (RFC 8252), printing the address to open in a browser on stderr and waiting for
the provider to send the browser back to 127.0.0.1.

An error answer (RFC 9457 problem+json) raises ``ApiError``, whose text is one line; a connection that fails raises
``ApiUnreachable``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from pydantic import BaseModel, Field, TypeAdapter

from cutru.api.views import ClosureReceipt, ClosureRequest
from cutru.clients.officer import DecisionRequest, DeskDossier, QueueItem, ReassignmentRequest
from cutru.clients.signoff import SignOffRequest
from domain.models import Boundary, DecisionReceipt, SignOffReceipt, TrailEntry

if TYPE_CHECKING:  # the replayer's module imports every workflow: only `cutru audit replay` needs it
    from cutru.clients.audit import ReplayReport

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_CLI_CLIENT = "cutru-cli"
LOGIN_TIMEOUT = 300.0  # seconds an officer has to sign in in the browser

_T = TypeVar("_T", bound=BaseModel)


class ApiError(Exception):
    """The API answered with an error: its HTTP status and problem details (RFC 9457)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", ""))
        super().__init__(self.line())

    def line(self) -> str:
        """The problem in one line: its detail, then each field error."""
        detail = str(self.problem.get("detail") or self.problem.get("title") or f"HTTP {self.status}")
        fields = [f"{e.get('field')}: {e.get('message')}" for e in self.problem.get("errors") or ()
                  if isinstance(e, dict)]
        return " ".join("; ".join([detail, *fields]).split())


class ApiUnreachable(Exception):
    """The API (or the issuer) could not be reached."""


class LoginError(Exception):
    """Signing in did not give a token: the message says why."""


class DossierRead(Boundary):
    """One read of the dossier's personal data: who (token subject, officer, roles), when, through what."""

    at: datetime
    subject: str
    officer_id: str | None
    roles: tuple[str, ...]
    channel: str
    operation: str


class SupersededEntry(TrailEntry):
    """An audit row written by a workflow task that was lost (its worker killed before the task completed): the
    dossier's history does not hold it, or holds another entry under its key (docs/reliability.md)."""

    reason: Literal["not_in_history", "differs_from_history"]


class AuditTrail(Boundary):
    """A dossier's decision trail as the audit table recorded it (who, when, what, why), in order; and who read
    the dossier's personal data, this read included."""

    dossier_code: str
    police_unit: str
    entries: tuple[TrailEntry, ...]
    superseded: tuple[SupersededEntry, ...] = Field(
        default=(), description="rows a lost workflow task wrote that the history does not hold: not the trail, "
                                "shown as what happened")
    reads: tuple[DossierRead, ...] = ()
    source: Literal["audit_table"] = Field(
        default="audit_table", description="where the trail comes from: the audit table, cutru's own, which answers "
                                           "the same after Temporal's retention")


_QUEUE = TypeAdapter(list[QueueItem])


# ---------------------------------------------------------------------------------------------- tokens


def _discovery(http: httpx.Client, issuer: str) -> dict[str, Any]:
    answer = http.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if answer.status_code != 200:
        raise LoginError(f"no discovery document at {issuer} (HTTP {answer.status_code}): check CUTRU_OIDC_ISSUER")
    document: dict[str, Any] = answer.json()
    return document


async def discover(http: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    """The issuer's discovery document (its endpoints); LoginError when it has none."""
    try:
        answer = await http.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
    except httpx.HTTPError as error:
        raise LoginError(f"the issuer {issuer} is unreachable ({type(error).__name__})") from error
    if answer.status_code != 200:
        raise LoginError(f"no discovery document at {issuer}: check CUTRU_OIDC_ISSUER")
    document: dict[str, Any] = answer.json()
    return document


def token_from(answer: httpx.Response) -> str:
    body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
    if answer.status_code != 200 or "access_token" not in body:
        reason = body.get("error_description") or body.get("error") or f"HTTP {answer.status_code}"
        raise LoginError(f"the issuer refused the token request: {reason}")
    return str(body["access_token"])


def client_credentials_token(issuer: str, client_id: str, secret: str, audience: str | None) -> str:
    """A service's access token (grant client_credentials) from the issuer's token endpoint."""
    with httpx.Client(timeout=10) as http:
        endpoint = _discovery(http, issuer)["token_endpoint"]
        form = {"grant_type": "client_credentials", **({"resource": audience} if audience else {})}
        return token_from(http.post(endpoint, data=form, auth=(client_id, secret)))


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def _callback(state: str) -> tuple[str, asyncio.Server, asyncio.Future[str]]:
    """A one-shot HTTP listener on a free loopback port: the redirect URI, and the code it will receive."""
    received: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode("latin-1").split()
        query = parse_qs(urlsplit(request_line[1]).query) if len(request_line) > 1 else {}
        if query.get("state") != [state]:
            page, outcome = "Sign-in answer not recognised.", None
        elif "code" in query:
            page, outcome = "Signed in: you can close this window and return to the terminal.", query["code"][0]
        else:
            page, outcome = "Sign-in refused: " + "; ".join(query.get("error_description") or query.get("error")
                                                            or ["no code"]), None
            if not received.done():
                received.set_exception(LoginError(page))
        body = page.encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        writer.close()
        if outcome is not None and not received.done():
            received.set_result(outcome)

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}/callback", server, received


async def login(issuer: str, client_id: str, audience: str | None, *, show: Callable[[str], None] | None = None,
                timeout: float = LOGIN_TIMEOUT) -> str:
    """An officer's access token by authorization code + PKCE: ``show`` gets the address to open (stderr by
    default); the provider sends the browser back to a listener on 127.0.0.1 that takes the code."""
    tell = show or _tell_stderr
    async with httpx.AsyncClient(timeout=10) as http:
        discovery = await discover(http, issuer)
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        redirect_uri, server, received = await _callback(state)
        try:
            query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                     "scope": "openid", "state": state, "code_challenge": challenge,
                     "code_challenge_method": "S256", **({"resource": audience} if audience else {})}
            tell(f"{discovery['authorization_endpoint']}?{urlencode(query)}")
            try:
                code = await asyncio.wait_for(received, timeout)
            except TimeoutError as error:
                raise LoginError(f"nobody signed in within {timeout:.0f} s") from error
        finally:
            server.close()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": client_id, "code_verifier": verifier, **({"resource": audience} if audience else {})}
        return token_from(await http.post(discovery["token_endpoint"], data=form))


def _tell_stderr(url: str, stream: TextIO = sys.stderr) -> None:
    print(f"cutru: open this address in a browser to sign in:\n{url}", file=stream, flush=True)


async def token_from_env(env: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """The bearer token: CUTRU_API_TOKEN, else client credentials, else the officer signs in (code + PKCE)."""
    if env.get("CUTRU_API_TOKEN"):
        return env["CUTRU_API_TOKEN"]
    issuer, audience = env.get("CUTRU_OIDC_ISSUER"), env.get("CUTRU_OIDC_AUDIENCE") or None
    if not issuer:
        raise LoginError("no token: set CUTRU_API_TOKEN (`cutru officer login` prints one), or CUTRU_OIDC_ISSUER "
                         "to sign in")
    try:
        if env.get("CUTRU_CLIENT_ID") and env.get("CUTRU_CLIENT_SECRET"):
            return await asyncio.to_thread(client_credentials_token, issuer, env["CUTRU_CLIENT_ID"],
                                           env["CUTRU_CLIENT_SECRET"], audience)
        return await login(issuer, env.get("CUTRU_OIDC_CLIENT") or DEFAULT_CLI_CLIENT, audience)
    except httpx.TransportError as error:
        raise ApiUnreachable(f"the OpenID Connect issuer {issuer} is unreachable: {error}") from error


# ---------------------------------------------------------------------------------------------- the client


class ApiClient:
    """The officer's and the auditor's calls; every answer is parsed into the API's own models."""

    def __init__(self, base_url: str, token: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, transport=transport, timeout=60,
                                       headers={"Authorization": f"Bearer {token}", "Accept-Language": _language()})

    @classmethod
    async def from_env(cls) -> ApiClient:
        return cls(os.environ.get("CUTRU_API_URL") or DEFAULT_URL, await token_from_env())

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ApiUnreachable(f"the cutru API at {self.base_url} is unreachable: {error or type(error).__name__}"
                                 ) from error
        if answer.status_code >= 400:
            raise _error(answer)
        return answer

    async def _model(self, model: type[_T], method: str, path: str, **kwargs: Any) -> _T:
        return model.model_validate_json((await self._request(method, path, **kwargs)).content)

    async def _pages(self, path: str, params: dict[str, Any], limit: int | None) -> list[QueueItem]:
        """Every page of a listing (``limit`` items a page; the API's default size without), following
        ``next_cursor`` until the last page."""
        items: list[QueueItem] = []
        query = {**params, **({"limit": limit} if limit else {})}
        while True:
            answer = (await self._request("GET", path, params=query)).json()
            items += _QUEUE.validate_python(answer["items"])
            if not answer.get("next_cursor"):
                return items
            query = {**query, "cursor": answer["next_cursor"]}

    # The officer's

    async def queue(self, *, mine: bool = False, procedure: str | None = None, state: str | None = None,
                    unit: str | None = None, limit: int | None = None) -> list[QueueItem]:
        params = {k: v for k, v in {"mine": "true" if mine else None, "procedure": procedure, "state": state,
                                    "unit": unit}.items() if v is not None}
        return await self._pages("/v1/desk/queue", params, limit)

    async def escalations(self, *, unit: str | None = None, limit: int | None = None) -> list[QueueItem]:
        return await self._pages("/v1/desk/escalations", {"unit": unit} if unit else {}, limit)

    async def dossier(self, code: str) -> DeskDossier:
        return await self._model(DeskDossier, "GET", f"/v1/desk/dossiers/{code}")

    async def decide(self, code: str, request: DecisionRequest, *, idempotency_key: str | None = None,
                     ) -> DecisionReceipt:
        return await self._model(DecisionReceipt, "POST", f"/v1/desk/dossiers/{code}/decision",
                                 content=request.model_dump_json(), headers=_json_headers(idempotency_key))

    async def close(self, code: str, request: ClosureRequest, *, idempotency_key: str | None = None,
                    ) -> ClosureReceipt:
        """An operator's closure of a dossier that cannot proceed."""
        return await self._model(ClosureReceipt, "POST", f"/v1/operations/dossiers/{code}/closure",
                                 content=request.model_dump_json(), headers=_json_headers(idempotency_key))

    async def reassign(self, code: str, request: ReassignmentRequest, *, idempotency_key: str | None = None,
                       ) -> DeskDossier:
        return await self._model(DeskDossier, "POST", f"/v1/desk/dossiers/{code}/reassignment",
                                 content=request.model_dump_json(), headers=_json_headers(idempotency_key))

    # The unit head's

    async def sign_offs(self, *, limit: int | None = None) -> list[QueueItem]:
        return await self._pages("/v1/desk/sign-offs", {}, limit)

    async def sign_off(self, code: str, request: SignOffRequest, *, idempotency_key: str | None = None,
                       ) -> SignOffReceipt:
        return await self._model(SignOffReceipt, "POST", f"/v1/desk/dossiers/{code}/sign-off",
                                 content=request.model_dump_json(), headers=_json_headers(idempotency_key))

    # The auditor's

    async def trail(self, code: str) -> AuditTrail:
        return await self._model(AuditTrail, "GET", f"/v1/audit/dossiers/{code}/trail")

    async def replay(self, code: str) -> ReplayReport:
        from cutru.clients.audit import ReplayReport

        return await self._model(ReplayReport, "GET", f"/v1/audit/dossiers/{code}/replay")

    async def history_chunks(self, code: str) -> AsyncIterator[bytes]:
        """The dossier's history export (Temporal's JSON form), as the API streams it."""
        try:
            async with self._http.stream("GET", f"/v1/audit/dossiers/{code}/history") as answer:
                if answer.status_code >= 400:
                    await answer.aread()
                    raise _error(answer)
                async for chunk in answer.aiter_bytes():
                    yield chunk
        except httpx.TransportError as error:
            raise ApiUnreachable(f"the cutru API at {self.base_url} is unreachable: {error or type(error).__name__}"
                                 ) from error

    async def export_history(self, code: str, path: Path) -> int:
        """Write the history export to ``path`` (a partial file is removed); the bytes written."""
        written = 0
        try:
            with path.open("wb") as out:
                async for chunk in self.history_chunks(code):
                    out.write(chunk)
                    written += len(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return written


def _language() -> str:
    """Vietnamese for a Vietnamese locale, as the officers' terminals are set; English otherwise."""
    return "vi, en;q=0.5" if os.environ.get("LANG", "").lower().startswith("vi") else "en"


def _json_headers(idempotency_key: str | None) -> dict[str, str]:
    return {"Content-Type": "application/json", **({"Idempotency-Key": idempotency_key} if idempotency_key else {})}


def _error(answer: httpx.Response) -> ApiError:
    try:
        problem = answer.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    problem.setdefault("detail", answer.reason_phrase or f"HTTP {answer.status_code}")
    return ApiError(answer.status_code, problem)
