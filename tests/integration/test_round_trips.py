"""How many statements each activity of an approved dossier's path sends to PostgreSQL (every one a round trip, and
CPU on both sides: docs/benchmarks.md, tuning log), that folding the roster read into the acceptance's statement
still writes nothing for a unit without a roster, and that folding the code's binding into the identity check's
statement still writes nothing under a code that is not the workflow's. Real PostgreSQL, the activities called as
the worker calls them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.contracts import (
    CLOSING_KEY,
    DOSSIER_CODE_TAKEN,
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
from domain.admin_units import all_provinces, communes_of, police_unit_code
from domain.deadlines import DeadlineClock, deadline_for, deadline_proof
from domain.kinds import DocumentKind
from domain.models import Contact, DossierState, TrailAction, TrailEntry
from domain.procedures.catalogue import parse_submission
from tests.factories import new_person, new_place, registration


class Statements:
    """The statements the pool's connections send, as asyncpg's query logger reports them."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, query: LoggedQuery) -> None:
        self.sent.append(query.query)

    async def init(self, conn: asyncpg.Connection) -> None:
        conn.add_query_logger(self)


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


@pytest.fixture
async def counted(database_url: str) -> AsyncIterator[tuple[asyncpg.Pool, Statements]]:
    statements = Statements()
    # No reset query on release, as in the worker's pool (cutru.service.worker.database_pool).
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, init=statements.init, reset=_no_reset)
    yield pool, statements
    await pool.close()


def _trail(code: str, key: str, actor: str, action: TrailAction, **changes: Any) -> AuditRecord:
    return AuditRecord(dossier_code=code, event_key=key, **changes,
                       entry=TrailEntry(at=datetime.now(UTC), actor=actor, action=action))


async def test_an_approved_dossier_costs_these_round_trips(
        counted: tuple[asyncpg.Pool, Statements], tmp_path: Path) -> None:
    pool, statements = counted
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = parse_submission(registration(person, place))
    code = submission.dossier_code
    acts = DossierActivities(pool=pool, gateway=LocalPaymentGateway(pool, auto_confirm_after=timedelta(0)),
                             document_dir=tmp_path)
    env = ActivityEnvironment()
    clock = DeadlineClock.start(submission.received_at, deadline_for(submission.procedure, submission.received_at))
    deadline = clock.deadline

    results: dict[str, Any] = {}

    async def sent(activity: Any, arg: Any) -> int:
        statements.sent.clear()
        results[activity.__name__] = await env.run(activity, arg)
        return len(statements.sent)

    identity = await sent(acts.validate_identity, IdentityCheck(
        dossier=DossierHeader.of(submission), deadline=None, run="the-first-run",
        audit=(_trail(code, "0000-received", "citizen", TrailAction.RECEIVED),)))
    eligibility = await sent(acts.check_eligibility, EligibilityCheck(submission=submission))
    acceptance = await sent(acts.accept_dossier, Acceptance(
        paper=DossierPaper.of(submission), deadline=deadline,
        deadline_proof=deadline_proof(submission.received_at, clock),
        audit=(_trail(code, "0001-accepted", "system", TrailAction.ACCEPTED),)))
    officer = await pool.fetchval("SELECT assigned_officer FROM dossiers WHERE dossier_code = $1", code)
    # The officer's approval as a proposal, flushed before the dossier waits for the head's sign-off.
    proposal = await sent(acts.record_event, AuditBatch(records=(
        _trail(code, "0002-proposed", officer, TrailAction.PROPOSED, state=DossierState.AWAITING_SIGN_OFF),)))
    assert dict(await pool.fetchrow(
        "SELECT status, deadline_proof->>'deadline' IS NOT NULL AS proved,"
        " (SELECT action FROM audit_events WHERE dossier_code = $1 AND event_key = '0002-proposed')"
        " FROM dossiers WHERE dossier_code = $1", code)) == {
        "status": "awaiting_sign_off", "proved": True, "action": "proposed"}
    payment = await sent(acts.request_payment, PaymentRequest(dossier_code=code, amount_vnd=20_000))
    commit = await sent(acts.commit_residence, CommitRequest(submission=submission))
    delivery = await sent(acts.deliver_result, DeliveryRequest(
        final_state=DossierState.COMPLETED, fee_paid_vnd=20_000,
        audit=(_trail(code, "0003-signed_off", "head", TrailAction.SIGNED_OFF),
               _trail(code, CLOSING_KEY, "system", TrailAction.COMPLETED, state=DossierState.COMPLETED)),
        result=DocumentRequest(dossier_code=code, procedure=submission.procedure, kinds=(DocumentKind.CT08,),
                               paper=DossierPaper.of(submission), deadline=deadline, decided_by=officer)))
    # The identity check: the code bound to the workflow (activities.runs), the read model, the trail and the
    # person in one statement. The acceptance: the CT04, the assignment, the deadline's proof and the trail in one.
    # The proposal: its trail entry with the status it sets. The payment: the order with the status it sets. The
    # commit: BEGIN, the locks on the people then the
    # places it concerns, the claim with the applicant's facts, the plan's four steps (end any current permanent
    # residence, start this one, open the household, add its head with the summary), COMMIT. The delivery: its opening
    # entries with the CT08's verification code (kept before it is printed, so that a retry prints the same) and
    # what it reads first, then the delivery with the closing entry.
    assert {"identity": identity, "eligibility": eligibility, "acceptance": acceptance, "proposal": proposal,
            "payment": payment, "commit": commit, "delivery": delivery} == {
        "identity": 1, "eligibility": 1, "acceptance": 1, "proposal": 1, "payment": 1, "commit": 9, "delivery": 2}
    assert await pool.fetchval("SELECT status FROM dossiers WHERE dossier_code = $1", code) == "completed"
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE dossier_code = $1", code) == 1
    # The summary written with the plan's last step is the commit's, outputs of the earlier steps included.
    summary = results["commit_residence"].summary
    assert summary and json.loads(await pool.fetchval(
        "SELECT summary FROM residence_changes WHERE dossier_code = $1", code)) == summary


async def _received(pool: asyncpg.Pool, document_dir: Path) -> tuple[DossierActivities, Acceptance]:
    """The activities, and the acceptance of a registration whose identity check has run."""
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = parse_submission(registration(person, place))
    code = submission.dossier_code
    acts = DossierActivities(pool=pool, gateway=LocalPaymentGateway(pool), document_dir=document_dir)
    await ActivityEnvironment().run(acts.validate_identity, IdentityCheck(
        dossier=DossierHeader.of(submission), deadline=None,
        audit=(_trail(code, "0000-received", "citizen", TrailAction.RECEIVED),)))
    return acts, Acceptance(paper=DossierPaper.of(submission), deadline=datetime.now(UTC) + timedelta(days=7),
                            audit=(_trail(code, "0001-accepted", "system", TrailAction.ACCEPTED),))


async def test_a_unit_without_a_roster_leaves_the_dossier_as_it_was(pool: asyncpg.Pool, tmp_path: Path) -> None:
    acts, acceptance = await _received(pool, tmp_path)
    code = acceptance.paper.dossier_code
    # A real commune's police unit that the database has no row for.
    listed = {r["unit_code"] for r in await pool.fetch("SELECT unit_code FROM police_units")}
    unit = next(code for code in (police_unit_code(c.code) for p in all_provinces() for c in communes_of(p.code))
                if code not in listed)
    unknown = acceptance.paper.model_copy(update={"police_unit": unit})

    with pytest.raises(RuntimeError, match=f"{unit} has no roster"):
        await ActivityEnvironment().run(acts.accept_dossier, acceptance.model_copy(update={"paper": unknown}))
    assert dict(await pool.fetchrow(
        "SELECT status, assigned_officer, deadline,"
        " (SELECT count(*) FROM audit_events WHERE dossier_code = $1) AS audit,"
        " (SELECT count(*) FROM documents WHERE dossier_code = $1) AS documents"
        " FROM dossiers WHERE dossier_code = $1", code)) == {
        "status": "received", "assigned_officer": None, "deadline": None, "audit": 1, "documents": 0}
    assert not (tmp_path / code).exists()  # nor a CT04 file that no row names


async def test_a_receipt_whose_write_failed_is_written_by_the_retry(pool: asyncpg.Pool, tmp_path: Path) -> None:
    """The CT04's file is written after its row: an attempt whose write fails fails, and its retry writes the
    bytes the row names, where it says."""
    acts, acceptance = await _received(pool, tmp_path)
    code = acceptance.paper.dossier_code
    env = ActivityEnvironment()
    (tmp_path / code).write_bytes(b"")  # the dossier's directory cannot be made: the write fails
    with pytest.raises(OSError):
        await env.run(acts.accept_dossier, acceptance)
    (tmp_path / code).unlink()

    roster = await env.run(acts.accept_dossier, acceptance)
    row = await pool.fetchrow("SELECT sha256, path FROM documents WHERE dossier_code = $1 AND kind = 'CT04'", code)
    assert roster.assigned_officer is not None and row["path"] == str(tmp_path / code / "CT04.pdf")
    assert hashlib.sha256(Path(row["path"]).read_bytes()).hexdigest() == row["sha256"]


async def _written(pool: asyncpg.Pool, code: str) -> dict[str, Any]:
    """What the identity check writes under a code: the read model's row, the trail and the contact."""
    return dict(await pool.fetchrow(
        "SELECT d.procedure, d.status, d.run_id, d.received_at, d.channel, d.updated_at,"
        " (SELECT array_agg(event_key ORDER BY event_key) FROM audit_events WHERE dossier_code = $1) AS audit,"
        " (SELECT count(*) FROM dossier_contacts WHERE dossier_code = $1) AS contacts"
        " FROM dossiers d WHERE d.dossier_code = $1", code))


async def _identity_check(pool: asyncpg.Pool, tmp_path: Path) -> tuple[DossierActivities, IdentityCheck]:
    """The activities, and the identity check of a new registration (its contact by e-mail, so that it writes one)."""
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = parse_submission(registration(person, place))
    header = DossierHeader.of(submission).model_copy(update={
        "contact": Contact(channel="email", email="nguoi.nop@example.vn")})
    acts = DossierActivities(pool=pool, gateway=LocalPaymentGateway(pool), document_dir=tmp_path)
    return acts, IdentityCheck(dossier=header, deadline=None, run="the-second-run", audit=(
        _trail(submission.dossier_code, "0000-received", "citizen", TrailAction.RECEIVED),))


async def test_a_code_another_run_or_procedure_owns_gets_nothing_written(pool: asyncpg.Pool, tmp_path: Path) -> None:
    acts, check = await _identity_check(pool, tmp_path)
    code = check.dossier.dossier_code
    env = ActivityEnvironment()
    first = check.model_copy(update={"run": "the-first-run", "dossier": check.dossier.model_copy(
        update={"contact": Contact()})})
    await env.run(acts.validate_identity, first)
    await env.run(acts.validate_identity, first)  # the owner's retry goes on
    before = await _written(pool, code)
    assert (before["run_id"], before["audit"], before["contacts"]) == ("the-first-run", ["0000-received"], 0)

    # Another run: its own entry, contact and channel would all show.
    other = check.model_copy(update={"audit": (_trail(code, "0000-received-again", "citizen", TrailAction.RECEIVED),)})
    with pytest.raises(ApplicationError) as taken:
        await env.run(acts.validate_identity, other)
    assert taken.value.type == DOSSIER_CODE_TAKEN and "workflow run the-first-run" in taken.value.message
    assert taken.value.non_retryable
    assert await _written(pool, code) == before

    # Another procedure's dossier, from before the binding (run_id NULL): not taken by this one either.
    await pool.execute("UPDATE dossiers SET procedure = 'TemporaryResidenceRegistration', run_id = NULL"
                       " WHERE dossier_code = $1", code)
    before = await _written(pool, code)
    with pytest.raises(ApplicationError) as taken:
        await env.run(acts.validate_identity, other)
    assert taken.value.type == DOSSIER_CODE_TAKEN and "TemporaryResidenceRegistration" in taken.value.message
    assert await _written(pool, code) == before


async def test_a_row_from_before_the_binding_is_bound_by_its_procedures_check(
        pool: asyncpg.Pool, tmp_path: Path) -> None:
    acts, check = await _identity_check(pool, tmp_path)
    code = check.dossier.dossier_code
    env = ActivityEnvironment()
    await env.run(acts.validate_identity, check.model_copy(update={"run": None}))
    before = await _written(pool, code)
    assert (before["status"], before["run_id"], before["contacts"]) == ("received", None, 1)

    await env.run(acts.validate_identity, check)
    # Bound, and otherwise as it was: a received dossier is not received again.
    assert await _written(pool, code) == before | {"run_id": "the-second-run"}
    with pytest.raises(ApplicationError, match="workflow run the-second-run"):
        await env.run(acts.validate_identity, check.model_copy(update={"run": "a-third-run"}))


async def test_a_police_notices_dossier_opens_at_its_check(pool: asyncpg.Pool, tmp_path: Path) -> None:
    acts, check = await _identity_check(pool, tmp_path)
    code = check.dossier.dossier_code
    # Listed while the person's filing window ran, before the binding (run_id NULL).
    await pool.execute(
        "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name, received_at)"
        " VALUES ($1, $2, 'awaiting_filing', $3, $4, $5, $6)", code, check.dossier.procedure.value,
        check.dossier.police_unit, check.dossier.applicant.personal_id, check.dossier.applicant.full_name,
        datetime(2020, 1, 1, tzinfo=UTC))
    listed = await _written(pool, code)

    result = await ActivityEnvironment().run(acts.validate_identity, check)
    opened = await _written(pool, code)
    assert result.refusals == () and result.person is not None
    assert (opened["status"], opened["run_id"], opened["received_at"], opened["channel"], opened["audit"],
            opened["contacts"]) == ("received", "the-second-run", check.dossier.received_at, check.dossier.channel,
                                    ["0000-received"], 1)
    assert opened["updated_at"] > listed["updated_at"]


async def test_the_workers_sessions_plan_each_statement_once(pool: asyncpg.Pool) -> None:
    # The pool the worker makes (tests/conftest.py builds it alike): each statement's generic plan, made once.
    assert await pool.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
