"""Issuing the legal documents of a dossier and delivering its result, once per dossier.

Documents are rendered to PDF and stored by reference (path + SHA-256 in ``documents``), never put in a Temporal
payload. Electronic delivery hands the stored files to the citizen's VNeID/e-mail outbox; postal delivery
records a dispatch. Both write one ``deliveries`` row per dossier; a retry finds it and sends nothing again.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from activities.contracts import DeliveryReceipt, DeliveryRequest, DocumentRequest, DossierPaper, DraftRequest
from activities.files import make_directories, make_durable
from activities.records import activity_now, ct07_statements
from domain.admin_units import commune_of_unit, format_address, police_unit_name, province_name
from domain.calendar import local_date
from domain.kinds import DocumentKind
from domain.procedures.catalogue import PROCEDURES
from domain.rulesets import rules_for
from domain.verification import CODE_BITS, VERIFIED_KINDS, code_from_bits

if TYPE_CHECKING:
    from collections.abc import Sequence

    import asyncpg

    from domain.documents import DocumentData, RenderedDocument, StoredDocument

# Forms whose content comes from what the dossier's commit recorded (``residence_changes.summary``); the same are
# the results the unit head signs.
_FROM_RECORDS = _SIGNED_BY_HEAD = frozenset({DocumentKind.CT03, DocumentKind.CT07, DocumentKind.CT08})

_CURRENT_ADDRESS_SQL = """
SELECT province_code, commune_code, address_line FROM (
    SELECT 1 AS rank, r.province_code, r.commune_code, r.address_line
    FROM permanent_residences p JOIN residences r ON r.residence_id = p.residence_id
    WHERE p.personal_id = $1 AND p.status = 'active'
    UNION ALL
    SELECT 2, r.province_code, r.commune_code, r.address_line
    FROM temporary_residences t JOIN residences r ON r.residence_id = t.residence_id
    WHERE t.personal_id = $1 AND t.status = 'active'
    UNION ALL
    SELECT 3, province_code, commune_code, address_line FROM residence_declarations
    WHERE personal_id = $1 AND status = 'active'
) places ORDER BY rank LIMIT 1
"""


# Where the QR codes of a local stack's results point (the API's own address): the worker's default.
LOCAL_VERIFICATION_URL = "http://127.0.0.1:8000/v1/verifications"


def document_data(request: DocumentRequest, kind: DocumentKind, issued_at: datetime,
                  recorded: dict[str, str] | None = None, address: str | None = None,
                  verification: tuple[str, str] | None = None, *, draft: bool = False) -> DocumentData:
    """The content of one legal form, from the dossier and, for result forms, what its commit recorded.

    ``recorded`` is the commit's summary (CT07 statements and valid-until, CT08 facts); ``address`` the person's
    current address from the records, used when neither the summary nor the details name a place;
    ``verification`` a result's code and the verification endpoint's address (``reserve_code``); ``draft`` a
    preview that is never issued (``DocumentData.draft``).
    """
    from domain.documents import DocumentData

    paper = request.paper
    assert paper is not None, "documents are issued only for valid submissions"
    recorded = recorded or {}
    unit = commune_of_unit(paper.police_unit)
    kind_fields: dict[str, Any] = {}
    if kind is DocumentKind.CT04 and request.deadline is not None:
        kind_fields["appointment_date"] = local_date(request.deadline)
        if request.deadline_proof is not None:
            kind_fields["deadline_counting"] = request.deadline_proof.lines_vi()
    elif kind is DocumentKind.CT07:
        kind_fields["valid_until"] = date.fromisoformat(recorded["valid_until"])
        kind_fields["residence_statements"] = tuple(json.loads(recorded["statements"]))
    elif kind is DocumentKind.CT08:
        text = PROCEDURES[request.procedure].result_text
        assert text is not None, "a procedure with a CT08 result has its text"
        kind_fields["result_text"] = text(recorded)
    elif kind is DocumentKind.CT03:
        kind_fields |= paper.form_fields
    return DocumentData(
        dossier_code=request.dossier_code,
        procedure=request.procedure,
        kind=kind,
        police_unit=police_unit_name(unit.code) if unit else paper.police_unit,
        province=(province_name(unit.province_code) or "") if unit else "",
        full_name=paper.applicant.full_name,
        personal_id=paper.applicant.personal_id,
        birth_date=paper.applicant.birth_date,
        address=recorded.get("address") or paper.place or address or paper.delivery.destination,
        issued_at=issued_at,
        refusal_reason="; ".join(r.message_vi or r.message for r in request.refusals) or None,
        missing_items=request.missing_items,
        checklist=request.checklist,
        # A result form names its signer, never an officer code; a receipt outcome its receiving officer.
        officer_name=None if kind in _SIGNED_BY_HEAD else request.decided_by,
        signer=request.signer if kind in _SIGNED_BY_HEAD else None,
        verification_code=verification[0] if verification else None,
        verification_url=verification[1] if verification else None,
        draft=draft,
        **kind_fields,
    )


_SUMMARY_SQL = "SELECT summary FROM residence_changes WHERE dossier_code = $1"

# A delivery's row if it was sent (method and documents NULL if not) and the commit's summary, in one round trip
# (the delivery activity reads it after the opening trail entries: dossier._OPEN_DELIVERY).
DELIVERED = (
    f"SELECT d.method, d.documents, ({_SUMMARY_SQL}) AS summary"
    " FROM (VALUES (1)) AS one (x) LEFT JOIN deliveries d ON d.dossier_code = $1"
)


async def _recorded(conn: asyncpg.Connection, request: DocumentRequest, found: Any = None) -> dict[str, str]:
    """The commit's summary (in ``found``, ``DELIVERED``'s row, if the caller read it); for a CT07 without one
    (never committed), the records as they stand."""
    stored = found["summary"] if found is not None else await conn.fetchval(_SUMMARY_SQL, request.dossier_code)
    return await _with_ct07(conn, request, json.loads(stored) if stored else {}, local_date(activity_now()))


async def _with_ct07(conn: asyncpg.Connection, request: DocumentRequest, recorded: dict[str, str],
                     on: date) -> dict[str, str]:
    """``recorded``, with a CT07's statements and valid-until from the records as they stand when it has none."""
    if DocumentKind.CT07 in request.kinds and "statements" not in recorded:
        paper = request.paper
        assert paper is not None
        statements, _, declared = await ct07_statements(conn, paper.applicant.personal_id)
        valid_until = rules_for(paper.received_at).ct07.valid_until(on, declared)
        recorded |= {"statements": json.dumps(statements, ensure_ascii=False), "valid_until": valid_until.isoformat()}
    return recorded


async def draft_documents(conn: asyncpg.Connection, request: DraftRequest,
                          planned: dict[str, str]) -> tuple[DocumentData, ...]:
    """The result's documents as drafts dated ``request.at``: what the commit's plan would record (``planned``, its
    summary before any step is applied; the records as they stand for a CT07), nothing written, no verification
    code."""
    submission = request.submission
    kinds = PROCEDURES[submission.procedure].results
    paper = DossierPaper.of(submission)
    documents = DocumentRequest(dossier_code=submission.dossier_code, procedure=submission.procedure, kinds=kinds,
                                paper=paper, signer=request.signer)
    recorded = await _with_ct07(conn, documents, dict(planned), local_date(request.at))
    address = None if paper.place else await _current_address(conn, paper.applicant.personal_id)
    return tuple(document_data(documents, kind, request.at, recorded, address, draft=True) for kind in kinds)


async def _current_address(conn: asyncpg.Connection, personal_id: str) -> str | None:
    row = await conn.fetchrow(_CURRENT_ADDRESS_SQL, personal_id)
    return format_address(row["province_code"], row["commune_code"], row["address_line"]) if row else None


# Registering stored documents: $1 the dossier, $2-$4 arrays of kinds, hashes and paths (``register_args``).
REGISTER = ("INSERT INTO documents (dossier_code, kind, sha256, path) SELECT $1::text, t.k, t.h, t.p"
             " FROM unnest($2::text[], $3::text[], $4::text[]) AS t(k, h, p)"
             " ON CONFLICT (dossier_code, kind) DO UPDATE SET sha256 = EXCLUDED.sha256, path = EXCLUDED.path")
# The delivery's row ($1-$4), which sends it, and the registration of its documents ($5-$7).
DELIVERY_ROW = ("INSERT INTO deliveries (dossier_code, method, destination, documents) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (dossier_code) DO NOTHING")
REGISTERED = "registered AS (" + REGISTER.replace("$4", "$7").replace("$3", "$6").replace("$2", "$5") + ")"
DELIVER = f"WITH {REGISTERED} {DELIVERY_ROW}"


def register_args(stored: Sequence[tuple[DocumentKind, StoredDocument]]) -> tuple[list[str], list[str], list[str]]:
    return ([kind.value for kind, _ in stored], [document.sha256 for _, document in stored],
            [str(document.path) for _, document in stored])


# A result's verification code ($1 the dossier, $2 the kind, $3 a fresh code, $4 the unit, $5 the issue time), one
# row whatever the attempt: the first attempt's code stays, so a retried activity prints it again and renders the
# same bytes. No row when the fresh code is another document's (one draw in 2^50 per code issued): draw again.
_RESERVE_CODE = (
    "WITH new AS (INSERT INTO result_verifications (code, dossier_code, kind, unit_code, issued_at)"
    " VALUES ($3, $1, $2, $4, $5) ON CONFLICT DO NOTHING RETURNING code)"
    " SELECT code FROM new UNION ALL"
    " SELECT code FROM result_verifications WHERE dossier_code = $1 AND kind = $2"
)


# _RESERVE_CODE for each of a result's verified documents ($1 the dossier, $7 their kinds, $8 fresh codes, $9 the unit,
# $10 the issue time: ``reserve_args``), to ride in a statement the delivery runs anyway with DELIVERED, which then
# also reads the codes as a JSON object by kind (``RESERVED_CODES``). A kind whose fresh code was another document's
# is absent from it: ``prepare_documents`` draws again.
RESERVE_CODES = (
    "reserved AS (INSERT INTO result_verifications (code, dossier_code, kind, unit_code, issued_at)"
    " SELECT r.code, $1::text, r.kind, $9::text, $10::timestamptz FROM unnest($8::text[], $7::text[]) AS r(code, kind)"
    " ON CONFLICT DO NOTHING RETURNING kind, code)"
)
RESERVED_CODES = DELIVERED.replace(
    " FROM (VALUES (1))",
    ", (SELECT jsonb_object_agg(c.kind, c.code) FROM (SELECT kind, code FROM reserved UNION ALL"
    " SELECT kind, code FROM result_verifications WHERE dossier_code = $1 AND kind = ANY($7::text[])) c) AS codes"
    " FROM (VALUES (1))", 1)


def reserve_args(request: DocumentRequest) -> tuple[list[str], list[str], str | None, datetime]:
    """``RESERVE_CODES``' $7-$10 for the request's verified documents (none without a valid submission's paper)."""
    paper = request.paper
    kinds: list[str] = [k.value for k in request.kinds if k.value in VERIFIED_KINDS] if paper is not None else []
    return (kinds, [code_from_bits(secrets.randbits(CODE_BITS)) for _ in kinds],
            paper.police_unit if paper is not None else None, activity_now())


async def reserve_code(conn: asyncpg.Connection, dossier_code: str, kind: DocumentKind, unit_code: str,
                       issued_at: datetime) -> str:
    """The verification code of a dossier's result document: drawn here, in the activity, and kept in
    ``result_verifications``; the workflow never sees it, so replays are untouched by its randomness."""
    while True:
        code = await conn.fetchval(_RESERVE_CODE, dossier_code, kind.value,
                                   code_from_bits(secrets.randbits(CODE_BITS)), unit_code, issued_at)
        if code is not None:
            return str(code)


async def prepare_documents(conn: asyncpg.Connection, request: DocumentRequest, document_dir: Path,
                            found: Any = None, verification_url: str | None = None
                            ) -> list[tuple[DocumentKind, RenderedDocument]]:
    """Render each requested document for its place in the store, nothing written (``write_documents``) nor
    registered (``REGISTER``); ``found`` as for ``deliver`` (``RESERVED_CODES``' row holds the verification codes
    reserved already); ``verification_url`` the public verification endpoint
    the results' QR codes point to (required when a CT07 or CT08 is among the documents).

    A CT04 receipt is dated at the receipt of the dossier (its appointment counts from then); every other form
    at the activity's first scheduling, so a retried activity renders the same bytes (the same hash) for the same
    path.
    """
    from domain.documents import render_to_store

    paper = request.paper
    if paper is None:
        return []
    recorded = await _recorded(conn, request, found) if _FROM_RECORDS & set(request.kinds) else {}
    address = None if paper.place else await _current_address(conn, paper.applicant.personal_id)
    reserved = json.loads(codes) if found is not None and (codes := found.get("codes")) else {}
    stored = []
    for kind in request.kinds:
        issued_at = paper.received_at if kind is DocumentKind.CT04 else activity_now()
        verification = None
        if kind.value in VERIFIED_KINDS:
            if verification_url is None:
                raise ValueError(f"{kind} carries a verification code: give the verification endpoint's address")
            code = reserved.get(kind.value) or await reserve_code(conn, request.dossier_code, kind, paper.police_unit,
                                                                  issued_at)
            verification = (code, verification_url)
        data = document_data(request, kind, issued_at, recorded, address, verification)
        stored.append((kind, render_to_store(data, document_dir)))
    return stored


def write_documents(prepared: list[tuple[DocumentKind, RenderedDocument]]) -> None:
    """Write each rendered document atomically and durably, its name included; a retry with the same bytes only
    flushes them again (an earlier attempt may have renamed and died before its flush). Different bytes for the
    same dossier and kind replace the file (the database row says which one counts)."""
    for _, document in prepared:
        target = document.path
        existed = make_directories(target.parent)
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == document.sha256:
            make_durable(target, existed)
            continue
        # A temporary file in the same directory, so that os.replace is an atomic rename: readers never see half a
        # PDF. Flushed after the rename (activities.files), before the row that names it is written or the step
        # completes.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(document.content)
                tmp.flush()
                os.fchmod(fd, 0o644)  # mkstemp makes 0600; the document is meant to be served
                os.replace(tmp_name, target)
                make_durable(target, existed, fd)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise


async def store_documents(conn: asyncpg.Connection, request: DocumentRequest, document_dir: Path,
                          found: Any = None, verification_url: str | None = None
                          ) -> list[tuple[DocumentKind, StoredDocument]]:
    """``prepare_documents``, written to the store before they are registered: for documents a delivery sends."""
    prepared = await prepare_documents(conn, request, document_dir, found, verification_url)
    write_documents(prepared)
    return list(prepared)


async def issue(conn: asyncpg.Connection, request: DocumentRequest, document_dir: Path) -> tuple[str, ...]:
    """Render, register and store each requested document; return their SHA-256 hashes. The file is written
    after its row (REGISTER): a failed registration leaves no file that no row names, and a failed write fails
    the activity, whose retry writes the same bytes to the same path."""
    prepared = await prepare_documents(conn, request, document_dir)
    if prepared:
        await conn.execute(REGISTER, request.dossier_code, *register_args(prepared))
        write_documents(prepared)
    return tuple(document.sha256 for _, document in prepared)


async def deliver(conn: asyncpg.Connection, request: DeliveryRequest, document_dir: Path,
                  verification_url: str, found: Any = None) -> DeliveryReceipt:
    """Issue the result's documents and send them, once. ``found`` is ``DELIVERED``'s row if the caller read it
    in a statement it ran anyway."""
    receipt, unsent = await issue_result(conn, request, document_dir, verification_url, found)
    if unsent is not None:
        await conn.execute(DELIVER, *unsent)
    return receipt


async def issue_result(conn: asyncpg.Connection, request: DeliveryRequest, document_dir: Path,
                       verification_url: str, found: Any = None) -> tuple[DeliveryReceipt, tuple[Any, ...] | None]:
    """``deliver`` but for the sending: the receipt, and ``DELIVER``'s arguments when the delivery is still to be
    written (None when an earlier attempt sent it, or there is nothing to send), so that the caller can send it in
    a statement it runs anyway."""
    result = request.result
    if found is None:
        found = await conn.fetchrow(DELIVERED, result.dossier_code)
    existing = found if found["method"] is not None else None
    if existing is not None:
        hashes = await conn.fetch("SELECT sha256 FROM documents WHERE dossier_code = $1 AND kind = ANY($2)"
                                  " ORDER BY kind", result.dossier_code, existing["documents"])
        return DeliveryReceipt(dossier_code=result.dossier_code, method=existing["method"],
                               documents=tuple(DocumentKind(k) for k in existing["documents"]),
                               sha256=tuple(r["sha256"] for r in hashes)), None
    paper = result.paper
    if paper is None:
        # An invalid submission has no trustworthy destination: the refusal stays in the audit trail only.
        return DeliveryReceipt(dossier_code=result.dossier_code, method="none", documents=(), sha256=()), None
    stored = await store_documents(conn, result, document_dir, found, verification_url)
    unsent = (result.dossier_code, paper.delivery.method, paper.delivery.destination,
              [k.value for k in result.kinds], *register_args(stored))
    return DeliveryReceipt(dossier_code=result.dossier_code, method=paper.delivery.method,
                           documents=result.kinds, sha256=tuple(document.sha256 for _, document in stored)), unsent
