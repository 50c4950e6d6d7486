"""Every activity of an approved dossier's path, run twice as Temporal runs it when a completion is lost (the
worker died after the work, before the server heard of it): the second attempt returns what the first did and
writes nothing new. Real PostgreSQL, the activities called as the worker calls them (``ActivityEnvironment``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from temporalio.testing import ActivityEnvironment

from activities import records
from activities.contracts import (
    CLOSING_KEY,
    Acceptance,
    AuditBatch,
    AuditRecord,
    CommitRequest,
    DeliveryRequest,
    DocumentRequest,
    DossierHeader,
    DossierPaper,
    EligibilityCheck,
    IdentityCheck,
    PaymentRequest,
)
from activities.dossier import DossierActivities
from activities.payment import LocalPaymentGateway
from domain.kinds import DocumentKind
from domain.models import DossierState, TrailAction, TrailEntry
from domain.procedures.catalogue import parse_submission
from tests.factories import new_person, new_place, registration


async def twice(activity: Any, arg: Any, *, reported: set[str] | None = None) -> Any:
    """Run ``activity`` twice; ``reported``: fields that say the retry found the work done (and so differ)."""
    env = ActivityEnvironment()
    first = await env.run(activity, arg)
    second = await env.run(activity, arg)
    assert second.model_dump(exclude=reported) == first.model_dump(exclude=reported), (
        f"{activity.__name__}: a retry returned something else")
    return second


async def counts(pool: asyncpg.Pool, code: str) -> dict[str, Any]:
    return dict(await pool.fetchrow(
        "SELECT (SELECT count(*) FROM dossiers WHERE dossier_code = $1) AS dossiers,"
        " (SELECT status FROM dossiers WHERE dossier_code = $1) AS status,"
        " (SELECT count(*) FROM audit_events WHERE dossier_code = $1) AS audit,"
        " (SELECT count(*) FROM payments WHERE dossier_code = $1) AS payments,"
        " (SELECT count(*) FROM residence_changes WHERE dossier_code = $1) AS changes,"
        " (SELECT count(*) FROM permanent_residences WHERE dossier_code = $1) AS records,"
        " (SELECT count(*) FROM documents WHERE dossier_code = $1) AS documents,"
        " (SELECT count(*) FROM deliveries WHERE dossier_code = $1) AS deliveries",
        code,
    ))


async def test_an_approved_dossiers_activities_repeated_change_nothing(pool: asyncpg.Pool, tmp_path: Any) -> None:
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = parse_submission(registration(person, place))
    code = submission.dossier_code
    acts = DossierActivities(pool=pool, gateway=LocalPaymentGateway(pool, auto_confirm_after=timedelta(0)),
                             document_dir=tmp_path)

    def trail(key: str, actor: str, action: TrailAction, **changes: Any) -> AuditRecord:
        return AuditRecord(dossier_code=code, event_key=key, **changes,
                           entry=TrailEntry(at=datetime.now(UTC), actor=actor, action=action))

    identity = await twice(acts.validate_identity, IdentityCheck(
        dossier=DossierHeader.of(submission), deadline=None,
        audit=(trail("0000-received", "citizen", TrailAction.RECEIVED),)))
    assert identity.refusals == ()
    after_identity = await counts(pool, code)
    assert (after_identity["dossiers"], after_identity["status"], after_identity["audit"]) == (1, "received", 1)
    eligibility = await twice(acts.check_eligibility, EligibilityCheck(submission=submission))
    assert eligibility.refusals == () and eligibility.findings
    deadline = datetime.now(UTC) + timedelta(days=7)
    roster = await twice(acts.accept_dossier, Acceptance(
        paper=DossierPaper.of(submission), deadline=deadline,
        audit=(trail("0001-accepted", "system", TrailAction.ACCEPTED),)))
    assert roster.assigned_officer is not None
    order = await twice(acts.request_payment, PaymentRequest(dossier_code=code, amount_vnd=20_000))
    assert (order.status, order.amount_vnd) == ("paid", 20_000)
    commit = await twice(acts.commit_residence, CommitRequest(submission=submission),
                         reported={"already_committed"})
    assert commit.summary and commit.already_committed
    approved = trail("0002-approved", roster.assigned_officer, TrailAction.APPROVED)
    closing = trail(CLOSING_KEY, "system", TrailAction.COMPLETED, state=DossierState.COMPLETED)
    receipt = await twice(acts.deliver_result, DeliveryRequest(
        final_state=DossierState.COMPLETED, fee_paid_vnd=20_000, audit=(approved, closing),
        result=DocumentRequest(dossier_code=code, procedure=submission.procedure, kinds=(DocumentKind.CT08,),
                               paper=DossierPaper.of(submission), deadline=deadline,
                               decided_by=roster.assigned_officer)))
    assert receipt.documents == (DocumentKind.CT08,) and len(receipt.sha256) == 1

    assert await counts(pool, code) == {"dossiers": 1, "status": "completed", "audit": 4, "payments": 1,
                                        "changes": 1, "records": 1, "documents": 2, "deliveries": 1}
    actions = [r["action"] for r in await pool.fetch(
        "SELECT action FROM audit_events WHERE dossier_code = $1 ORDER BY event_key", code)]
    assert actions == ["received", "accepted", "approved", "completed"]

    # Late attempts that finish only now (their worker stalled past the timeout, or their workflow task was retried
    # elsewhere while they still ran) must not reopen the closed dossier in the read model.
    env = ActivityEnvironment()
    await env.run(acts.accept_dossier, Acceptance(paper=DossierPaper.of(submission), deadline=deadline))
    await env.run(acts.request_payment, PaymentRequest(dossier_code=code, amount_vnd=20_000))
    await env.run(acts.commit_residence, CommitRequest(submission=submission))
    await env.run(acts.record_event, AuditBatch(records=(trail(
        "0003-supplement_requested", roster.assigned_officer, TrailAction.SUPPLEMENT_REQUESTED,
        state=DossierState.AWAITING_SUPPLEMENT),)))
    assert (await counts(pool, code))["status"] == "completed"


def test_the_guard_against_reopening_names_every_final_state() -> None:
    finals = ", ".join(f"'{state.value}'" for state in DossierState if state.final)
    assert records.OPEN == f"status NOT IN ({finals})"


async def test_a_pending_order_is_created_once_and_confirmed_by_a_status_check(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    code = registration(person, place)["dossier_code"]
    gateway = LocalPaymentGateway(pool, auto_confirm_after=timedelta(milliseconds=1))
    first = await gateway.create_order(code, 20_000)
    again = await gateway.create_order(code, 30_000)  # a retried request never changes the order
    assert first == again and (first.status, first.amount_vnd) == ("pending", 20_000)
    await pool.execute("UPDATE payments SET created_at = created_at - interval '1 second' WHERE dossier_code = $1",
                       code)
    assert (await gateway.order_status(code)).status == "paid"
    assert (await gateway.create_order(code, 20_000)).status == "paid"
