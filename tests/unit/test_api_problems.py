"""Problem details: language negotiation and field errors, without a server."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from starlette.requests import Request
from temporalio.service import RPCError, RPCStatusCode

from cutru.api.app import _on_rpc_error
from cutru.api.problems import Problem, field_errors, problem_response, wants_vietnamese
from domain.procedures.catalogue import parse_submission


def request(accept_language: str | None) -> Request:
    headers = [(b"accept-language", accept_language.encode())] if accept_language is not None else []
    return Request({"type": "http", "method": "GET", "path": "/v1/x", "headers": headers, "query_string": b""})


@pytest.mark.parametrize(("header", "vietnamese"), [
    (None, False), ("vi", True), ("vi-VN", True), ("en", False), ("fr", False),
    ("en;q=0.5, vi;q=0.8", True), ("vi;q=0.2, en", False), ("vi;q=abc", False), ("en, vi", False),
])
def test_accept_language(header: str | None, vietnamese: bool):
    assert wants_vietnamese(request(header)) is vietnamese


def test_a_problem_carries_both_languages_whichever_is_asked():
    problem = Problem(409, "dossier_closed", "The dossier is closed", "Hồ sơ đã kết thúc", detail="Closed.",
                      detail_vi="Đã kết thúc.", headers={"Retry-After": "1"})
    response = problem_response(request("vi"), problem)
    assert response.status_code == 409 and response.media_type == "application/problem+json"
    assert response.headers["retry-after"] == "1" and response.headers["content-language"] == "vi"
    body = problem.body(vietnamese=True).model_dump()
    assert body["title"] == "Hồ sơ đã kết thúc" and body["title_en"] == "The dossier is closed"
    assert body["type"].endswith("/dossier_closed")


def test_field_errors_read_as_the_submission_is_written():
    with pytest.raises(ValidationError) as raised:
        parse_submission({"procedure": "PermanentResidenceRegistration", "dossier_code": "HS-1"})
    errors = {error.field: error for error in field_errors(raised.value.errors())}
    assert "applicant" in errors and "details" in errors  # no "PermanentResidenceRegistration." prefix
    assert errors["applicant"].message_vi == "Thiếu trường bắt buộc"
    with pytest.raises(ValidationError) as unknown:
        parse_submission({"procedure": "Nope"})
    assert [error.field for error in field_errors(unknown.value.errors())] == ["procedure"]


def test_field_errors_drop_the_request_part_and_bound_the_text():
    errors = field_errors([{"loc": ("body", "note"), "msg": "x" * 5000, "type": "string_too_long"},
                           {"loc": ("query", "limit"), "msg": "bad", "type": "int_parsing"}])
    assert [error.field for error in errors] == ["note", "limit"]
    assert len(errors[0].message) <= 600 and errors[1].message_vi == "Phải là số nguyên"


@pytest.mark.parametrize("status", [RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                                    RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.CANCELLED])
async def test_an_engine_call_that_may_succeed_later_asks_for_a_retry(status: RPCStatusCode):
    """CANCELLED among them: a call in flight when the frontend closes its connection at the connection's maximum
    age."""
    response = await _on_rpc_error(request("vi"), RPCError("operation was canceled", status, b""))
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    body = json.loads(bytes(response.body))
    assert body["code"] == "engine_unavailable"
    assert body["detail"] == body["detail_vi"] == (
        "Không kết nối được hệ thống xử lý hồ sơ; hãy gửi lại yêu cầu sau giây lát.")
    assert body["detail_en"] == "The workflow engine could not be reached; send the same request again shortly."


async def test_an_engine_refusal_that_a_retry_would_not_change_is_not_hidden():
    with pytest.raises(RPCError):
        await _on_rpc_error(request(None), RPCError("bad", RPCStatusCode.INVALID_ARGUMENT, b""))
