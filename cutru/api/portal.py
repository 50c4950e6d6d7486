"""Portal backends (role ``portal``, scoped by procedure and police unit): submit, status, supplement, withdraw,
documents and receipts.

Reads come from the read model (``dossiers``, ``documents``), never from the workflow's ``status`` query, and show
nothing a citizen's portal must not: no personal ID number, no name, no raw submission, no internal notes or
findings, no officer id. A portal sees every dossier of its procedures and units (the token's scope), not only
those it filed: the national portal and VNeID file for the same citizens.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from temporalio.service import RPCError, RPCStatusCode

from cutru.api.attachments import check_answers, check_uploads, link, unknown_uploads
from cutru.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from cutru.api.idempotency import idempotent
from cutru.api.problems import (
    FieldError,
    Problem,
    dossier_not_found,
    engine_unavailable,
    field_errors,
    problem_responses,
    validation_problem,
)
from cutru.api.ratelimit import RATE_LIMITED, write_limit
from cutru.api.security import check_procedure, check_readable, check_unit, permit
from cutru.api.state import ApiState, State
from cutru.api.views import (
    BatchItemResult,
    BatchRequest,
    BatchResult,
    DocumentInfo,
    DossierView,
    MessageAccepted,
    Page,
    ReceiptView,
    Rfc3339,
    SubmitReceipt,
    WithdrawalRequest,
    after_time_and_code,
    encode_cursor,
)
from cutru.clients.client import SubmissionRejected, check_submission
from cutru.platform.oidc import Principal
from cutru.platform.reads import Channel, record_reads
from domain.deadlines import DeadlineProof
from domain.kinds import DocumentKind, Procedure
from domain.models import DossierState, SubmissionBase, Supplement, Withdrawal
from domain.procedures.catalogue import PROCEDURES, Submission
from workflows.stay_register import uses_register

router = APIRouter(prefix="/v1", tags=["portal"])

# How many submissions of a batch are being recorded at once.
_BATCH_CONCURRENCY = 64
_WRITE_ERRORS = {**problem_responses(401, 403, 409, 413, 422), **RATE_LIMITED}
_READ_ERRORS = problem_responses(401, 403, 404)
_IDEMPOTENCY_DOC = (f"Send an `{IDEMPOTENCY_HEADER}` header (a UUID) to make a retry safe: the same key and body "
                    "replay the first answer.")


# ---------------------------------------------------------------------------------------------- helpers


def _rejected(errors: list[str]) -> Problem:
    """SubmissionRejected's ``field: message`` lines as field errors."""
    items = []
    for line in errors:
        field, _, message = line.partition(": ")
        items.append(FieldError(field=field, message=message or line,
                                message_vi=f"Giá trị không hợp lệ: {message or line}"))
    return validation_problem(items)


def _check_scope(principal: Principal, submission: SubmissionBase, assisted_by: str | None = None) -> None:
    """The caller's procedures and units; an assisted dossier only from the counter intake of its officer
    (``cutru.api.intake``, ``assisted_by``): a portal cannot name an officer."""
    check_procedure(principal, submission.procedure)  # type: ignore[attr-defined]
    check_unit(principal, submission.police_unit)
    if submission.filed_by != assisted_by:
        raise validation_problem([FieldError(
            field="channel", message="an assisted dossier is filed by an officer at the counter (POST /v1/intake)",
            message_vi="Hồ sơ nộp hỗ trợ tại quầy chỉ do cán bộ tiếp nhận nộp (POST /v1/intake)")])


def _receipt(submission: SubmissionBase, already: bool) -> SubmitReceipt:
    return SubmitReceipt(dossier_code=submission.dossier_code, procedure=submission.procedure,  # type: ignore[attr-defined]
                         police_unit=submission.police_unit, received_at=submission.received_at,
                         already_submitted=already, status_href=f"/v1/dossiers/{submission.dossier_code}")


async def submit(state: ApiState, submission: SubmissionBase) -> bool:
    """Take the dossier in; whether it was submitted before.

    A dossier is recorded in the intake outbox (``cutru.api.outbox``), in one transaction with its attachments'
    links, and started after the commit: what it answers is that PostgreSQL holds it, whether Temporal is up or not.
    A code the intake or the read model holds already is not recorded again: under another procedure it is refused
    (409 ``dossier_code_taken``), under the same one it is this dossier, submitted before (its workflow id may be
    free in Temporal again once the retention period has passed; the dossier's effects are bound to its first
    workflow all the same: ``activities.runs``).

    An establishment's stay notification goes to its register at once (RPCError when Temporal cannot take it): the
    register tells duplicates apart."""
    if uses_register(submission):
        await state.dossiers.submit(submission)
        await link(state.pool, submission.dossier_code, submission.attachments)
        return False
    already = await state.outbox.record(submission)
    if not already:
        state.outbox.start_soon(submission)
    return already


# applicant_id only for the withdrawal's check: no view shows it.
_DOSSIER = ("SELECT dossier_code, procedure, status, unit_code, received_at, deadline, overdue, fee_vnd,"
            " outcome_reason, updated_at, applicant_id, deadline_proof, EXISTS (SELECT FROM history_archive a"
            " WHERE a.dossier_code = d.dossier_code AND a.sha256 IS NOT NULL) AS archived"
            " FROM dossiers d WHERE dossier_code = $1")


async def _readable(state: ApiState, principal: Principal, code: str) -> asyncpg.Record:
    row = await state.pool.fetchrow(_DOSSIER, code)
    if row is None:
        raise dossier_not_found(code)
    check_readable(principal, code, row["unit_code"], row["procedure"])
    return row


def _document(code: str, row: asyncpg.Record) -> DocumentInfo:
    return DocumentInfo(kind=row["kind"], sha256=row["sha256"], created_at=row["created_at"],
                        href=f"/v1/dossiers/{code}/documents/{row['kind']}")


async def _documents(state: ApiState, code: str) -> list[DocumentInfo]:
    rows = await state.pool.fetch(
        "SELECT kind, sha256, created_at FROM documents WHERE dossier_code = $1 ORDER BY kind", code)
    return [_document(code, row) for row in rows]


def _view(row: asyncpg.Record, documents: list[DocumentInfo]) -> DossierView:
    return DossierView(
        dossier_code=row["dossier_code"], procedure=row["procedure"],
        vietnamese_name=PROCEDURES[Procedure(row["procedure"])].vietnamese_name, status=row["status"],
        police_unit=row["unit_code"], received_at=row["received_at"], deadline=row["deadline"],
        overdue=row["overdue"], fee_vnd=row["fee_vnd"], outcome_reason=row["outcome_reason"],
        updated_at=row["updated_at"], documents=documents,
        # Listings leave the proof out (it is one dossier's detail); a dossier accepted before it has none.
        deadline_proof=(DeadlineProof.model_validate_json(row["deadline_proof"])
                        if "deadline_proof" in row and row["deadline_proof"] else None),
        history=("archive" if row["archived"] else "temporal") if "archived" in row else None,
    )


def _json(model: Any, status: int) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


async def _signal(send: Any, code: str) -> None:
    try:
        await send
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise _closed(code) from error
        raise


def _closed(code: str) -> Problem:
    return Problem(409, "dossier_closed", "The dossier is closed", "Hồ sơ đã kết thúc",
                   detail=f"Dossier {code} has closed; it takes no more messages.",
                   detail_vi=f"Hồ sơ {code} đã kết thúc, không nhận thêm yêu cầu.")


# ---------------------------------------------------------------------------------------------- writes


@router.post(
    "/dossiers", operation_id="submit_dossier", dependencies=[write_limit("submit_dossier")], status_code=201,
    response_model=SubmitReceipt,
    summary="Submit one dossier",
    description="Records the dossier under its code: 201 means it is durably recorded (in PostgreSQL), and it "
                "starts at once, or as soon as the workflow engine can take it. A code already submitted answers "
                "200 with `already_submitted: true` and records nothing. " + _IDEMPOTENCY_DOC,
    responses={200: {"model": SubmitReceipt, "description": "already submitted: the same dossier"},
               **_WRITE_ERRORS, **problem_responses(503)},
)
async def submit_dossier(submission: Submission, request: Request, state: State,
                         principal: Annotated[Principal, Depends(permit("submit_dossier"))]) -> Response:
    try:
        checked = check_submission(submission)
    except SubmissionRejected as error:
        raise _rejected(error.errors) from error
    _check_scope(principal, checked)
    if checked.attachments:
        await check_uploads(state.pool, checked.attachments)

    async def produce() -> Response:
        try:
            already = await submit(state, checked)
        except RPCError as error:  # a stay notification's register out of reach
            raise engine_unavailable() from error
        return _json(_receipt(checked, already), 200 if already else 201)

    return await idempotent(request, state, principal, produce)


@router.post(
    "/batches", operation_id="submit_batch", dependencies=[write_limit("submit_dossier")], response_model=BatchResult,
    summary="Submit a list of dossiers (an establishment's stay notifications, temporary residence by list)",
    description="Each item is checked and recorded on its own (as `POST /v1/dossiers`: accepted means durably "
                "recorded); the answer gives each item's result in order. An item already submitted is reported, "
                "not recorded again, so a batch may be resent whole. "
                + _IDEMPOTENCY_DOC,
    responses={**_WRITE_ERRORS, **problem_responses(503)},
)
async def submit_batch(batch: BatchRequest, request: Request, state: State,
                       principal: Annotated[Principal, Depends(permit("submit_dossier"))]) -> Response:
    limit = state.settings.max_batch
    if len(batch.items) > limit:
        raise validation_problem([FieldError(field="items", message=f"at most {limit} items in one batch",
                                             message_vi=f"Tối đa {limit} hồ sơ trong một lần gửi")])
    gate = asyncio.Semaphore(_BATCH_CONCURRENCY)
    # Establishments' stay notifications, by index: sent together after the checks, one message per register.
    stays: dict[int, SubmissionBase] = {}

    def not_submitted(index: int, code: str | None, error: RPCError) -> BatchItemResult:
        return BatchItemResult(index=index, dossier_code=code, result="rejected", errors=[FieldError(
            field="(item)", message=f"not submitted ({error.status.name if error.status else 'error'}); "
                                    "send it again", message_vi="Chưa gửi được; hãy gửi lại")])

    async def one(index: int, raw: dict[str, Any]) -> BatchItemResult:
        code = raw.get("dossier_code") if isinstance(raw.get("dossier_code"), str) else None
        try:
            checked = check_submission(raw)
        except SubmissionRejected as error:
            cause = error.__cause__
            errors = field_errors(cause.errors()) if isinstance(cause, ValidationError) \
                else _rejected(error.errors).errors or []
            return BatchItemResult(index=index, dossier_code=code, result="rejected", errors=errors)
        try:
            _check_scope(principal, checked)
        except Problem as refusal:
            return BatchItemResult(index=index, dossier_code=code, result="rejected", errors=[
                FieldError(field="(item)", message=refusal.detail, message_vi=refusal.detail_vi)])
        unknown = await unknown_uploads(state.pool, checked.attachments) if checked.attachments else []
        if unknown:
            return BatchItemResult(index=index, dossier_code=code, result="rejected", errors=unknown)
        if uses_register(checked):
            stays[index] = checked
            return BatchItemResult(index=index, dossier_code=checked.dossier_code, result="accepted")
        async with gate:
            try:
                already = await submit(state, checked)
            except Problem as refusal:
                return BatchItemResult(index=index, dossier_code=code, result="rejected", errors=[
                    FieldError(field="dossier_code", message=refusal.detail, message_vi=refusal.detail_vi)])
        return BatchItemResult(index=index, dossier_code=checked.dossier_code,
                               result="already_submitted" if already else "accepted")

    async def produce() -> Response:
        stays.clear()
        items = list(await asyncio.gather(*(one(i, raw) for i, raw in enumerate(batch.items))))
        if stays:
            try:
                await state.dossiers.notify_batch(list(stays.values()))
            except RPCError as error:
                # Some registers may have taken theirs: sent again, a notification is still recorded once.
                for index, submission in stays.items():
                    items[index] = not_submitted(index, submission.dossier_code, error)
        counts = {kind: sum(item.result == kind for item in items)
                  for kind in ("accepted", "already_submitted", "rejected")}
        return _json(BatchResult(items=items, **counts), 200)

    return await idempotent(request, state, principal, produce)


@router.post(
    "/dossiers/{code}/supplements", operation_id="supplement_dossier", status_code=202,
    dependencies=[write_limit("supplement_dossier")],
    response_model=MessageAccepted, summary="The citizen supplies what a CT05 asked for",
    description="Accepted only while the dossier waits for a supplement. When the CT05 is a checklist, answer its "
                "items (`answers`), one paper each, in one request or several: the dossier resumes, and its clock "
                "runs again, when the last item is answered. " + _IDEMPOTENCY_DOC,
    responses={**_WRITE_ERRORS, **problem_responses(404, 503)},
)
async def supplement_dossier(code: str, supplement: Supplement, request: Request,
                             state: State,
                             principal: Annotated[Principal, Depends(permit("supplement_dossier"))]) -> Response:
    row = await _readable(state, principal, code)
    if row["status"] != DossierState.AWAITING_SUPPLEMENT:
        raise Problem(409, "not_awaiting_supplement", "No supplement is awaited", "Hồ sơ không chờ bổ sung",
                      detail=f"Dossier {code} is {row['status']}; a supplement is accepted only after a CT05.",
                      detail_vi=f"Hồ sơ {code} không ở trạng thái chờ bổ sung (chỉ bổ sung sau phiếu CT05).")

    async def produce() -> Response:
        if supplement.answers:
            await check_answers(state, code, supplement.answers)
            await link(state.pool, code, [answer.attachment for answer in supplement.answers],
                       [answer.item for answer in supplement.answers])
        await _signal(state.dossiers.supplement(code, supplement), code)
        return _json(MessageAccepted(dossier_code=code, message="supplement"), 202)

    return await idempotent(request, state, principal, produce)


@router.post(
    "/dossiers/{code}/withdrawal", operation_id="withdraw_dossier", status_code=202,
    dependencies=[write_limit("withdraw_dossier")],
    response_model=MessageAccepted, summary="The applicant withdraws the dossier before its result",
    description=_IDEMPOTENCY_DOC, responses={**_WRITE_ERRORS, **problem_responses(404, 503)},
)
async def withdraw_dossier(code: str, withdrawal: WithdrawalRequest, request: Request,
                           state: State,
                           principal: Annotated[Principal, Depends(permit("withdraw_dossier"))]) -> Response:
    row = await _readable(state, principal, code)
    status = DossierState(row["status"])
    if status.final:
        raise _closed(code)
    if status is DossierState.AWAITING_FILING:
        raise Problem(409, "not_withdrawable", "Nothing to withdraw", "Không thể rút hồ sơ",
                      detail=f"Dossier {code} was opened by a police notice; the person files, not withdraws.",
                      detail_vi=f"Hồ sơ {code} do cơ quan công an mở theo thông báo; không thể rút.")
    # The dossier checks it too (it ignores another person's withdrawal); here the portal learns it at once.
    if row["applicant_id"] != withdrawal.applicant_id:
        raise Problem(403, "not_the_applicant", "Only the applicant may withdraw", "Chỉ người nộp hồ sơ được rút",
                      detail=f"The person given is not the applicant of dossier {code}.",
                      detail_vi=f"Người đề nghị không phải là người nộp hồ sơ {code}.")

    async def produce() -> Response:
        message = Withdrawal(reason=withdrawal.reason, applicant_id=withdrawal.applicant_id)
        await _signal(state.dossiers.withdraw(code, message), code)
        return _json(MessageAccepted(dossier_code=code, message="withdrawal"), 202)

    return await idempotent(request, state, principal, produce)


# ---------------------------------------------------------------------------------------------- reads


@router.get("/dossiers", operation_id="list_dossiers", response_model=Page[DossierView], responses=_READ_ERRORS,
            summary="The dossiers in your scope, oldest receipt first")
async def list_dossiers(
    state: State,
    principal: Annotated[Principal, Depends(permit("read_dossier"))],
    status: DossierState | None = None,
    procedure: Procedure | None = None,
    received_since: Annotated[Rfc3339 | None, Query(description="received at or after (RFC 3339)")] = None,
    limit: Annotated[int | None, Query(ge=1, description="page size (default and maximum: the API's)")] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Page[DossierView]:
    size = min(limit or state.settings.page_size, state.settings.max_page_size)
    after_at, after_code = after_time_and_code(cursor)
    units = None if "*" in principal.units else sorted(principal.units)
    procedures = None if "*" in principal.procedures else sorted(principal.procedures)
    rows = await state.pool.fetch(
        "SELECT dossier_code, procedure, status, unit_code, received_at, deadline, overdue, fee_vnd,"
        " outcome_reason, updated_at FROM dossiers"
        " WHERE ($1::text[] IS NULL OR unit_code = ANY($1)) AND ($2::text[] IS NULL OR procedure = ANY($2))"
        " AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR procedure = $4)"
        " AND ($5::timestamptz IS NULL OR received_at >= $5)"
        " AND ($6::timestamptz IS NULL OR (received_at, dossier_code) > ($6, $7))"
        " ORDER BY received_at, dossier_code LIMIT $8",
        units, procedures, status.value if status else None, procedure.value if procedure else None,
        received_since, after_at, after_code, size + 1)
    page = rows[:size]
    documents: dict[str, list[DocumentInfo]] = {row["dossier_code"]: [] for row in page}
    for document in await state.pool.fetch(
            "SELECT dossier_code, kind, sha256, created_at FROM documents WHERE dossier_code = ANY($1)"
            " ORDER BY dossier_code, kind", list(documents)):
        documents[document["dossier_code"]].append(_document(document["dossier_code"], document))
    last = page[-1] if len(rows) > size else None
    return Page[DossierView](
        items=[_view(row, documents[row["dossier_code"]]) for row in page],
        next_cursor=encode_cursor([last["received_at"].isoformat(), last["dossier_code"]]) if last else None)


@router.get("/dossiers/{code}", operation_id="get_dossier", response_model=DossierView, responses=_READ_ERRORS,
            summary="A dossier's citizen-safe status")
async def get_dossier(code: str, state: State,
                      principal: Annotated[Principal, Depends(permit("read_dossier"))]) -> DossierView:
    row = await _readable(state, principal, code)
    return _view(row, await _documents(state, code))


@router.get("/dossiers/{code}/documents", operation_id="list_documents", response_model=list[DocumentInfo],
            responses=_READ_ERRORS, summary="A dossier's documents, each with its SHA-256")
async def list_documents(code: str, state: State,
                         principal: Annotated[Principal, Depends(permit("read_dossier"))]) -> list[DocumentInfo]:
    await _readable(state, principal, code)
    return await _documents(state, code)


async def stored_document(state: ApiState, code: str, kind: DocumentKind) -> tuple[bytes, str]:
    """The dossier's document as recorded and its SHA-256 (hex); 404 when it has none (yet), 500 when the stored
    file no longer matches its recorded hash. The caller checks who may read it."""
    row = await state.pool.fetchrow("SELECT sha256, path FROM documents WHERE dossier_code = $1 AND kind = $2",
                                    code, kind.value)
    if row is None:
        raise Problem(404, "document_not_found", "Document not found", "Không tìm thấy giấy tờ",
                      detail=f"Dossier {code} has no {kind.value} (yet).",
                      detail_vi=f"Hồ sơ {code} chưa có {kind.value}.")
    content = await asyncio.to_thread(Path(row["path"]).read_bytes)
    if hashlib.sha256(content).hexdigest() != row["sha256"]:
        # A stored file that no longer matches its recorded hash must not be handed out as the legal document.
        raise Problem(500, "document_corrupt", "The stored document does not match its record",
                      "Giấy tờ lưu trữ không khớp với bản ghi",
                      detail="The operators have been alerted; try again later.",
                      detail_vi="Đã báo cho bộ phận vận hành; hãy thử lại sau.")
    return content, row["sha256"]


@router.get(
    "/dossiers/{code}/documents/{kind}", operation_id="get_document", response_class=Response,
    summary="Download a document (PDF); Repr-Digest carries its SHA-256",
    responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                     "description": "the PDF, as recorded"}, 304: {"description": "not modified"},
               **_READ_ERRORS},
)
async def get_document(code: str, kind: DocumentKind, request: Request, state: State,
                       principal: Annotated[Principal, Depends(permit("read_dossier"))]) -> Response:
    await _readable(state, principal, code)
    sha256 = await state.pool.fetchval("SELECT sha256 FROM documents WHERE dossier_code = $1 AND kind = $2",
                                       code, kind.value)
    etag = f'"{sha256}"'
    if sha256 is not None and etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    content, sha256 = await stored_document(state, code, kind)
    # A document carries the applicant's personal data; the portal's status views carry none and are not recorded.
    await record_reads(state.pool, principal, [code], Channel.API, "get_document")
    digest = base64.b64encode(bytes.fromhex(sha256)).decode()
    return Response(content, media_type="application/pdf", headers={
        "ETag": etag, "Repr-Digest": f"sha-256=:{digest}:", "Digest": f"sha-256={digest}",
        "Content-Disposition": f'attachment; filename="{code}-{kind.value}.pdf"',
        "Cache-Control": "private, no-cache"})


@router.get("/dossiers/{code}/receipt", operation_id="get_receipt", response_model=ReceiptView,
            responses=_READ_ERRORS, summary="The receipt (CT04): received when, result due when")
async def get_receipt(code: str, state: State,
                      principal: Annotated[Principal, Depends(permit("read_dossier"))]) -> ReceiptView:
    row = await _readable(state, principal, code)
    unit_name = await state.pool.fetchval("SELECT name FROM police_units WHERE unit_code = $1", row["unit_code"])
    document = await state.pool.fetchrow(
        "SELECT kind, sha256, created_at FROM documents WHERE dossier_code = $1 AND kind = 'CT04'", code)
    return ReceiptView(
        dossier_code=code, procedure=row["procedure"],
        vietnamese_name=PROCEDURES[Procedure(row["procedure"])].vietnamese_name, police_unit=row["unit_code"],
        police_unit_name=unit_name, received_at=row["received_at"], appointment=row["deadline"],
        fee_vnd=row["fee_vnd"], document=_document(code, document) if document else None)
