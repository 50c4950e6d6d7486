"""Issuing the result documents and delivering them, once per dossier.

Documents are rendered to PDF, stored by reference (path + SHA-256 in ``documents``), never put in a Temporal
payload. Electronic delivery hands the stored files to the citizen's VNeID/e-mail outbox; postal delivery
records a dispatch. Both write one ``deliveries`` row per dossier; a retry finds it and sends nothing again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from activities.contracts import DeliveryReceipt, DeliveryRequest
from domain.admin_units import commune, commune_of_unit, police_unit_name, province_name
from domain.models import DossierState
from domain.procedures import PROCEDURES, DocumentKind

if TYPE_CHECKING:
    import asyncpg

_RESULT_TEXT = {
    DossierState.COMPLETED: "Hồ sơ đã được giải quyết; thông tin cư trú đã được cập nhật vào Cơ sở dữ liệu về cư trú.",
}


def _document_data(request: DeliveryRequest, kind: DocumentKind, issued_at: datetime):  # type: ignore[no-untyped-def]
    from domain.documents import DocumentData

    submission = request.submission
    assert submission is not None
    unit = commune_of_unit(submission.police_unit)
    details = getattr(submission, "details", None)
    residence = getattr(details, "residence", None)
    if residence is not None:
        where = commune(residence.commune_code)
        address = f"{residence.address_line}, {where.name if where else ''}, {province_name(residence.province_code)}"
    else:
        address = submission.delivery.destination
    return DocumentData(
        dossier_code=request.dossier_code,
        procedure=request.procedure,
        kind=kind,
        police_unit=police_unit_name(unit.code) if unit else submission.police_unit,
        province=province_name(unit.province_code) if unit else "",
        full_name=submission.applicant.full_name,
        personal_id=submission.applicant.personal_id,
        birth_date=submission.applicant.birth_date,
        address=address,
        issued_at=issued_at,
        refusal_reason="; ".join(r.message for r in request.refusals) or None,
        result_text=_RESULT_TEXT.get(request.final_state, PROCEDURES[request.procedure].vietnamese_name),
        appointment_date=request.deadline.date() if request.deadline else None,
        officer_name=request.decided_by,
    )


async def deliver(conn: asyncpg.Connection, request: DeliveryRequest, document_dir: Path) -> DeliveryReceipt:
    from domain.documents import store

    existing = await conn.fetchrow(
        "SELECT method, documents FROM deliveries WHERE dossier_code = $1", request.dossier_code
    )
    if existing is not None:
        hashes = await conn.fetch(
            "SELECT sha256 FROM documents WHERE dossier_code = $1 ORDER BY kind", request.dossier_code
        )
        return DeliveryReceipt(dossier_code=request.dossier_code, method=existing["method"],
                               documents=tuple(DocumentKind(k) for k in existing["documents"]),
                               sha256=tuple(r["sha256"] for r in hashes))
    submission = request.submission
    issued_at = datetime.now(UTC)
    hashes: list[str] = []
    for kind in request.documents if submission is not None else ():
        stored = store(_document_data(request, kind, issued_at), document_dir)
        hashes.append(stored.sha256)
        await conn.execute(
            "INSERT INTO documents (dossier_code, kind, sha256, path) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (dossier_code, kind) DO UPDATE SET sha256 = EXCLUDED.sha256, path = EXCLUDED.path",
            request.dossier_code, kind.value, stored.sha256, str(stored.path),
        )
    if submission is None:
        # An invalid submission has no trustworthy destination: the refusal stays in the audit trail only.
        return DeliveryReceipt(dossier_code=request.dossier_code, method="none", documents=(), sha256=())
    method, destination = submission.delivery.method, submission.delivery.destination
    await conn.execute(
        "INSERT INTO deliveries (dossier_code, method, destination, documents) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (dossier_code) DO NOTHING",
        request.dossier_code, method, destination, [k.value for k in request.documents],
    )
    return DeliveryReceipt(dossier_code=request.dossier_code, method=method, documents=request.documents,
                           sha256=tuple(hashes))
