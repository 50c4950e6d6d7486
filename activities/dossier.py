"""The activities of the dossier lifecycle, owned by one object holding the worker's dependencies.

Every activity is idempotent by dossier code (Temporal retries them): inserts use the dossier code as key and
``ON CONFLICT DO NOTHING``; the read model (``dossiers``) is upserted. The code is the dossier's workflow's alone:
the first activity that writes binds it (``activities.runs``), and the commit refuses another procedure's claim.
Business refusals are returned as data, not raised: a refused dossier is a normal outcome, not an activity failure.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import delivery, facts, notices, records, runs, trail
from activities.contracts import (
    CLOSING_KEY,
    DATA_REFUSED,
    Acceptance,
    AuditBatch,
    AuditRecord,
    CalendarRead,
    Closing,
    CommitRequest,
    CommitResult,
    DeliveryReceipt,
    DeliveryRequest,
    DocumentRequest,
    DossierPaper,
    DraftRequest,
    DraftResult,
    EligibilityCheck,
    EligibilityResult,
    IdentityCheck,
    IdentityResult,
    ImmediateCheck,
    ImmediateResult,
    NoticeServed,
    OfficerRef,
    PaymentOrder,
    PaymentRequest,
    Settlement,
    StayBatch,
    StayBatchResult,
    StayOutcome,
    UnitRoster,
)
from activities.delivery import DELIVERY_ROW, REGISTER, REGISTERED, RESERVE_CODES, RESERVED_CODES
from activities.facts import PERSON_SQL
from activities.payment import PaymentGateway
from activities.records import OPEN
from activities.runs import OWNER
from activities.trail import SUPERSEDING
from domain.calendar import CalendarSnapshot, local_date
from domain.facts import HouseholdFacts
from domain.kinds import DocumentKind
from domain.models import DossierState, ProcessingOptions, Refusal
from domain.procedures.catalogue import spec_for
from domain.procedures.common import identity_refusals
from domain.procedures.plan import RecordStay
from domain.procedures.stay_notification import SPEC as STAY_SPEC
from domain.procedures.stay_notification import StayNotificationSubmission


def _log(**fields: Any) -> None:
    # The worker process configures structlog (JSON lines, personal IDs masked); activities only emit events.
    info = activity.info()
    structlog.get_logger().bind(dossier_code=info.workflow_id, workflow_id=info.workflow_id,
                                activity=info.activity_type, attempt=info.attempt).info("activity", **fields)



# The least-loaded active officer of the unit, counting the dossiers waiting on each; a first choice is kept, so a
# retry assigns no one else. The unit in the join lets dossiers_unit_status serve it with both leading columns: the
# count then reads this unit's open dossiers only, not every open dossier in the country.
ASSIGN_OFFICER = (
    "UPDATE dossiers d SET assigned_officer = coalesce(d.assigned_officer, ("
    "   SELECT o.officer_id FROM officers o LEFT JOIN dossiers x ON x.unit_code = o.unit_code"
    "   AND x.status IN ('awaiting_decision', 'awaiting_supplement') AND x.assigned_officer = o.officer_id"
    "   WHERE o.unit_code = $2 AND o.active AND o.role = 'officer'"
    "   GROUP BY o.officer_id ORDER BY count(x.dossier_code), o.officer_id LIMIT 1)),"
    f" status = CASE WHEN d.{OPEN} THEN 'awaiting_decision' ELSE d.status END, deadline = $3, updated_at = now()"
    " WHERE d.dossier_code = $1 RETURNING d.assigned_officer"
)

_AUDIT_INSERT = ("INSERT INTO audit_events (dossier_code, event_key, actor, action, details, at)"
                 " VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT (dossier_code, event_key) DO NOTHING")


# Any number of one dossier's trail entries in one statement ($1 the dossier; $2-$5 arrays of keys, actors, actions
# and details; $6 the time written), so that they can ride in a statement an activity runs anyway.
_AUDIT_ROWS = ("INSERT INTO audit_events (dossier_code, event_key, actor, action, details, at)"
               " SELECT $1::text, t.k, t.a, t.c, t.d::jsonb, $6::timestamptz"
               " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(k, a, c, d)"
               " ON CONFLICT (dossier_code, event_key) DO NOTHING")
# A trail entry's change to the read model ($1 the dossier, $2 the status, $3 overdue, $4 the assigned officer; NULL
# for what it leaves as it is): a final status is never reopened.
_CHANGE = (f"UPDATE dossiers SET status = CASE WHEN {OPEN} THEN coalesce($2, status) ELSE status END,"
           " overdue = coalesce($3, overdue), assigned_officer = coalesce($4, assigned_officer), updated_at = now()"
           " WHERE dossier_code = $1")
# _AUDIT_ROWS with one entry's _CHANGE ($7-$9): a batch of entries and the status they set in one statement.
_WRITTEN_WITH_CHANGE = (f"WITH written AS ({_AUDIT_ROWS}) "
                        + _CHANGE.replace("$4", "$9").replace("$3", "$8").replace("$2", "$7"))

# The acceptance in one round trip: the unit's roster, the CT04's registration ($1 the dossier, $9-$11 arrays of
# kinds, hashes and paths: delivery.register_args), the trail entries ($4-$8, as in _AUDIT_ROWS) and the assignment
# (ASSIGN_OFFICER's $1-$3) with the deadline's proof ($12; NULL keeps the one stored). Nothing is written unless the
# unit exists, so a unit without a roster leaves the dossier as it was for the retry. One row per officer, or one
# with NULL officer columns for a unit without officers.
_IF_UNIT = "EXISTS (SELECT FROM unit)"
_ACCEPT_WITH_ROSTER = (
    "WITH unit AS (SELECT name FROM police_units WHERE unit_code = $2),"
    " registered AS (" + REGISTER.replace("$4", "$11").replace("$3", "$10").replace("$2", "$9")
    .replace(" ON CONFLICT", f" WHERE {_IF_UNIT} ON CONFLICT", 1) + "),"
    " accepted AS (INSERT INTO audit_events (dossier_code, event_key, actor, action, details, at)"
    " SELECT $1::text, t.k, t.a, t.c, t.d::jsonb, $8::timestamptz"
    f" FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) AS t(k, a, c, d) WHERE {_IF_UNIT}"
    " ON CONFLICT (dossier_code, event_key) DO NOTHING),"
    " assigned AS (" + ASSIGN_OFFICER
    .replace(" deadline = $3,", " deadline = $3, deadline_proof = coalesce($12::jsonb, d.deadline_proof),", 1)
    .replace(" WHERE d.dossier_code = $1 RETURNING", f" WHERE d.dossier_code = $1 AND {_IF_UNIT} RETURNING") + ")"
    " SELECT u.name, o.officer_id, o.full_name, o.role, o.active, (SELECT assigned_officer FROM assigned) AS assigned"
    " FROM unit u LEFT JOIN officers o ON o.unit_code = $2 ORDER BY o.officer_id"
)

# The identity check in one statement: the code bound to the workflow (runs.OWNER, with $7 the procedure and $18 the
# run), the trail entries so far ($2-$6, as in _AUDIT_ROWS), the read-model row ($7-$14), the contact ($15-$17) and
# the person ($9). Each write is conditioned on the code being free, so that under a code another
# procedure or run owns nothing is written, and the caller raises from the row.
_FREE = "(SELECT yes FROM free)"
# A police notice's dossier, listed while it waited, opens now: its legal receipt is the opening. (The SET
# expressions all read the row as it was.)
_OPENING = ("status = CASE WHEN dossiers.status = 'awaiting_filing' THEN 'received' ELSE dossiers.status END,"
            " received_at = CASE WHEN dossiers.status = 'awaiting_filing' THEN EXCLUDED.received_at"
            " ELSE dossiers.received_at END,"
            " channel = CASE WHEN dossiers.status = 'awaiting_filing' THEN EXCLUDED.channel ELSE dossiers.channel END,"
            " filed_by = CASE WHEN dossiers.status = 'awaiting_filing' THEN EXCLUDED.filed_by"
            " ELSE dossiers.filed_by END,"
            " updated_at = CASE WHEN dossiers.status = 'awaiting_filing' THEN now() ELSE dossiers.updated_at END")
_OPENED = (
    "opened AS (INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
    " received_at, deadline, channel, filed_by, run_id)"
    f" SELECT $1, $7, 'received', $8, $9, $10, $11, $12, $13, $14, $18 WHERE {_FREE}"
    # The binding of a row from before it (run_id NULL) is made here, not in an UPDATE of its own: one statement
    # may not change a row twice.
    f" ON CONFLICT (dossier_code) DO UPDATE SET run_id = coalesce(dossiers.run_id, EXCLUDED.run_id), {_OPENING}"
    " WHERE dossiers.status = 'awaiting_filing' OR (dossiers.run_id IS NULL AND EXCLUDED.run_id IS NOT NULL))"
)
# How the applicant is told of each step ($15-$17), kept in the database for the outbox (migration 0011); the
# portal, which tells everyone, needs no row.
_CONTACT = ("contact AS (INSERT INTO dossier_contacts (dossier_code, channel, email, phone)"
            f" SELECT $1, $15::text, $16::text, $17::text WHERE $15::text <> 'portal' AND {_FREE}"
            " ON CONFLICT (dossier_code) DO NOTHING)")
# One row whatever is found: the owner as it was before the statement, and the person (NULL columns if none).
_IDENTITY = (
    f"WITH {OWNER.replace('$3', '$18').replace('$2', '$7')},"
    f" received AS ({_AUDIT_ROWS.replace(' ON CONFLICT', f' WHERE {_FREE} ON CONFLICT', 1)}),"
    f" {_OPENED}, {_CONTACT}"
    f" SELECT {_FREE} AS free, owner.procedure AS owner_procedure, owner.run_id AS owner_run, person.*"
    " FROM (VALUES (1)) AS one (x) LEFT JOIN owner ON true"
    f" LEFT JOIN ({PERSON_SQL.replace('$1', '$9')}) person ON true"
)

# The delivery's opening trail entries (as in _AUDIT_ROWS), its documents' verification codes reserved ($7-$10) and
# what it reads first (delivery.RESERVED_CODES).
_OPEN_DELIVERY = f"WITH opened AS ({_AUDIT_ROWS}), {RESERVE_CODES} " + RESERVED_CODES

# The closing trail entry ($1-$6, as in _AUDIT_INSERT) with the final status ($7) and its reason ($8).
_CLOSED = f"closed AS ({_AUDIT_INSERT})"
_FINAL_STATUS = " UPDATE dossiers SET status = $7, outcome_reason = $8, updated_at = now() WHERE dossier_code = $1"
_CLOSE = f"WITH {_CLOSED}{_FINAL_STATUS}"


# _CLOSE with the delivery itself (delivery.DELIVER's $2-$7 as $9-$14, renumbered highest first so that none is
# renumbered twice): one statement instead of two.
_REGISTERED_AFTER_CLOSING = REGISTERED.replace("$7", "$14").replace("$6", "$13").replace("$5", "$12")
_DELIVERY_AFTER_CLOSING = DELIVERY_ROW.replace("$4", "$11").replace("$3", "$10").replace("$2", "$9")
_DELIVER_AND_CLOSE = (f"WITH {_CLOSED}, {_REGISTERED_AFTER_CLOSING}, delivered AS ({_DELIVERY_AFTER_CLOSING})"
                      + _FINAL_STATUS)
# Each with the rows of lost workflow tasks superseded (activities.trail): the held entries after the others.
# (SUPERSEDING's $9-$12 as $15-$18 after the delivery's, renumbered highest first).
_CLOSE_SUPERSEDING = f"WITH {_CLOSED},{SUPERSEDING}{_FINAL_STATUS}"
_DELIVER_AND_CLOSE_SUPERSEDING = (
    f"WITH {_CLOSED}, {_REGISTERED_AFTER_CLOSING}, delivered AS ({_DELIVERY_AFTER_CLOSING}),"
    + SUPERSEDING.replace("$12", "$18").replace("$11", "$17").replace("$10", "$16").replace("$9", "$15")
    + _FINAL_STATUS)

# settle_closing, under the dossier's lock: whether its records were committed ($1 the dossier); if not, the state
# it is closing to ($2) fences every later commit (records._CLAIMED).
_SETTLE = ("WITH committed AS (SELECT EXISTS (SELECT FROM residence_changes WHERE dossier_code = $1) AS yes),"
           " fenced AS (UPDATE dossiers SET closing = $2 WHERE dossier_code = $1"
           " AND NOT (SELECT yes FROM committed))"
           " SELECT yes FROM committed")


# A register's accepted stay notifications in one statement: the claims ($1 codes, $2 procedure, $3 summaries), the
# guests ($4-$18, one element per guest) of the notifications this statement claims, the read model ($19-$22), and
# the closing trail entries ($23 their key, $24 details, $25 the time written), $26 the run they are bound to.
_RECORD_ACCEPTED_STAYS = (
    "WITH claimed AS (INSERT INTO residence_changes (dossier_code, procedure, summary)"
    " SELECT c.code, $2::text, c.summary::jsonb FROM unnest($1::text[], $3::text[]) AS c(code, summary)"
    " ON CONFLICT (dossier_code) DO NOTHING RETURNING dossier_code),"
    " guests AS (INSERT INTO stay_notifications (dossier_code, guest_no, personal_id, passport_number, full_name,"
    " birth_date, host_kind, province_code, commune_code, address_line, arrival, departure, reason, notified_at,"
    " notified_late)"
    " SELECT g.code, g.no, g.pid, g.passport, g.name, g.born, g.host, g.province, g.commune, g.address, g.arrival,"
    " g.departure, g.reason, g.notified, g.late"
    " FROM unnest($4::text[], $5::smallint[], $6::char(12)[], $7::text[], $8::text[], $9::date[], $10::text[],"
    " $11::text[], $12::text[], $13::text[], $14::timestamptz[], $15::date[], $16::text[], $17::timestamptz[],"
    " $18::boolean[]) AS g(code, no, pid, passport, name, born, host, province, commune, address, arrival,"
    " departure, reason, notified, late)"
    " WHERE g.code IN (SELECT dossier_code FROM claimed)),"
    " listed AS (INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
    " received_at, outcome_reason, run_id)"
    " SELECT d.code, $2::text, 'completed', d.unit, d.applicant, d.name, d.received, NULL, $26::text"
    " FROM unnest($1::text[], $19::text[], $20::text[], $21::text[], $22::timestamptz[])"
    " AS d(code, unit, applicant, name, received) ON CONFLICT (dossier_code) DO NOTHING),"
    " closed AS (INSERT INTO audit_events (dossier_code, event_key, actor, action, details, at)"
    " SELECT a.code, $23::text, 'system', 'completed', a.details::jsonb, $25::timestamptz"
    " FROM unnest($1::text[], $24::text[]) AS a(code, details) ON CONFLICT (dossier_code, event_key) DO NOTHING)"
    " SELECT count(*) FROM claimed"
)


def _details(record: AuditRecord, **more: Any) -> str:
    return json.dumps({"detail": record.entry.detail, "at": record.entry.at.isoformat(), **more}, ensure_ascii=False)


def _audit_rows(records: tuple[AuditRecord, ...]) -> tuple[list[str], list[str], list[str], list[str]]:
    """``_AUDIT_ROWS``' arrays."""
    return ([r.event_key for r in records], [r.entry.actor for r in records],
            [r.entry.action.value for r in records], [_details(r) for r in records])


def _changes(record: AuditRecord) -> bool:
    """Whether the entry changes the read model's status, overdue flag or officer (``_CHANGE``)."""
    return record.state is not None or record.overdue is not None or record.assigned_officer is not None


def _change_args(record: AuditRecord) -> tuple[str | None, bool | None, str | None]:
    """``_CHANGE``'s $2-$4."""
    return record.state.value if record.state else None, record.overdue, record.assigned_officer


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as the arrays of an ``unnest``, one per column (empty ones when there are no rows)."""
    return [[row[i] for row in rows] for i in range(width)]


def _code_taken(code: str, reason: str) -> StayOutcome:
    refusal = Refusal(code="dossier_code_taken", message=reason,
                      message_vi=f"Mã hồ sơ {code} đã được dùng cho hồ sơ khác: hãy thông báo lại với mã hồ sơ mới.")
    return StayOutcome(dossier_code=code, state=DossierState.REFUSED, refusals=(refusal,))


@asynccontextmanager
async def data_refused() -> AsyncIterator[None]:
    """What the database refuses by its constraints or types is refused again at every attempt: non-retryable."""
    try:
        yield
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
        raise ApplicationError(f"the database refuses the dossier's data: {error}", type=DATA_REFUSED,
                               non_retryable=True) from error


def _recorded_stay(row: Any) -> StayOutcome:
    """The outcome of a stay notification recorded by an earlier attempt, from the read model and audit row; a code
    of another procedure's dossier or workflow is refused."""
    if not runs.owned_by(STAY_SPEC.procedure.value, runs.REGISTER, row["procedure"], row["run_id"]):
        return _code_taken(row["dossier_code"], runs.taken(row["dossier_code"], STAY_SPEC.procedure.value,
                                                           row["procedure"], row["run_id"]).message)
    details = json.loads(row["details"]) if row["details"] else {}
    codes, reasons = details.get("refusals", []), details.get("reasons", [])
    reasons_vi = details.get("reasons_vi") or [""] * len(codes)  # absent from rows recorded before it existed
    refusals = tuple(Refusal(code=code, message=message, message_vi=message_vi)
                     for code, message, message_vi in zip(codes, reasons, reasons_vi, strict=False))
    state = DossierState(row["status"])
    # A refusal and its CT06 are written in one transaction: a refused row always has its form.
    documents = (DocumentKind.CT06,) if state == DossierState.REFUSED else ()
    return StayOutcome(dossier_code=row["dossier_code"], state=state, refusals=refusals, documents=documents)


class DossierActivities:
    def __init__(self, pool: asyncpg.Pool, gateway: PaymentGateway, document_dir: Path,
                 processing: ProcessingOptions | None = None,
                 verification_url: str = delivery.LOCAL_VERIFICATION_URL) -> None:
        self._pool = pool
        self._gateway = gateway
        self._document_dir = document_dir
        self._processing = processing or ProcessingOptions()
        self._verification_url = verification_url

    @activity.defn
    async def validate_identity(self, check: IdentityCheck) -> IdentityResult:
        """Register the dossier in the read model and check the applicant against the population database."""
        s = check.dossier
        records = check.trail_records()
        # The binding, the read-model row, the trail entries so far and the person lookup in one statement
        # (_IDENTITY); no transaction: each write is a no-op when repeated, and BEGIN/COMMIT would be two more round
        # trips. A data-modifying WITH runs to completion whatever the query after it reads.
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                _IDENTITY, s.dossier_code, *_audit_rows(records), datetime.now(UTC),
                s.procedure.value, s.police_unit, s.applicant.personal_id, s.applicant.full_name, s.received_at,
                check.deadline, s.channel, s.filed_by, s.contact.channel, s.contact.email, s.contact.phone, check.run,
            )
            if not row["free"]:
                raise runs.taken(s.dossier_code, s.procedure.value, row["owner_procedure"], row["owner_run"])
            await self._apply_changes(conn, records)
            person = facts.person_of(row)
        refusals = identity_refusals(s.applicant, person)
        _log(step="identity", refused=len(refusals))
        return IdentityResult(person=person, refusals=tuple(refusals))

    @activity.defn
    async def record_notice(self, notice: NoticeServed) -> None:
        """A deletion the police opened by a notice: listed in the read model (awaiting filing) while the person's
        filing window runs, with the notice in the audit trail."""
        s = notice.submission
        async with self._pool.acquire() as conn:
            await runs.bind(conn, s.dossier_code, s.procedure.value, notice.run)
            await conn.execute(
                "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
                " received_at, run_id) VALUES ($1, $2, 'awaiting_filing', $3, $4, $5, $6, $7)"
                " ON CONFLICT (dossier_code) DO NOTHING",
                s.dossier_code, s.procedure.value, s.police_unit, s.applicant.personal_id, s.applicant.full_name,
                s.received_at, notice.run,
            )
            await self._write_audit(conn, notice.trail_records())
        _log(step="notice")

    @activity.defn
    async def check_eligibility(self, check: EligibilityCheck) -> EligibilityResult:
        s = check.submission
        async with self._pool.acquire() as conn:
            found, refusals = await facts.judge(conn, s)
        exempt = s.fee_exemption is not None and found.applicant.fee_exemption == s.fee_exemption.reason_code
        _log(step="eligibility", refused=len(refusals), fee_exempt=exempt)
        return EligibilityResult(refusals=tuple(refusals), fee_exempt=exempt,
                                 deadline_case=spec_for(s).deadline_case(s, found), findings=found.findings())

    @activity.defn
    async def draft_result(self, request: DraftRequest) -> DraftResult:
        """The result documents the dossier would get if approved now, as drafts for the desk; reads only."""
        s = request.submission
        async with self._pool.acquire() as conn:
            found, refusals = await facts.judge(conn, s)
            if refusals:  # no approval could issue a result on these facts; the plan would not hold either
                return DraftResult(refusals=tuple(refusals))
            plan = spec_for(s).plan(s, found, local_date(request.at))
            documents = await delivery.draft_documents(conn, request, plan.summary)
        _log(step="draft", documents=len(documents))
        return DraftResult(documents=documents)

    @activity.defn
    async def calendar_snapshot(self, read: CalendarRead) -> CalendarSnapshot:
        """The operators' calendar declarations now in force: the workflow computes the deadline under them, and
        the answer in its history keeps every replay on the same deadline."""
        async with self._pool.acquire() as conn:
            snapshot = await facts.calendar_snapshot(conn)
        _log(step="calendar", version=snapshot.version)
        return snapshot

    @activity.defn
    async def accept_immediately(self, check: ImmediateCheck) -> ImmediateResult:
        """Procedures accepted at once (stay notification): check and record in one transaction, with the trail
        entries so far."""
        s = check.submission
        async with self._pool.acquire() as conn:
            await runs.bind(conn, s.dossier_code, s.procedure.value, check.run)
            result = await self._accept_at_once(conn, s, check.trail_records(), run=check.run)
        _log(step="accept_immediately", refused=len(result.refusals))
        return result

    @activity.defn
    async def record_stays(self, batch: StayBatch) -> StayBatchResult:
        """An establishment's stay register: each notification checked and recorded in a transaction of its own,
        so that one refused guest never holds back the others. A retried batch reports what is already recorded
        instead of checking it again."""
        codes = [s.dossier_code for s in batch.notifications]
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT d.dossier_code, d.status, d.procedure, d.run_id, a.details FROM dossiers d"
                " LEFT JOIN audit_events a"
                " ON a.dossier_code = d.dossier_code AND a.event_key = $2"
                " WHERE d.dossier_code = ANY($1::text[])",
                codes, CLOSING_KEY,
            )
            recorded = {row["dossier_code"]: _recorded_stay(row) for row in rows}
            recorded |= await self._record_accepted_stays(
                conn, [s for s in batch.notifications if s.dossier_code not in recorded])
            outcomes = []
            for submission in batch.notifications:
                outcome = recorded.get(submission.dossier_code)
                if outcome is None:
                    try:
                        result = await self._accept_at_once(conn, submission, run=runs.REGISTER)
                    except ApplicationError as error:  # the code became another procedure's meanwhile
                        outcomes.append(_code_taken(submission.dossier_code, error.message))
                        continue
                    state = DossierState.REFUSED if result.refusals else DossierState.COMPLETED
                    outcome = StayOutcome(dossier_code=submission.dossier_code, state=state, refusals=result.refusals,
                                          documents=result.documents)
                outcomes.append(outcome)
        _log(step="record_stays", notifications=len(outcomes),
             refused=sum(o.state == DossierState.REFUSED for o in outcomes))
        return StayBatchResult(outcomes=tuple(outcomes))

    @staticmethod
    async def _record_accepted_stays(conn: asyncpg.Connection,
                                     notifications: list[StayNotificationSubmission]) -> dict[str, StayOutcome]:
        """The notifications the rules accept, checked on facts read in one statement and recorded in another, as
        _accept_at_once records each. Left to _accept_at_once (absent from the result): the refused ones (their CT06),
        a code twice in the batch, and every one if the statement fails, so that one bad row holds back no other."""
        counts = Counter(s.dossier_code for s in notifications)
        single = [s for s in notifications if counts[s.dossier_code] == 1]
        if not single:
            return {}
        spec = STAY_SPEC
        ids = {s.applicant.personal_id for s in single} | {i for s in single for i in spec.named_ids(s)}
        people = {p.personal_id: p for p in await facts.people(conn, sorted(ids))}
        accepted: list[tuple[StayNotificationSubmission, dict[str, str], RecordStay]] = []
        on = records.today()
        for s in single:
            applicant = people.get(s.applicant.personal_id)
            if applicant is None or identity_refusals(s.applicant, applicant):
                continue
            found = HouseholdFacts(applicant=applicant, named=tuple(
                people[i] for i in sorted(set(spec.named_ids(s))) if i in people))
            found = found.model_copy(update={"notes": tuple(spec.notes(s, found))})
            if spec.refusals(s, found):
                continue
            plan = spec.plan(s, found, on)
            steps = [step for step in plan.steps if isinstance(step, RecordStay)]
            if len(steps) != len(plan.steps) or len(steps) != 1:
                continue
            accepted.append((s, dict(plan.summary), steps[0]))
        if not accepted:
            return {}
        guests = [(s.dossier_code, number, g.personal_id, g.passport_number, g.full_name, g.birth_date, step.host_kind,
                   step.place.province_code, step.place.commune_code, step.place.address_line, step.arrival,
                   step.departure, step.reason, step.notified_at, step.notified_late)
                  for s, _, step in accepted for number, g in enumerate(step.guests, start=1)]
        closing = [json.dumps({"channel": s.channel, "refusals": [], "reasons": [], "reasons_vi": []},
                              ensure_ascii=False) for s, _, _ in accepted]
        try:
            await conn.fetchval(
                _RECORD_ACCEPTED_STAYS, [s.dossier_code for s, _, _ in accepted], spec.procedure.value,
                [json.dumps(summary) for _, summary, _ in accepted], *_columns(guests, 15),
                [s.police_unit for s, _, _ in accepted], [s.applicant.personal_id for s, _, _ in accepted],
                [s.applicant.full_name for s, _, _ in accepted], [s.received_at for s, _, _ in accepted],
                CLOSING_KEY, closing, datetime.now(UTC), runs.REGISTER)
        except asyncpg.PostgresError:
            return {}
        return {s.dossier_code: StayOutcome(dossier_code=s.dossier_code, state=DossierState.COMPLETED)
                for s, _, _ in accepted}

    async def _accept_at_once(self, conn: asyncpg.Connection, s: Any, audit: tuple[AuditRecord, ...] = (), *,
                              run: str | None) -> ImmediateResult:
        async with conn.transaction():
            await self._write_audit(conn, audit)
            applicant = await facts.person(conn, s.applicant.personal_id)
            refusals = identity_refusals(s.applicant, applicant)
            summary: dict[str, str] = {}
            if not refusals:
                found, refusals = await facts.judge(conn, s)
                if not refusals:
                    summary, _ = await records.commit(conn, s, found)
            state = "refused" if refusals else "completed"
            # Straight to the final status: the read model lists every dossier, stays included.
            await conn.execute(
                "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
                " received_at, outcome_reason, channel, filed_by, run_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (dossier_code) DO NOTHING",
                s.dossier_code, s.procedure.value, state, s.police_unit, s.applicant.personal_id,
                s.applicant.full_name, s.received_at, "; ".join(r.message for r in refusals) or None, s.channel,
                s.filed_by, run,
            )
            await self._audit(conn, s.dossier_code, CLOSING_KEY, "system", state,
                              {"channel": s.channel, "refusals": [r.code for r in refusals],
                               "reasons": [r.message for r in refusals],
                               "reasons_vi": [r.message_vi for r in refusals]})
            documents: tuple[DocumentKind, ...] = ()
            if refusals:
                # The host learns why, as for every refused dossier: a CT06, delivered the way the notice asked.
                refused = DocumentRequest(dossier_code=s.dossier_code, procedure=s.procedure,
                                          kinds=(DocumentKind.CT06,), paper=DossierPaper.of(s),
                                          refusals=tuple(refusals))
                documents = (await delivery.deliver(
                    conn, DeliveryRequest(final_state=DossierState.REFUSED, result=refused), self._document_dir,
                    self._verification_url)).documents
        return ImmediateResult(refusals=tuple(refusals), summary=summary, documents=documents)

    @activity.defn
    async def accept_dossier(self, acceptance: Acceptance) -> UnitRoster:
        """The dossier is complete: assign the least-loaded active officer (a retry keeps the first choice)
        and issue the CT04 receipt with its appointment date. The worker's timings go back with the roster."""
        s = acceptance.paper
        # No transaction (the PDF is rendered in between, and nothing should stay locked meanwhile): the assignment
        # is one statement that keeps a first choice, and the document row is an upsert. The receipt's file is
        # written after its row: a failed statement (a unit without a roster) leaves no file that no row names,
        # and a failed write fails the attempt, whose retry writes the same bytes to the same path.
        async with self._pool.acquire() as conn:
            records = acceptance.trail_records()
            receipt = await delivery.prepare_documents(
                conn, DocumentRequest(dossier_code=s.dossier_code, procedure=s.procedure, kinds=(DocumentKind.CT04,),
                                      paper=s, deadline=acceptance.deadline,
                                      deadline_proof=acceptance.deadline_proof), self._document_dir)
            roster = await conn.fetch(_ACCEPT_WITH_ROSTER,
                                      s.dossier_code, s.police_unit, acceptance.deadline,
                                      *_audit_rows(records), datetime.now(UTC), *delivery.register_args(receipt),
                                      proof.model_dump_json() if (proof := acceptance.deadline_proof) else None)
            if not roster:
                # Retrying lets an operator add the unit's roster without losing the dossier.
                raise RuntimeError(f"police unit {s.police_unit} has no roster; add its officers and it retries")
            delivery.write_documents(receipt)
            assigned = roster[0]["assigned"]
            await self._apply_changes(conn, records)
        _log(step="accept", officer=assigned)
        return UnitRoster(
            police_unit=s.police_unit,
            unit_name=roster[0]["name"],
            officers=tuple(OfficerRef.model_validate({k: r[k] for k in ("officer_id", "full_name", "role", "active")})
                           for r in roster if r["officer_id"] is not None),
            assigned_officer=assigned,
            processing=self._processing,
        )

    @activity.defn
    async def issue_document(self, request: DocumentRequest) -> tuple[str, ...]:
        """A document issued during processing (CT05 supplement request), sent to the citizen."""
        async with self._pool.acquire() as conn:
            return await delivery.issue(conn, request, self._document_dir)

    @activity.defn
    async def record_event(self, batch: AuditBatch) -> AuditBatch | None:
        """Returns None: the auditors read the trail from the workflow's replay. Histories recorded while they read
        it from activity results hold the batch."""
        trail = batch.trail_records()
        changed = [record for record in trail if _changes(record)]
        if trail and len(changed) <= 1 and not any(r.entry.action in notices.KINDS or r.deadline_proof is not None
                                                          for r in trail):
            # The usual batch (an officer's proposal, a supplement request: no notice, at most one change to the read
            # model): the entries and their change in one statement, as atomic as the transaction below and three
            # round trips fewer.
            written = (trail[0].dossier_code, *_audit_rows(trail), datetime.now(UTC))
            if changed:
                await self._pool.execute(_WRITTEN_WITH_CHANGE, *written, *_change_args(changed[0]))
            else:
                await self._pool.execute(_AUDIT_ROWS, *written)
            return None
        async with self._pool.acquire() as conn, conn.transaction():
            await self._write_audit(conn, trail)
            # Reminders and escalations reach the officers' inbox with the entries that record them.
            created = await notices.notify(conn, trail)
        if created:
            _log(step="notify", notices=[(n.kind, n.officer_id) for n in created])
        return None

    async def _write_audit(self, conn: asyncpg.Connection, records: tuple[AuditRecord, ...]) -> None:
        """Trail entries into the append-only table (one round trip), and the read-model changes they carry."""
        if records:
            await conn.execute(_AUDIT_ROWS, records[0].dossier_code, *_audit_rows(records), datetime.now(UTC))
        await self._apply_changes(conn, records)

    @staticmethod
    async def _apply_changes(conn: asyncpg.Connection, records: tuple[AuditRecord, ...]) -> None:
        for record in records:
            if _changes(record):
                await conn.execute(_CHANGE, record.dossier_code, *_change_args(record))
            if record.deadline_proof is not None:
                await conn.execute("UPDATE dossiers SET deadline = $2, deadline_proof = $3::jsonb"
                                   " WHERE dossier_code = $1",
                                   record.dossier_code, record.deadline_proof.deadline,
                                   record.deadline_proof.model_dump_json())

    @activity.defn
    async def request_payment(self, request: PaymentRequest) -> PaymentOrder:
        # The gateway's order statement sets the read model's status and fee too (payment.AWAITING_PAYMENT).
        return await self._gateway.create_order(request.dossier_code, request.amount_vnd)

    @activity.defn
    async def check_payment(self, order: PaymentOrder) -> PaymentOrder:
        return await self._gateway.order_status(order.dossier_code)

    @activity.defn
    async def cancel_payment(self, order: PaymentOrder) -> PaymentOrder:
        return await self._gateway.cancel_order(order.dossier_code)

    @activity.defn
    async def commit_residence(self, request: CommitRequest) -> CommitResult:
        s = request.submission
        async with self._pool.acquire() as conn, data_refused():
            try:
                summary, before = await records.commit(conn, s, status=DossierState.RECORDING.value)
            except records.StaleFacts as stale:
                _log(step="commit", refused=len(stale.refusals))
                return CommitResult(dossier_code=s.dossier_code, summary={}, already_committed=False,
                                    refusals=stale.refusals)
        _log(step="commit", already_committed=before)
        return CommitResult(dossier_code=s.dossier_code, summary=summary, already_committed=before)

    @activity.defn
    async def deliver_result(self, request: DeliveryRequest) -> DeliveryReceipt:
        result = request.result
        reason = "; ".join(r.message for r in result.refusals) or None
        # No transaction, as in validate_identity: every write is a no-op when repeated and the delivery is sent
        # once (its row), so a retry after a crash between them completes them; BEGIN/COMMIT are two round trips.
        closing = request.closing()
        opening = request.opening()
        async with self._pool.acquire() as conn, data_refused():
            await runs.bind(conn, result.dossier_code, result.procedure.value, request.run)
            # The opening entries, the verification codes and what the delivery reads first, in one statement.
            found = await conn.fetchrow(_OPEN_DELIVERY, result.dossier_code, *_audit_rows(opening), datetime.now(UTC),
                                        *delivery.reserve_args(result))
            await self._apply_changes(conn, opening)
            receipt, unsent = await delivery.issue_result(conn, request, self._document_dir,
                                                              self._verification_url, found)
            # The final status and the closing trail entry in one statement, so neither is ever seen without the
            # other; the delivery, unless an earlier attempt sent it, in the same one.
            closing_details = _details(closing, documents=[k.value for k in result.kinds], reason=reason)
            close_args = (result.dossier_code, closing.event_key, closing.entry.actor, closing.entry.action.value,
                          closing_details, datetime.now(UTC), request.final_state.value, reason)
            if request.held is None:
                if unsent is None:
                    await conn.execute(_CLOSE, *close_args)
                else:
                    await conn.execute(_DELIVER_AND_CLOSE, *close_args, *unsent[1:])
            else:
                held = trail.held_args((*request.held, closing),
                                       [*(_details(r) for r in request.held), closing_details])
                if unsent is None:
                    await conn.execute(_CLOSE_SUPERSEDING, *close_args, *held)
                else:
                    await conn.execute(_DELIVER_AND_CLOSE_SUPERSEDING, *close_args, *unsent[1:], *held)
        _log(step="deliver", state=request.final_state.value, documents=len(receipt.documents))
        return receipt

    @activity.defn
    async def settle_closing(self, closing: Closing) -> Settlement:
        """A withdrawal, an operator's close or a cancellation about to end the dossier, decided against its record
        commit under the commit's own lock: the records committed first (by a workflow task that was lost, whose
        retry took this message instead), the closing is refused; otherwise the dossier is fenced, and a commit
        begun later changes nothing (docs/reliability.md, lost workflow tasks). The same answer at every attempt."""
        async with self._pool.acquire() as conn, conn.transaction():
            await records.lock_dossier(conn, closing.dossier_code)
            committed: bool = await conn.fetchval(_SETTLE, closing.dossier_code, closing.state.value)
        _log(step="settle", state=closing.state.value, committed=committed)
        return Settlement(committed=committed)

    @staticmethod
    async def _audit(conn: asyncpg.Connection, code: str, key: str, actor: str, action: str,
                     details: dict[str, Any]) -> None:
        await conn.execute(_AUDIT_INSERT, code, key, actor, action, json.dumps(details, ensure_ascii=False),
                           datetime.now(UTC))


def all_activities(instance: DossierActivities) -> list[Any]:
    return [
        instance.validate_identity,
        instance.record_notice,
        instance.check_eligibility,
        instance.draft_result,
        instance.calendar_snapshot,
        instance.accept_immediately,
        instance.record_stays,
        instance.accept_dossier,
        instance.issue_document,
        instance.record_event,
        instance.request_payment,
        instance.check_payment,
        instance.cancel_payment,
        instance.commit_residence,
        instance.deliver_result,
        instance.settle_closing,
    ]

