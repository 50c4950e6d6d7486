"""RFC 9457 problem details: every error the API answers is ``application/problem+json``, never HTML or a traceback.

A problem carries a stable machine ``code`` and its title and detail in English and in Vietnamese. ``title`` and
``detail`` are in the language the caller asked for (``Accept-Language: vi``; English otherwise); ``title_en``,
``detail_en``, ``title_vi`` and ``detail_vi`` are always there, so a portal can show either. A validation problem
lists ``errors: [{field, message, message_vi}]``.

    raise Problem(404, "dossier_not_found", "Dossier not found", "Không tìm thấy hồ sơ",
                  detail=f"No dossier {code} is visible to you.", detail_vi=f"Không có hồ sơ {code}.")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from cutru.platform.logging import get_logger
from domain.kinds import Procedure

M = TypeVar("M", bound=BaseModel)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://cutru.gov.vn/problems/"


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the field in the request, e.g. details.residence.commune_code")
    message: str
    message_vi: str


class ProblemDetails(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="stable machine-readable code; the titles may change, the code does not")
    title_en: str
    title_vi: str
    detail_en: str
    detail_vi: str
    instance: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """An error answer. ``headers`` go out with it (``WWW-Authenticate``, ``Retry-After``)."""

    def __init__(self, status: int, code: str, title: str, title_vi: str, *, detail: str | None = None,
                 detail_vi: str | None = None, errors: Sequence[FieldError] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.title_vi = title_vi
        self.detail = detail or title
        self.detail_vi = detail_vi or title_vi
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})

    def body(self, vietnamese: bool, instance: str | None = None) -> ProblemDetails:
        return ProblemDetails(
            type=TYPE_BASE + self.code, status=self.status, code=self.code,
            title=self.title_vi if vietnamese else self.title, detail=self.detail_vi if vietnamese else self.detail,
            title_en=self.title, title_vi=self.title_vi, detail_en=self.detail, detail_vi=self.detail_vi,
            instance=instance, errors=self.errors,
        )


def wants_vietnamese(request: Request) -> bool:
    """``Accept-Language`` prefers Vietnamese over English (q-values honoured, first wins a tie)."""
    best, best_q = "en", 0.0
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        try:
            q = float(params.strip().removeprefix("q=")) if params.strip().startswith("q=") else 1.0
        except ValueError:
            continue
        if language in ("vi", "en") and q > best_q:
            best, best_q = language, q
    return best == "vi"


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body = problem.body(wants_vietnamese(request), instance=request.url.path)
    headers = {"Content-Language": "vi" if wants_vietnamese(request) else "en", **problem.headers}
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=problem.status,
                        media_type=PROBLEM_JSON, headers=headers)


# ---------------------------------------------------------------------------------------------- common problems

# Titles of the statuses Starlette raises by itself (routing, methods, bodies).
_STATUS_VI: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Yêu cầu không hợp lệ"),
    401: ("unauthenticated", "Chưa xác thực"),
    403: ("forbidden", "Không có quyền"),
    404: ("not_found", "Không tìm thấy"),
    405: ("method_not_allowed", "Phương thức không được hỗ trợ"),
    406: ("not_acceptable", "Không có định dạng phù hợp"),
    409: ("conflict", "Xung đột trạng thái"),
    413: ("payload_too_large", "Dữ liệu gửi lên quá lớn"),
    415: ("unsupported_media_type", "Định dạng dữ liệu không được hỗ trợ"),
    422: ("invalid_request", "Dữ liệu không hợp lệ"),
    429: ("too_many_requests", "Quá nhiều yêu cầu"),
    500: ("internal_error", "Lỗi hệ thống"),
    503: ("unavailable", "Dịch vụ tạm thời không sẵn sàng"),
}


def status_problem(status: int, detail: str | None = None, headers: Mapping[str, str] | None = None, *,
                   detail_vi: str | None = None) -> Problem:
    code, title_vi = _STATUS_VI.get(status, (f"http_{status}", "Lỗi"))
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return Problem(status, code, title, title_vi, detail=detail, detail_vi=detail_vi, headers=headers)


def engine_unavailable() -> Problem:
    """Temporal out of reach, or a call it dropped: the same request may well succeed shortly."""
    return Problem(503, "engine_unavailable", "The workflow engine is unavailable",
                   "Hệ thống xử lý hồ sơ tạm thời không sẵn sàng",
                   detail="The workflow engine could not be reached; send the same request again shortly.",
                   detail_vi="Không kết nối được hệ thống xử lý hồ sơ; hãy gửi lại yêu cầu sau giây lát.",
                   headers={"Retry-After": "2"})


def dossier_not_found(code: str) -> Problem:
    return Problem(404, "dossier_not_found", "Dossier not found", "Không tìm thấy hồ sơ",
                   detail=f"No dossier {code} is visible to you: check the code.",
                   detail_vi=f"Không tìm thấy hồ sơ {code}: kiểm tra lại mã hồ sơ.")


def payload_too_large(limit: int) -> Problem:
    return Problem(413, "payload_too_large", "Request body too large", "Dữ liệu gửi lên quá lớn",
                   detail=f"The request body is larger than {limit} bytes; send less (split a batch).",
                   detail_vi=f"Dữ liệu gửi lên vượt quá {limit} byte; hãy gửi ít hơn (chia nhỏ danh sách).")


def validation_problem(errors: Sequence[FieldError]) -> Problem:
    return Problem(422, "invalid_request", "The request is invalid", "Dữ liệu không hợp lệ", errors=errors,
                   detail="Correct the fields listed in errors and send the request again.",
                   detail_vi="Sửa các trường được liệt kê trong errors rồi gửi lại.")


def validated(model: type[M], problem: Problem | None = None, /, **values: Any) -> M:
    """``model(**values)`` built inside a handler (a filter, a form, an envelope); when it does not validate,
    ``problem`` (a page's own words) or else a 422 problem naming each wrong field."""
    try:
        return model(**values)
    except ValidationError as error:
        raise (problem or validation_problem(field_errors(error.errors()))) from error


# ---------------------------------------------------------------------------------------------- validation errors

# Vietnamese for pydantic's error types; the English message is pydantic's own.
_MESSAGES_VI: dict[str, str] = {
    "missing": "Thiếu trường bắt buộc",
    "extra_forbidden": "Trường này không được phép",
    "string_too_short": "Chuỗi quá ngắn",
    "string_too_long": "Chuỗi quá dài",
    "string_pattern_mismatch": "Sai định dạng",
    "string_type": "Phải là chuỗi ký tự",
    "int_type": "Phải là số nguyên",
    "int_parsing": "Phải là số nguyên",
    "bool_type": "Phải là true hoặc false",
    "bool_parsing": "Phải là true hoặc false",
    "literal_error": "Giá trị không thuộc các giá trị cho phép",
    "enum": "Giá trị không thuộc các giá trị cho phép",
    "date_type": "Phải là ngày (YYYY-MM-DD)",
    "date_parsing": "Phải là ngày (YYYY-MM-DD)",
    "date_from_datetime_parsing": "Phải là ngày (YYYY-MM-DD)",
    "datetime_type": "Phải là thời điểm (RFC 3339)",
    "datetime_parsing": "Phải là thời điểm (RFC 3339)",
    "datetime_from_date_parsing": "Phải là thời điểm (RFC 3339)",
    "timezone_aware": "Thời điểm phải có múi giờ",
    "greater_than": "Giá trị quá nhỏ",
    "greater_than_equal": "Giá trị quá nhỏ",
    "less_than": "Giá trị quá lớn",
    "less_than_equal": "Giá trị quá lớn",
    "too_short": "Quá ít phần tử",
    "too_long": "Quá nhiều phần tử",
    "list_type": "Phải là danh sách",
    "tuple_type": "Phải là danh sách",
    "dict_type": "Phải là đối tượng JSON",
    "model_type": "Phải là đối tượng JSON",
    "model_attributes_type": "Phải là đối tượng JSON",
    "json_invalid": "JSON không hợp lệ",
    "union_tag_invalid": "Thủ tục không hợp lệ",
    "union_tag_not_found": "Thiếu trường procedure",
    "value_error": "Giá trị không hợp lệ",
    "assertion_error": "Giá trị không hợp lệ",
}
_MAX_MESSAGE = 600
_PROCEDURES = {p.value for p in Procedure}


def _bounded(text: str) -> str:
    cleaned = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return cleaned if len(cleaned) <= _MAX_MESSAGE else cleaned[: _MAX_MESSAGE - 1] + "…"


def field_errors(errors: Sequence[Any]) -> list[FieldError]:
    """Pydantic's (or FastAPI's) error dicts as ``{field, message, message_vi}``.

    The location drops FastAPI's ``body``/``query`` prefix and the discriminated union's tag (the procedure name
    pydantic puts in the path), so the field reads as it is written in the submission."""
    result = []
    for item in errors:
        loc = [str(part) for part in item.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            where, loc = loc[0], loc[1:]
        else:
            where = ""
        if loc and loc[0] in _PROCEDURES:
            loc = loc[1:]
        field = ".".join(loc) or (where if where != "body" else "(body)")
        kind = str(item.get("type", ""))
        message = str(item.get("msg", "invalid"))
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            field = "procedure"
            message = "must be one of " + ", ".join(sorted(_PROCEDURES))
        vietnamese = _MESSAGES_VI.get(kind, "Giá trị không hợp lệ")
        if kind in ("value_error", "assertion_error"):
            # A rule of ours: its English text says what is wrong; keep it beside the Vietnamese.
            vietnamese = f"{vietnamese}: {message.removeprefix('Value error, ')}"
        result.append(FieldError(field=_bounded(field), message=_bounded(message), message_vi=_bounded(vietnamese)))
    return result


# ---------------------------------------------------------------------------------------------- handlers

_log = get_logger(component="api")


async def _on_problem(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Problem)
    return problem_response(request, error)


async def _on_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return problem_response(request, validation_problem(field_errors(error.errors())))


async def _on_http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) and error.detail != status_problem(error.status_code).title \
        else None
    headers = dict(error.headers or {})
    if error.status_code == 405:
        # Starlette's Allow names the methods of the first route of the path only; a path with a GET and a POST
        # route must say both.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(request, status_problem(error.status_code, detail, headers))


def _allowed_methods(request: Request) -> list[str]:
    """The methods of every operation whose path template matches (from the OpenAPI document, built once)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.scope["path"]):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
    return sorted(methods)


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    _log.error("unhandled error", path=request.url.path, method=request.method, exc_info=error)
    return problem_response(request, status_problem(
        500, "An unexpected error occurred; it has been logged. Try again later.",
        detail_vi="Đã xảy ra lỗi ngoài dự kiến và lỗi đã được ghi lại; vui lòng thử lại sau."))


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)


# What every operation may answer, for the OpenAPI document.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ProblemDetails, "content": {PROBLEM_JSON: {}},
                     "description": _STATUS_VI.get(status, ("", ""))[0].replace("_", " ") or "error"}
            for status in statuses}
