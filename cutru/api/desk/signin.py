"""Signing in to the desk through the OpenID Connect provider: authorization code with PKCE (S256), and out again.

1. ``GET /desk/sign-in?next=/desk/...``: a new sign-in (``state`` and PKCE verifier kept server-side, ``state``
   also in a short-lived ``__Host-`` cookie that binds the sign-in to this browser), then a redirect to the
   provider's ``authorization_endpoint`` (from its discovery document: only the standard is spoken).
2. ``GET /desk/auth/callback?code&state``: the state must be the browser's and unused; the code is redeemed at the
   ``token_endpoint`` with the verifier; the access token is verified like any bearer token of the API
   (``TokenVerifier``), and the principal it gives (roles, units, officer id) is the session's. Nothing else the
   provider or the browser says is taken.
3. ``POST /desk/sign-out`` (with the form token): the session is deleted and its cookie cleared.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from cutru.api.client import LoginError, discover, token_from
from cutru.api.desk.guard import DeskRoute, SignInRequired, desk_origin, form_checked, signed_in
from cutru.api.desk.render import page
from cutru.api.desk.sessions import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_SECONDS,
    begin_sign_in,
    close_session,
    finish_sign_in,
    open_session,
)
from cutru.api.problems import Problem
from cutru.api.state import ApiState, api_state
from cutru.platform.oidc import Role, TokenRejected

router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)

CALLBACK_PATH = "/desk/auth/callback"
HOME = "/desk/queue"
AUDIT_HOME = "/desk/audit"
DESK_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR})
_HTTP_TIMEOUT = httpx.Timeout(10.0)

_NO_PROVIDER = Problem(503, "issuer_unavailable", "The identity provider is unreachable",
                       "Không kết nối được hệ thống xác thực",
                       detail_vi="Tạm thời không đăng nhập được vì hệ thống xác thực không trả lời; hãy thử lại sau ít "
                                 "phút, nếu vẫn lỗi hãy báo bộ phận vận hành.")


def _sign_in_failed(detail_vi: str) -> Problem:
    return Problem(400, "sign_in_failed", "Sign-in failed", "Đăng nhập không thành công", detail_vi=detail_vi)


def _cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="lax")


def _safe_next(target: str | None) -> str:
    """Only a desk path: the sign-in must not become a redirect to anywhere (an open redirector)."""
    if target and target.startswith("/desk/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


async def _endpoints(request: Request, state: ApiState) -> dict[str, Any]:
    """The provider's discovery document, read on the first sign-in and kept for the app's life."""
    cached: dict[str, Any] | None = getattr(request.app.state, "desk_provider", None)
    if cached is not None:
        return cached
    if state.settings.oidc is None:
        raise _NO_PROVIDER
    try:
        async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT) as http:
            document = await discover(http, state.settings.oidc.issuer)
    except LoginError as error:
        raise _NO_PROVIDER from error
    request.app.state.desk_provider = document
    return document


def _redirect_uri(request: Request, state: ApiState) -> str:
    return desk_origin(request, state) + CALLBACK_PATH


@router.get("", include_in_schema=False)
async def desk_home() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get("/sign-in")
async def sign_in(request: Request, state: Annotated[ApiState, Depends(api_state)],
                  next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None) -> Response:
    endpoints = await _endpoints(request, state)
    oauth_state, challenge = await begin_sign_in(state.pool, _safe_next(next_path))
    query = {"response_type": "code", "client_id": state.settings.desk_client_id,
             "redirect_uri": _redirect_uri(request, state), "scope": "openid profile", "state": oauth_state,
             "code_challenge": challenge, "code_challenge_method": "S256",
             # The officer proves who they are at each sign-in: after "Đăng xuất" on a shared computer, the
             # provider's own session must not let the next person in as them.
             "prompt": "login"}
    response = RedirectResponse(f"{endpoints['authorization_endpoint']}?{urlencode(query)}", status_code=303)
    _cookie(response, SIGN_IN_COOKIE, oauth_state, SIGN_IN_SECONDS)
    return response


@router.get("/auth/callback")
async def callback(request: Request, state: Annotated[ApiState, Depends(api_state)],
                   code: Annotated[str | None, Query(max_length=2000)] = None,
                   oauth_state: Annotated[str | None, Query(alias="state", max_length=200)] = None,
                   error: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    if error is not None:
        raise _sign_in_failed("Hệ thống xác thực không đăng nhập cho bạn (đã huỷ hoặc bị từ chối). Hãy đăng nhập "
                              "lại; nếu tài khoản bị khoá, hãy liên hệ lãnh đạo đơn vị.")
    pending = None
    if code and oauth_state and request.cookies.get(SIGN_IN_COOKIE) == oauth_state:
        pending = await finish_sign_in(state.pool, oauth_state)
    if pending is None:
        raise _sign_in_failed("Lượt đăng nhập này đã hết hạn, đã dùng rồi hoặc không bắt đầu từ trình duyệt này. "
                              "Hãy đăng nhập lại từ đầu.")
    verifier, return_to = pending
    endpoints = await _endpoints(request, state)
    settings = state.settings
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": _redirect_uri(request, state),
            "client_id": settings.desk_client_id, "code_verifier": verifier}
    auth = httpx.BasicAuth(settings.desk_client_id, settings.desk_client_secret) \
        if settings.desk_client_secret else None
    try:
        async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT, auth=auth) as http:
            access_token = token_from(await http.post(endpoints["token_endpoint"], data=form))
        principal = await state.verifier.verify(access_token)
    except httpx.HTTPError as failure:
        raise _NO_PROVIDER from failure
    except (LoginError, TokenRejected) as failure:
        raise _sign_in_failed("Hệ thống xác thực không cấp được mã truy cập hợp lệ cho lượt đăng nhập này. Hãy "
                              "đăng nhập lại; nếu vẫn lỗi, hãy báo bộ phận vận hành.") from failure
    session_id, _ = await open_session(state.pool, principal,
                                       idle=timedelta(minutes=settings.desk_idle_minutes),
                                       lifetime=timedelta(hours=settings.desk_session_hours))
    if return_to == HOME and not principal.roles & DESK_ROLES and Role.AUDITOR in principal.roles:
        return_to = AUDIT_HOME  # an auditor has no queue
    response = RedirectResponse(return_to, status_code=303)
    _cookie(response, SESSION_COOKIE, session_id, int(settings.desk_session_hours * 3600))
    response.delete_cookie(SIGN_IN_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


@router.post("/sign-out")
async def sign_out(request: Request, state: Annotated[ApiState, Depends(api_state)]) -> Response:
    """A live session ends on its own form only; one already ended needs nothing but the cookie cleared."""
    try:
        session = await signed_in(request, state)
    except SignInRequired:
        session = None
    if session is not None:
        await form_checked(request, session, state)
        await close_session(state.pool, request.cookies[SESSION_COOKIE])
    response = RedirectResponse("/desk/signed-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


@router.get("/signed-out")
async def signed_out(request: Request) -> Response:
    return page(request, "signed_out.html")
