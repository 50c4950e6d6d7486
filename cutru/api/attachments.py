"""Attachments: the portal uploads a file, a submission or a supplement refers to it by SHA-256, officers of the
dossier's unit open it and record a finding on it.

An upload is the request body itself (``Content-Type`` the file's media type, ``?file_name=``), streamed to a
spool file, never held in memory. It is refused, with nothing stored, when it is too large, not of the type it
claims, not a PDF, JPEG, PNG or HEIC file, a decompression bomb, a polyglot, cut off, or found by the malware
scan (docs/attachments.md). Only then is it committed to the store (``cutru.platform.storage``) under its SHA-256
and recorded in ``attachments``. The same file uploaded again is stored once.
"""

from __future__ import annotations

import asyncio
import hashlib
import mmap
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import Field, model_validator
from starlette.requests import ClientDisconnect

from cutru.api.officers import _acting_officer, _visible, _writable
from cutru.api.problems import FieldError, Problem, problem_responses, validation_problem
from cutru.api.ratelimit import RATE_LIMITED, write_limit
from cutru.api.security import permit
from cutru.api.state import ApiState, State
from cutru.api.views import View
from cutru.platform.oidc import Principal
from cutru.platform.reads import Channel, record_reads
from cutru.platform.storage import ScannerUnavailable, StoreError
from domain.attachments import (
    FILE_NAME_PATTERN,
    AttachmentKind,
    ContentProblem,
    MediaType,
    content_problem,
)
from domain.models import AttachmentRef, Boundary, ChecklistAnswer, Sha256

router = APIRouter(prefix="/v1", tags=["portal"])
desk_router = APIRouter(prefix="/v1/desk", tags=["officers"])

UPLOAD_PATH = "/v1/attachments"


class AttachmentReceipt(View):
    """A stored file: refer to it from a submission or a supplement as ``{kind, sha256, file_name, media_type,
    size_bytes}``."""

    sha256: str
    media_type: MediaType
    size_bytes: int
    file_name: str
    already_stored: bool = Field(description="the same content was uploaded before: it is stored once")


class Finding(View):
    accepted: bool
    reason: str | None
    officer_id: str
    at: datetime


class AttachedPaper(View):
    """A paper attached to a dossier, with the officers' latest finding on it."""

    kind: AttachmentKind
    kind_vi: str
    sha256: str
    file_name: str
    media_type: MediaType
    size_bytes: int
    checklist_item: int | None = Field(description="the CT05 checklist item it answers, if any")
    attached_at: datetime
    href: str
    finding: Finding | None


class FindingRequest(Boundary):
    """The officer's finding on one attached paper; who finds is the signed-in officer."""

    kind: AttachmentKind
    accepted: bool
    reason: str | None = Field(default=None, min_length=1, max_length=1000,
                               description="required when not accepted: what is wrong with the paper")

    @model_validator(mode="after")
    def _reason_when_refused(self) -> FindingRequest:
        if not self.accepted and not self.reason:
            raise ValueError("a paper not accepted needs a reason: the citizen is told it")
        return self


# ---------------------------------------------------------------------------------------------- upload


def _refused(status: int, problem: ContentProblem) -> Problem:
    return Problem(status, problem.code, "The file is refused", "Tệp bị từ chối", detail=problem.message,
                   detail_vi=problem.message_vi)


def _too_large(limit: int) -> Problem:
    mib = limit / 2**20
    return Problem(413, "file_too_large", "The file is too large", "Tệp quá lớn",
                   detail=f"A file may be at most {mib:g} MiB; scan at a lower resolution or split the document.",
                   detail_vi=f"Tệp tối đa {mib:g} MiB; hãy quét với độ phân giải thấp hơn hoặc chia nhỏ tài liệu.")


def _not_stored(code: str, title: str, title_vi: str) -> Problem:
    """503 for a part of the upload path that is down: the file was not stored, and may be sent again."""
    return Problem(503, code, title, title_vi, detail="Nothing was stored; send the file again shortly.",
                   detail_vi="Tệp chưa được lưu; hãy gửi lại sau giây lát.", headers={"Retry-After": "5"})


def _media_type(request: Request) -> MediaType:
    declared = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        return MediaType(declared)
    except ValueError:
        raise Problem(415, "unsupported_media_type", "Unsupported file type", "Định dạng tệp không được hỗ trợ",
                      detail="Send a PDF, JPEG, PNG or HEIC file with its media type as Content-Type "
                             f"({', '.join(MediaType)}).",
                      detail_vi="Chỉ nhận tệp PDF, JPEG, PNG hoặc HEIC, khai đúng Content-Type.") from None


async def _spool(request: Request, staged: Any, limit: int) -> tuple[str, int]:
    """Write the body to ``staged`` as it arrives; its SHA-256 and size. Refuses a body over ``limit`` as soon as it
    passes it, and a body shorter than its Content-Length (cut off)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    digest = hashlib.sha256()
    size = 0
    cut_off = _refused(400, ContentProblem("truncated", "The upload stopped before the whole file arrived; send it "
                                           "again.", "Tệp chưa được gửi hết; hãy gửi lại."))
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            digest.update(chunk)
            await asyncio.to_thread(staged.write, chunk)
    except ClientDisconnect:
        raise cut_off from None
    if declared is not None and declared.isdigit() and size != int(declared):
        raise cut_off
    if size == 0:
        raise _refused(422, ContentProblem("empty_file", "The file is empty.", "Tệp rỗng."))
    await asyncio.to_thread(staged.flush)
    return digest.hexdigest(), size


def _inspect(path: Path, media_type: MediaType) -> ContentProblem | None:
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return content_problem(data, media_type)


@router.post(
    "/attachments", operation_id="upload_attachment", status_code=201, response_model=AttachmentReceipt,
    dependencies=[write_limit("upload_attachment")],
    summary="Upload one file (a scan of a paper) to attach to a submission or a supplement",
    description="The body is the file itself, its media type the Content-Type: PDF, JPEG, PNG or HEIC, at most "
                "CUTRU_ATTACHMENT_MAX_BYTES (10 MiB by default). The file is checked (type by its first bytes, "
                "decompression bombs, polyglots, a cut-off body, malware) and stored under its SHA-256; a refused "
                "file is not stored at all. Uploading the same content again answers 200 with "
                "`already_stored: true`.",
    openapi_extra={"requestBody": {"required": True, "content": {
        media_type.value: {"schema": {"type": "string", "format": "binary"}} for media_type in MediaType}}},
    responses={200: {"model": AttachmentReceipt, "description": "the same content was stored before"},
               **problem_responses(400, 401, 403, 413, 415, 422, 503), **RATE_LIMITED},
)
async def upload_attachment(
    request: Request, state: State, principal: Annotated[Principal, Depends(permit("upload_attachment"))],
    file_name: Annotated[str, Query(pattern=FILE_NAME_PATTERN, description="the file's name on the citizen's "
                                                                           "device, shown to officers")],
) -> Response:
    media_type = _media_type(request)
    store, limit = state.store, state.settings.attachments.max_bytes
    with tempfile.NamedTemporaryFile(dir=store.staging, prefix="upload-", delete=False) as staged:
        path = Path(staged.name)
    try:
        with path.open("wb") as spool:
            sha256, size = await _spool(request, spool, limit)
        try:
            threat = await state.scanner.scan(path)
        except ScannerUnavailable as error:
            raise _not_stored("scanner_unavailable", "The malware scanner is unavailable",
                              "Chưa kiểm tra được mã độc") from error
        if threat is not None:
            raise _refused(422, ContentProblem("malware_found", f"The malware scan found {threat}; the file is "
                                               "not stored.", f"Phát hiện mã độc ({threat}); tệp không được lưu."))
        problem = await asyncio.to_thread(_inspect, path, media_type)
        if problem is not None:
            raise _refused(422, problem)
        already = await _commit(state, path, sha256, media_type, size, principal, type(state.scanner).__name__)
    finally:
        path.unlink(missing_ok=True)
    receipt = AttachmentReceipt(sha256=sha256, media_type=media_type, size_bytes=size, file_name=file_name,
                                already_stored=already)
    return JSONResponse(receipt.model_dump(mode="json"), status_code=200 if already else 201)


async def _commit(state: ApiState, path: Path, sha256: str, media_type: MediaType, size: int,
                  principal: Principal, scanner: str) -> bool:
    """Record the file and commit it to the store in one transaction: a store that fails leaves no row. Whether it
    was stored before."""
    async with state.pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetchval(
            "INSERT INTO attachments (sha256, media_type, size_bytes, scanned_by, uploaded_by)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING RETURNING true",
            sha256, media_type.value, size, scanner, principal.subject)
        if inserted:
            try:
                await state.store.commit(path, sha256, media_type.value, size)
            except StoreError as error:
                raise _not_stored("store_unavailable", "The file store is unavailable",
                                  "Kho lưu trữ tệp tạm thời không sẵn sàng") from error
    return not inserted


# ---------------------------------------------------------------------------------------------- references


async def unknown_uploads(pool: asyncpg.Pool, papers: Sequence[AttachmentRef],
                          field: str = "attachments.{}.sha256") -> list[FieldError]:
    """The references that name no stored file, or name one with another media type or size; ``field`` places the
    index of each in the request."""
    rows = await pool.fetch("SELECT sha256, media_type, size_bytes FROM attachments WHERE sha256 = ANY($1)",
                            [paper.sha256 for paper in papers])
    stored = {row["sha256"]: (row["media_type"], row["size_bytes"]) for row in rows}
    return [FieldError(field=field.format(index),
                       message="no file with this SHA-256, media type and size was uploaded: upload it first "
                               "(POST /v1/attachments)",
                       message_vi="Chưa tải lên tệp có mã SHA-256, định dạng và dung lượng này; hãy tải tệp lên "
                                  "trước (POST /v1/attachments).")
            for index, paper in enumerate(papers)
            if stored.get(paper.sha256) != (paper.media_type.value, paper.size_bytes)]


async def check_uploads(pool: asyncpg.Pool, papers: Sequence[AttachmentRef],
                        field: str = "attachments.{}.sha256") -> None:
    """422 when a reference names no stored file."""
    errors = await unknown_uploads(pool, papers, field)
    if errors:
        raise validation_problem(errors)


async def link(pool: asyncpg.Pool | asyncpg.Connection, dossier_code: str, papers: Sequence[AttachmentRef],
               checklist_items: Sequence[int | None] | None = None) -> None:
    """Record that the dossier carries these files (again: nothing changes); on a connection, in its transaction."""
    if not papers:
        return
    items = checklist_items or [None] * len(papers)
    await pool.executemany(
        "INSERT INTO dossier_attachments (dossier_code, sha256, kind, file_name, checklist_item)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        [(dossier_code, paper.sha256, paper.kind.value, paper.file_name, item)
         for paper, item in zip(papers, items, strict=True)])


async def check_answers(state: ApiState, code: str, answers: Sequence[ChecklistAnswer]) -> None:
    """The answers fit the dossier's CT05 checklist: each names an item still missing, with a paper of a kind the
    item accepts, uploaded before. 409 when the supplement request has no checklist, 422 otherwise."""
    checklist = (await state.dossiers.status(code)).checklist
    if not checklist:
        raise Problem(409, "no_checklist", "The supplement request has no checklist",
                      "Yêu cầu bổ sung không có danh mục từng mục",
                      detail=f"Dossier {code} asks for its missing items as a list: send provided_items.",
                      detail_vi=f"Hồ sơ {code} yêu cầu bổ sung theo danh sách: gửi provided_items.")
    errors: list[FieldError] = []
    taken: set[int] = set()
    for index, answer in enumerate(answers):
        entry = checklist[answer.item] if answer.item < len(checklist) else None
        if entry is None:
            errors.append(FieldError(field=f"answers.{index}.item", message=f"the checklist has {len(checklist)} "
                                     "items, numbered from 0", message_vi=f"Danh mục có {len(checklist)} mục, "
                                     "đánh số từ 0."))
        elif entry.answer is not None or answer.item in taken:
            errors.append(FieldError(field=f"answers.{index}.item", message="this item is already answered",
                                     message_vi="Mục này đã được bổ sung."))
        elif answer.attachment.kind not in entry.accepted_kinds:
            errors.append(FieldError(
                field=f"answers.{index}.attachment.kind",
                message=f"this item accepts {', '.join(entry.accepted_kinds)}",
                message_vi="Mục này chỉ nhận: " + "; ".join(kind.vietnamese for kind in entry.accepted_kinds)))
        taken.add(answer.item)
    if errors:
        raise validation_problem(errors)
    await check_uploads(state.pool, [answer.attachment for answer in answers], "answers.{}.attachment.sha256")


# ---------------------------------------------------------------------------------------------- officers

_PAPERS = """
SELECT d.kind, d.sha256, d.file_name, a.media_type, a.size_bytes, d.checklist_item, d.attached_at,
       f.accepted, f.reason, f.officer_id, f.at
FROM dossier_attachments d JOIN attachments a USING (sha256)
LEFT JOIN LATERAL (SELECT accepted, reason, officer_id, at FROM attachment_findings f
                   WHERE (f.dossier_code, f.sha256, f.kind) = (d.dossier_code, d.sha256, d.kind)
                   ORDER BY finding_id DESC LIMIT 1) f ON true
WHERE d.dossier_code = $1 AND ($2::text IS NULL OR d.sha256 = $2) AND ($3::text IS NULL OR d.kind = $3)
ORDER BY d.attached_at, d.kind, d.sha256
"""


def _paper(code: str, row: asyncpg.Record) -> AttachedPaper:
    kind = AttachmentKind(row["kind"])
    finding = Finding(accepted=row["accepted"], reason=row["reason"], officer_id=row["officer_id"], at=row["at"]) \
        if row["officer_id"] is not None else None
    return AttachedPaper(kind=kind, kind_vi=kind.vietnamese, sha256=row["sha256"], file_name=row["file_name"],
                         media_type=row["media_type"], size_bytes=row["size_bytes"],
                         checklist_item=row["checklist_item"], attached_at=row["attached_at"],
                         href=f"/v1/desk/dossiers/{code}/attachments/{row['sha256']}", finding=finding)


async def papers_of(pool: asyncpg.Pool, code: str) -> list[AttachedPaper]:
    """The dossier's attached papers with their latest findings (the desk's page lists them)."""
    return [_paper(code, row) for row in await pool.fetch(_PAPERS, code, None, None)]


def _no_paper(code: str, sha256: str) -> Problem:
    return Problem(404, "attachment_not_found", "No such paper on this dossier", "Hồ sơ không có giấy tờ này",
                   detail=f"Dossier {code} carries no file {sha256}.",
                   detail_vi=f"Hồ sơ {code} không có tệp {sha256}.")


_DESK_READS = problem_responses(401, 403, 404, 422)


@desk_router.get("/dossiers/{code}/attachments", response_model=list[AttachedPaper], responses=_DESK_READS,
                 operation_id="desk_attachments", summary="The papers attached to a dossier, with their findings")
async def desk_attachments(code: str, state: State,
                           principal: Annotated[Principal, Depends(permit("officer_view"))]) -> list[AttachedPaper]:
    await _visible(state, principal, code)
    return await papers_of(state.pool, code)


@desk_router.get(
    "/dossiers/{code}/attachments/{sha256}", operation_id="desk_attachment", response_class=Response,
    summary="Open one attached paper (streamed, as uploaded)",
    responses={200: {"content": {media_type.value: {"schema": {"type": "string", "format": "binary"}}
                                 for media_type in MediaType}, "description": "the file, as uploaded"},
               **_DESK_READS},
)
async def desk_attachment(code: str, sha256: Sha256, state: State,
                          principal: Annotated[Principal, Depends(permit("officer_view"))]) -> Response:
    await _visible(state, principal, code)
    paper = await paper_response(state, code, sha256)
    await record_reads(state.pool, principal, [code], Channel.API, "desk_attachment")
    return paper


async def paper_response(state: ApiState, code: str, sha256: str) -> Response:
    """The file the dossier carries as ``sha256``, streamed from the store (the API's and the web desk's), for a
    caller already allowed to see the dossier."""
    row = await state.pool.fetchrow(
        "SELECT d.file_name, a.media_type, a.size_bytes FROM dossier_attachments d JOIN attachments a USING (sha256)"
        " WHERE d.dossier_code = $1 AND d.sha256 = $2 LIMIT 1", code, sha256)
    if row is None:
        raise _no_paper(code, sha256)
    ascii_name = row["file_name"].encode("ascii", "replace").decode().replace("?", "_")
    return StreamingResponse(state.store.read(sha256), media_type=row["media_type"], headers={
        "Content-Length": str(row["size_bytes"]),
        "Content-Disposition": f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row['file_name'])}",
        "ETag": f'"{sha256}"', "Cache-Control": "private, no-cache",
        # Shown as what it was checked to be, never sniffed into something else, and never run as a page.
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})


@desk_router.post(
    "/dossiers/{code}/attachments/{sha256}/findings", operation_id="desk_attachment_finding", status_code=201,
    response_model=AttachedPaper, dependencies=[write_limit("decide")],
    responses={**problem_responses(401, 403, 404, 422), **RATE_LIMITED},
    summary="Record the officer's finding on one attached paper: accepted, or not accepted with the reason",
)
async def desk_attachment_finding(code: str, sha256: Sha256, body: FindingRequest, state: State,
                                  principal: Annotated[Principal, Depends(permit("decide"))]) -> Response:
    unit, _ = await _writable(state, principal, code)
    officer = await _acting_officer(state, principal, unit, supervisor=False)
    inserted = await state.pool.fetchval(
        "INSERT INTO attachment_findings (dossier_code, sha256, kind, accepted, reason, officer_id)"
        " SELECT dossier_code, sha256, kind, $4, $5, $6 FROM dossier_attachments"
        " WHERE dossier_code = $1 AND sha256 = $2 AND kind = $3 RETURNING true",
        code, sha256, body.kind.value, body.accepted, body.reason, officer.officer_id)
    if not inserted:
        raise _no_paper(code, sha256)
    [row] = await state.pool.fetch(_PAPERS, code, sha256, body.kind.value)
    return JSONResponse(_paper(code, row).model_dump(mode="json"), status_code=201)
