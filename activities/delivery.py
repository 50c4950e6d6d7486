"""Issuing the legal documents of a dossier and delivering its result, once per dossier.

Documents are rendered to PDF and stored by reference (path + SHA-256 in ``documents``), never put in a Temporal
payload. Electronic delivery hands the stored files to the citizen's VNeID/e-mail outbox; postal delivery
records a dispatch. Both write one ``deliveries`` row per dossier; a retry finds it and sends nothing again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from activities.contracts import DeliveryReceipt, DeliveryRequest, DocumentRequest
from domain.admin_units import commune, commune_of_unit, police_unit_name, province_name
from domain.procedures import PROCEDURES, DocumentKind

if TYPE_CHECKING:
    import asyncpg

    from domain.documents import DocumentData

COMPLETED_TEXT = "Hồ sơ đã được giải quyết; thông tin cư trú đã được cập nhật vào Cơ sở dữ liệu về cư trú."


def _address(submission: Any) -> str:
    residence = getattr(getattr(submission, "details", None), "residence", None)
    if residence is None:
        return str(submission.delivery.destination)
    where = commune(residence.commune_code)
    return f"{residence.address_line}, {where.name if where else ''}, {province_name(residence.province_code)}"


def document_data(request: DocumentRequest, kind: DocumentKind, issued_at: datetime) -> DocumentData:
    """The content of one legal form, from the dossier. Procedure-specific content goes in ``extra``."""
    from domain.documents import DocumentData

    submission = request.submission
    assert submission is not None, "documents are issued only for valid submissions"
    unit = commune_of_unit(submission.police_unit)
    return DocumentData(
        dossier_code=request.dossier_code,
        procedure=request.procedure,
        kind=kind,
        police_unit=police_unit_name(unit.code) if unit else submission.police_unit,
        province=(province_name(unit.province_code) or "") if unit else "",
        full_name=submission.applicant.full_name,
        personal_id=submission.applicant.personal_id,
        birth_date=submission.applicant.birth_date,
        address=_address(submission),
        issued_at=issued_at,
        refusal_reason="; ".join(r.message for r in request.refusals) or None,
        result_text=COMPLETED_TEXT if kind == DocumentKind.CT08 else PROCEDURES[request.procedure].vietnamese_name,
        appointment_date=request.deadline.date() if request.deadline else None,
        missing_items=request.missing_items,
        officer_name=request.decided_by,
    )


async def issue(conn: asyncpg.Connection, request: DocumentRequest, document_dir: Path) -> tuple[str, ...]:
    """Render, store and register each requested document; return their SHA-256 hashes."""
    from domain.documents import store

    if request.submission is None:
        return ()
    issued_at = datetime.now(UTC)
    hashes = []
    for kind in request.kinds:
        stored = store(document_data(request, kind, issued_at), document_dir)
        hashes.append(stored.sha256)
        await conn.execute(
            "INSERT INTO documents (dossier_code, kind, sha256, path) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (dossier_code, kind) DO UPDATE SET sha256 = EXCLUDED.sha256, path = EXCLUDED.path",
            request.dossier_code, kind.value, stored.sha256, str(stored.path),
        )
    return tuple(hashes)


async def deliver(conn: asyncpg.Connection, request: DeliveryRequest, document_dir: Path) -> DeliveryReceipt:
    result = request.result
    existing = await conn.fetchrow("SELECT method, documents FROM deliveries WHERE dossier_code = $1",
                                   result.dossier_code)
    if existing is not None:
        hashes = await conn.fetch("SELECT sha256 FROM documents WHERE dossier_code = $1 AND kind = ANY($2)"
                                  " ORDER BY kind", result.dossier_code, existing["documents"])
        return DeliveryReceipt(dossier_code=result.dossier_code, method=existing["method"],
                               documents=tuple(DocumentKind(k) for k in existing["documents"]),
                               sha256=tuple(r["sha256"] for r in hashes))
    submission = result.submission
    if submission is None:
        # An invalid submission has no trustworthy destination: the refusal stays in the audit trail only.
        return DeliveryReceipt(dossier_code=result.dossier_code, method="none", documents=(), sha256=())
    hashes = await issue(conn, result, document_dir)
    await conn.execute(
        "INSERT INTO deliveries (dossier_code, method, destination, documents) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (dossier_code) DO NOTHING",
        result.dossier_code, submission.delivery.method, submission.delivery.destination,
        [k.value for k in result.kinds],
    )
    return DeliveryReceipt(dossier_code=result.dossier_code, method=submission.delivery.method,
                           documents=result.kinds, sha256=hashes)
