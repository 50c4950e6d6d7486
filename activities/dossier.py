"""The activities of the dossier lifecycle, owned by one object holding the worker's dependencies.

Every activity is idempotent by dossier code (Temporal retries them): inserts use the dossier code as key and
``ON CONFLICT DO NOTHING``; the read model (``dossiers``) is upserted. Business refusals are returned as data,
not raised: a refused dossier is a normal outcome, not an activity failure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio import activity

from activities import delivery, records
from activities.contracts import (
    Assignment,
    AuditRecord,
    CommitRequest,
    CommitResult,
    DeliveryReceipt,
    DeliveryRequest,
    EligibilityCheck,
    EligibilityResult,
    IdentityCheck,
    IdentityResult,
    OfficerRef,
    PaymentOrder,
    PaymentRequest,
    UnitRoster,
)
from activities.payment import PaymentGateway
from domain.eligibility import HouseholdFacts, PersonFacts, ResidenceFacts, eligibility_refusals, identity_refusals

if TYPE_CHECKING:
    import asyncpg

_PERSON_SQL = (
    "SELECT personal_id, full_name, birth_date, sex, status, full_civil_capacity, fee_exemption"
    " FROM people WHERE personal_id = $1"
)
_RESIDENCE_SQL = """
SELECT r.residence_id, r.owner_id, r.floor_area_m2, r.barred_reason, h.household_id, h.head_id,
       (SELECT count(*) FROM household_members m WHERE m.household_id = h.household_id) AS member_count
FROM residences r LEFT JOIN households h ON h.residence_id = r.residence_id
WHERE r.commune_code = $1 AND lower(r.address_line) = lower($2)
ORDER BY h.household_id NULLS LAST LIMIT 1
"""


def _log(**fields: Any) -> None:
    from cutru.logging import get_logger

    info = activity.info()
    get_logger(dossier_code=info.workflow_id, workflow_id=info.workflow_id, activity=info.activity_type,
               attempt=info.attempt).info("activity", **fields)


class DossierActivities:
    def __init__(self, pool: asyncpg.Pool, gateway: PaymentGateway, document_dir: Path) -> None:
        self._pool = pool
        self._gateway = gateway
        self._document_dir = document_dir

    @activity.defn
    async def validate_identity(self, check: IdentityCheck) -> IdentityResult:
        """Register the dossier in the read model and check the applicant against the population database."""
        s = check.submission
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
                " received_at, deadline) VALUES ($1, $2, 'received', $3, $4, $5, $6, $7)"
                " ON CONFLICT (dossier_code) DO NOTHING",
                s.dossier_code, s.procedure.value, s.police_unit, s.applicant.personal_id, s.applicant.full_name,
                s.received_at, check.deadline,
            )
            await self._audit(conn, s.dossier_code, "0000-received", "citizen", "received", {"channel": s.channel})
            row = await conn.fetchrow(_PERSON_SQL, s.applicant.personal_id)
        person = PersonFacts.model_validate(dict(row)) if row else None
        refusals = identity_refusals(s, person)
        _log(step="identity", refused=len(refusals))
        return IdentityResult(person=person, refusals=tuple(refusals))

    @activity.defn
    async def check_eligibility(self, check: EligibilityCheck) -> EligibilityResult:
        s = check.submission
        facts = await self._household_facts(s)
        refusals = eligibility_refusals(s, facts)
        exempt = s.fee_exemption is not None and facts.applicant.fee_exemption == s.fee_exemption.reason_code
        _log(step="eligibility", refused=len(refusals), fee_exempt=exempt)
        return EligibilityResult(facts=facts, refusals=tuple(refusals), fee_exempt=exempt)

    async def _household_facts(self, s: Any) -> HouseholdFacts:
        async with self._pool.acquire() as conn:
            person = await conn.fetchrow(_PERSON_SQL, s.applicant.personal_id)
            residence = None
            target = getattr(getattr(s, "details", None), "residence", None)
            if target is not None:
                row = await conn.fetchrow(_RESIDENCE_SQL, target.commune_code, target.address_line)
                if row is not None:
                    residence = ResidenceFacts(
                        residence_id=row["residence_id"], owner_id=row["owner_id"],
                        floor_area_m2=row["floor_area_m2"], barred_reason=row["barred_reason"],
                        household_id=row["household_id"], household_head_id=row["head_id"],
                        member_count=row["member_count"] or 0,
                    )
            current = await conn.fetchval(
                "SELECT residence_id FROM permanent_residences WHERE personal_id = $1 AND status = 'active'",
                s.applicant.personal_id,
            )
        return HouseholdFacts(applicant=PersonFacts.model_validate(dict(person)), residence=residence,
                              current_permanent_residence_id=current)

    @activity.defn
    async def assign_officer(self, assignment: Assignment) -> UnitRoster:
        """Load the unit's roster and assign the least-loaded active officer; a retry keeps the first choice."""
        async with self._pool.acquire() as conn, conn.transaction():
            unit = await conn.fetchrow("SELECT name FROM police_units WHERE unit_code = $1", assignment.police_unit)
            rows = await conn.fetch(
                "SELECT officer_id, full_name, role, active FROM officers WHERE unit_code = $1 ORDER BY officer_id",
                assignment.police_unit,
            )
            assigned = await conn.fetchval(
                "SELECT assigned_officer FROM dossiers WHERE dossier_code = $1 FOR UPDATE", assignment.dossier_code
            )
            if assigned is None:
                assigned = await conn.fetchval(
                    "SELECT o.officer_id FROM officers o LEFT JOIN dossiers d ON d.assigned_officer = o.officer_id"
                    " AND d.status IN ('awaiting_decision', 'awaiting_supplement')"
                    " WHERE o.unit_code = $1 AND o.active AND o.role = 'officer'"
                    " GROUP BY o.officer_id ORDER BY count(d.dossier_code), o.officer_id LIMIT 1",
                    assignment.police_unit,
                )
            await conn.execute(
                "UPDATE dossiers SET assigned_officer = $2, status = 'awaiting_decision', deadline = $3,"
                " updated_at = now() WHERE dossier_code = $1",
                assignment.dossier_code, assigned, assignment.deadline,
            )
        if unit is None:
            # A unit unknown to the roster cannot decide: retrying lets an operator add it without losing the dossier.
            raise RuntimeError(f"police unit {assignment.police_unit} has no roster; add its officers, then it retries")
        _log(step="assign", officer=assigned)
        return UnitRoster(
            police_unit=assignment.police_unit,
            unit_name=unit["name"],
            officers=tuple(OfficerRef.model_validate(dict(r)) for r in rows),
            assigned_officer=assigned,
        )

    @activity.defn
    async def record_event(self, record: AuditRecord) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._audit(conn, record.dossier_code, record.event_key, record.entry.actor, record.entry.action,
                              {"detail": record.entry.detail, "at": record.entry.at.isoformat()})
            if record.state is not None or record.overdue is not None:
                await conn.execute(
                    "UPDATE dossiers SET status = coalesce($2, status), overdue = coalesce($3, overdue),"
                    " updated_at = now() WHERE dossier_code = $1",
                    record.dossier_code, record.state.value if record.state else None, record.overdue,
                )

    @activity.defn
    async def request_payment(self, request: PaymentRequest) -> PaymentOrder:
        order = await self._gateway.create_order(request.dossier_code, request.amount_vnd)
        await self._pool.execute(
            "UPDATE dossiers SET status = 'awaiting_payment', fee_vnd = $2, updated_at = now()"
            " WHERE dossier_code = $1",
            request.dossier_code, request.amount_vnd,
        )
        return order

    @activity.defn
    async def check_payment(self, order: PaymentOrder) -> PaymentOrder:
        return await self._gateway.order_status(order.dossier_code)

    @activity.defn
    async def cancel_payment(self, order: PaymentOrder) -> PaymentOrder:
        return await self._gateway.cancel_order(order.dossier_code)

    @activity.defn
    async def commit_residence(self, request: CommitRequest) -> CommitResult:
        async with self._pool.acquire() as conn:
            summary, before = await records.commit(conn, request.submission, request.facts)
            await conn.execute(
                "UPDATE dossiers SET status = 'recording', updated_at = now() WHERE dossier_code = $1",
                request.submission.dossier_code,
            )
        _log(step="commit", already_committed=before)
        return CommitResult(dossier_code=request.submission.dossier_code, summary=summary, already_committed=before)

    @activity.defn
    async def deliver_result(self, request: DeliveryRequest) -> DeliveryReceipt:
        async with self._pool.acquire() as conn, conn.transaction():
            receipt = await delivery.deliver(conn, request, self._document_dir)
            reason = "; ".join(r.message for r in request.refusals) or None
            await conn.execute(
                "UPDATE dossiers SET status = $2, outcome_reason = $3, updated_at = now() WHERE dossier_code = $1",
                request.dossier_code, request.final_state.value, reason,
            )
            await self._audit(conn, request.dossier_code, "9999-closed", request.decided_by or "system",
                              request.final_state.value, {"documents": [k.value for k in request.documents],
                                                          "reason": reason})
        _log(step="deliver", state=request.final_state.value, documents=len(receipt.documents))
        return receipt

    @staticmethod
    async def _audit(conn: asyncpg.Connection, code: str, key: str, actor: str, action: str,
                     details: dict[str, Any]) -> None:
        import json

        await conn.execute(
            "INSERT INTO audit_events (dossier_code, event_key, actor, action, details, at)"
            " VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT (dossier_code, event_key) DO NOTHING",
            code, key, actor, action, json.dumps(details, ensure_ascii=False), datetime.now(UTC),
        )


def all_activities(instance: DossierActivities) -> list[Any]:
    return [
        instance.validate_identity,
        instance.check_eligibility,
        instance.assign_officer,
        instance.record_event,
        instance.request_payment,
        instance.check_payment,
        instance.cancel_payment,
        instance.commit_residence,
        instance.deliver_result,
    ]

