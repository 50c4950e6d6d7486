"""What stands before every desk page: the session, the roles, the form token, and errors as Vietnamese pages.

A desk router is ``APIRouter(route_class=DeskRoute)``: a ``Problem`` raised anywhere in its handlers (the shared
desk logic of ``cutru.api.officers`` raises them, with Vietnamese text) becomes an HTML page saying what happened
and what to do, with the problem's status; a request without a live session is sent to sign in (a GET) or told
that the session ended (a POST, whose form is not replayed).

``signed_in`` is the dependency of a page; ``form_checked`` that of a POST: the form's ``csrf`` field must equal the
session's token, and the request's Origin (or, without one, its Referer) must be the desk's own, before anything
is read or written.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from cutru.api.desk.render import page
from cutru.api.desk.sessions import SESSION_COOKIE, DeskSession, close_session, current_session
from cutru.api.inbox import unread_count
from cutru.api.problems import Problem
from cutru.api.security import AUTHORISATIONS
from cutru.api.state import ApiState, api_state
from cutru.clients.officer import find_officer


class SignInRequired(Exception):
    """No live session: the cookie is missing, unknown, idle too long or past its absolute expiry."""


def desk_origin(request: Request, state: ApiState) -> str:
    """The desk's own origin: ``CUTRU_DESK_URL`` when a proxy stands in front, else where the request came."""
    if state.settings.desk_url:
        return state.settings.desk_url.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


async def signed_in(request: Request, state: Annotated[ApiState, Depends(api_state)]) -> DeskSession:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise SignInRequired
    session = await current_session(state.pool, session_id, idle=timedelta(minutes=state.settings.desk_idle_minutes))
    if session is None:
        raise SignInRequired
    officer_id = session.principal.officer_id
    if officer_id is not None:
        # A session outlives the token it came from: an officer taken off the roster is out at the next request.
        officer = await find_officer(state.pool, officer_id)
        if officer is None or not officer.active:
            await close_session(state.pool, session_id)
            raise SignInRequired
    request.state.desk_session = session
    if officer_id is not None:  # the header's count of the officer's unread notices
        request.state.desk_unread = await unread_count(state, officer_id)
    return session


Session = Annotated[DeskSession, Depends(signed_in)]


def allowed(session: DeskSession, operation: str) -> None:
    """A Problem (403, Vietnamese) unless the session's roles may do ``operation`` (``cutru.api.security``)."""
    if not session.principal.roles & AUTHORISATIONS[operation].roles:
        raise Problem(403, "forbidden", "Forbidden", "Không có quyền",
                      detail_vi="Tài khoản của bạn không có vai trò được phép dùng trang này; nếu cần, hãy đề nghị "
                                "lãnh đạo đơn vị phân quyền rồi đăng nhập lại.")


_CSRF_REFUSED = Problem(
    403, "csrf_refused", "The form was refused", "Biểu mẫu không được chấp nhận",
    detail_vi="Biểu mẫu này đã hết hiệu lực hoặc không được gửi từ trang của bàn làm việc, nên không có gì thay đổi. "
              "Hãy mở lại trang hồ sơ, kiểm tra và thực hiện lại.")


async def form_checked(request: Request, session: Session,
                       state: Annotated[ApiState, Depends(api_state)]) -> FormData:
    """The POSTed form, once its origin and synchronizer token are the desk's own; else the refusal page."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        origin = None if referer is None else "{0.scheme}://{0.netloc}".format(urlsplit(referer))
    if origin != desk_origin(request, state):
        raise _CSRF_REFUSED
    form = await request.form()
    token = form.get("csrf")
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise _CSRF_REFUSED
    return form


Form = Annotated[FormData, Depends(form_checked)]

_INVALID = Problem(400, "invalid_request", "The request is invalid", "Yêu cầu không hợp lệ",
                   detail_vi="Địa chỉ hoặc biểu mẫu có giá trị không hợp lệ; hãy quay lại trang trước và chọn lại.")


def error_page(request: Request, problem: Problem) -> Response:
    """The refusal as a page, with its headers (a rate limit's ``Retry-After``)."""
    response = page(request, "error.html", status=problem.status, problem=problem)
    response.headers.update(problem.headers)
    return response


class DeskRoute(APIRoute):
    """A route whose refusals are pages, not problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def desk_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                if request.method == "GET":
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/desk/sign-in?next={quote(target, safe='')}", status_code=303)
                return error_page(request, Problem(
                    401, "session_ended", "Session ended", "Phiên làm việc đã kết thúc",
                    detail_vi="Phiên làm việc đã hết hạn hoặc bạn đã đăng xuất, nên thao tác vừa rồi chưa được "
                              "thực hiện. Hãy đăng nhập lại rồi làm lại thao tác."))
            except Problem as problem:
                return error_page(request, problem)
            except RequestValidationError:
                return error_page(request, _INVALID)

        return desk_handler
