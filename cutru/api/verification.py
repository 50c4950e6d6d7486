"""Anyone, no token: is this CT07 or CT08 genuine, and does it still hold?

The QR code on the document carries ``/v1/verifications/{code}``; a person may type the code printed beside it. A
browser (a phone that scanned the code) gets the answer as a Vietnamese page, a program as JSON.
The answer names the document's kind, the police unit that issued it, when, and its SHA-256 — never the person,
the dossier or an address. Give the document's hash (``?sha256=``) or post the PDF itself to learn whether it
is the very file issued. A CT07 is void once the person's residence records differ from those it stated (the
comparison runs in the database, ``verify_result`` of migration 0012: the API's role reads no personal register),
and expired after the date it holds until. docs/verification.md has the rest.

Each client address has a token bucket (CUTRU_API_VERIFY_RATE_PER_MINUTE, _BURST): the code space has 2^50 codes,
and the limit keeps anyone from walking it.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cutru.api.desk.render import page
from cutru.api.problems import Problem, problem_responses
from cutru.api.ratelimit import RATE_LIMITED, limits_of
from cutru.api.state import State
from domain.calendar import local_date
from domain.documents import TITLES
from domain.kinds import DocumentKind
from domain.verification import normalise, printed

router = APIRouter(prefix="/v1", tags=["public"])

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]


class IssuingUnit(BaseModel):
    unit_code: str = Field(description="the police unit, 'CA-' + its commune code")
    name: str | None = Field(description="its name, e.g. 'Công an Phường Hoàn Kiếm'")


class Verification(BaseModel):
    """What anyone may learn of a result document from its code: no personal data."""

    code: str = Field(description="the verification code as printed, e.g. '7K3QD-M2X9A'")
    status: Literal["valid", "void", "expired"] = Field(
        description="valid; void: a CT07 whose residence data changed since it was issued; expired: a CT07 past "
                    "the date it holds until")
    document: DocumentKind = Field(description="CT07 or CT08")
    title_vi: str = Field(description="the form's title")
    issued_by: IssuingUnit
    issued_on: date = Field(description="the issue date, Vietnam time")
    valid_until: date | None = Field(description="a CT07's end date; null for a CT08")
    sha256: str = Field(description="SHA-256 of the PDF issued, hex")
    hash_matches: bool | None = Field(
        description="whether the hash given (query sha256, or of the PDF posted) is the issued document's; null "
                    "when none was given")
    message: str
    message_vi: str


def _not_found() -> Problem:
    return Problem(404, "verification_not_found", "Verification code not found", "Không tìm thấy mã xác thực",
                   detail="No document carries this code; check the 10 characters printed beside the QR code.",
                   detail_vi="Không có văn bản nào mang mã xác thực này; hãy kiểm tra lại 10 ký tự in cạnh mã QR.")


async def _limit(request: Request) -> None:
    """429 when the client's address has asked more than its share (the buckets of ``cutru.api.ratelimit``)."""
    limits = limits_of(request)
    address = request.client.host if request.client is not None else "unknown"
    if limits.addresses is not None and (wait := limits.addresses.take(address)):
        seconds = max(1, math.ceil(wait))
        per_minute = f"{limits.settings.verify_rate_per_minute:g}"
        raise Problem(429, "rate_limited", "Too many requests", "Quá nhiều yêu cầu",
                      detail=f"More than {per_minute} verifications a minute from your address; wait {seconds} s.",
                      detail_vi=f"Vượt quá {per_minute} lượt kiểm tra mỗi phút từ địa chỉ của bạn; hãy chờ "
                                f"{seconds} giây rồi thử lại.",
                      headers={"Retry-After": str(seconds)})


async def _verify(state: State, typed: str, given: str | None) -> Verification:
    code = normalise(typed)
    if code is None:
        raise _not_found()
    row = await state.pool.fetchrow("SELECT * FROM verify_result($1)", code)
    if row is None:
        raise _not_found()
    kind = DocumentKind(row["kind"])
    valid_until: date | None = row["valid_until"]
    status: Literal["valid", "void", "expired"] = "valid"
    if kind is DocumentKind.CT07:
        # No confirmation recorded (none is issued without one) cannot be vouched for: void, not valid.
        if row["records_unchanged"] is not True:
            status = "void"
        elif valid_until is not None and local_date(datetime.now(UTC)) > valid_until:
            status = "expired"
    matches = None if given is None else given.lower() == row["sha256"]
    unit = row["unit_name"] or row["unit_code"]
    issued_on = local_date(row["issued_at"])
    message, message_vi = {
        "valid": (f"Valid: issued by {unit} on {issued_on.isoformat()}.",
                  f"Văn bản có giá trị, do {unit} cấp ngày {issued_on.strftime('%d/%m/%Y')}."),
        "void": ("Void: the residence data it confirms has changed since it was issued.",
                 "Văn bản đã hết giá trị: thông tin về cư trú được xác nhận đã thay đổi sau ngày cấp."),
        "expired": (f"Expired on {valid_until}.",
                    f"Văn bản đã hết thời hạn ngày {valid_until.strftime('%d/%m/%Y') if valid_until else ''}."),
    }[status]
    if matches is False:
        message += " The document given is not the one issued: its SHA-256 differs."
        message_vi += " Tệp được kiểm tra không phải văn bản đã cấp: mã băm SHA-256 khác."
    return Verification(code=printed(code), status=status, document=kind, title_vi=TITLES[kind],
                        issued_by=IssuingUnit(unit_code=row["unit_code"], name=row["unit_name"]),
                        issued_on=issued_on, valid_until=valid_until, sha256=row["sha256"], hash_matches=matches,
                        message=message, message_vi=message_vi)


def _wants_html(request: Request) -> bool:
    """A browser (the QR code scanned with a phone) asks for a page; a program for JSON."""
    return "text/html" in request.headers.get("accept", "")


@router.get("/verifications/{code}", operation_id="verify_document", summary="Verify a CT07 or CT08 by its code",
            dependencies=[Depends(_limit)], response_model=Verification,
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "the answer; a browser (Accept: text/html) gets it as a Vietnamese page"},
                       **problem_responses(404), **RATE_LIMITED})
async def verify_document(
    request: Request, state: State, code: str,
    sha256: Annotated[Sha256 | None, Query(description="the SHA-256 of the document in hand, to compare")] = None,
) -> Response:
    if not _wants_html(request):
        return JSONResponse((await _verify(state, code, sha256)).model_dump(mode="json"))
    try:
        result = await _verify(state, code, sha256)
    except Problem as problem:
        return page(request, "verification.html", status=problem.status, result=None, problem=problem)
    return page(request, "verification.html", result=result)


@router.post(
    "/verifications/{code}", operation_id="verify_document_file",
    summary="Verify a CT07 or CT08 by its code and the PDF itself (nothing is stored)",
    dependencies=[Depends(_limit)], responses={**problem_responses(404), **RATE_LIMITED},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def verify_document_file(state: State, code: str, request: Request) -> Verification:
    return await _verify(state, code, hashlib.sha256(await request.body()).hexdigest())
