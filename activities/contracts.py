"""Inputs and outputs of the activities. Import-light: the workflows import this module inside the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from domain.admin_units import format_address
from domain.deadlines import DeadlineProof
from domain.documents import DocumentData
from domain.facts import HouseholdFacts, PersonFacts
from domain.kinds import DocumentKind, Procedure
from domain.models import (
    Boundary,
    Channel,
    ChecklistItem,
    Contact,
    Delivery,
    DossierState,
    Person,
    ProcessingOptions,
    Refusal,
    Signer,
    TrailAction,
    TrailEntry,
)
from domain.procedures.catalogue import PROCEDURES, Submission
from domain.procedures.deletion import DeletionDetails, PoliceNotice
from domain.procedures.stay_notification import StayNotificationSubmission
from domain.rulesets import DeadlineCase

# ---- failures no retry mends ---------------------------------------------------------------------------------------

# The types of the non-retryable ApplicationErrors activities raise (the lifecycle's retry policy names them too):
# the dossier code belongs to another procedure or another workflow run (nothing is written for this one), and data
# the database refuses by its constraints whatever the attempt (the dossier waits for an operator to close it).
DOSSIER_CODE_TAKEN = "DossierCodeTaken"
DATA_REFUSED = "DataRefused"
# What binds a dossier code to its workflow (activities.runs): the first run's id, which a reset keeps and a new
# workflow under the same id does not; None when an earlier step bound it, and in requests from before the binding.
RUN_DOC = "the workflow's first run id: the dossier code belongs to it"
# The refusal code of a record commit that finds the dossier closing (settle_closing fenced it): only a workflow
# task that was lost, still running, can meet it; the workflow leaves it to the closing (docs/reliability.md).
CLOSED_BEFORE_COMMIT = "closed_before_commit"


# ---- the decision trail ------------------------------------------------------------------------------------------

# The event key of the line that closes a dossier (its final state).
CLOSING_KEY = "9999-closed"


class AuditRecord(Boundary):
    """One decision-trail entry written to the append-only audit table and the read model."""

    dossier_code: str
    event_key: str = Field(description="unique per dossier: makes a retried write a no-op")
    entry: TrailEntry
    state: DossierState | None = None
    overdue: bool | None = None
    assigned_officer: str | None = None
    deadline_proof: DeadlineProof | None = None  # the clock restarted: the new deadline and how it was counted


class WritesTrail(Boundary):
    """An activity input that writes decision-trail entries to the audit table (with whatever else it writes).

    What the entries record is in them (``TrailEntry.action``): the metrics read that, never the activity's name."""

    def trail_records(self) -> tuple[AuditRecord, ...]:
        raise NotImplementedError


class AuditBatch(WritesTrail):
    """``record_event``: trail entries written together, in order, in one transaction."""

    records: tuple[AuditRecord, ...]

    def trail_records(self) -> tuple[AuditRecord, ...]:
        return self.records


class NoticeServed(WritesTrail):
    """``record_notice``: a deletion dossier opened by a police notice enters the read model while it waits."""

    submission: Submission
    run: str | None = Field(default=None, description=RUN_DOC)
    audit: tuple[AuditRecord, ...] = Field(default=(), description="trail entries not yet written")

    def trail_records(self) -> tuple[AuditRecord, ...]:
        """A request scheduled before the workflow sent its entries (an older worker's) gets the one that worker
        would have written."""
        served = self.notice
        return self.audit or (AuditRecord(
            dossier_code=self.submission.dossier_code, event_key="0000-notice",
            entry=TrailEntry(at=datetime.now(UTC), actor=served.officer_id, action=TrailAction.NOTICE_SERVED,
                             detail=f"notice {served.notice_number} of {served.notified_on.isoformat()}")),)

    @property
    def notice(self) -> PoliceNotice:
        details = self.submission.details
        if isinstance(details, DeletionDetails):
            if details.police_notice is not None:
                return details.police_notice
        raise ValueError("submission: only a deletion dossier with details.police_notice is served by a notice")

    @model_validator(mode="after")
    def _served_by_a_notice(self) -> NoticeServed:
        self.notice  # noqa: B018 - raises for a dossier that no notice opened
        return self


class DossierHeader(Boundary):
    """Who filed which dossier, where and when: what the read model lists, taken from the validated submission."""

    dossier_code: str
    procedure: Procedure
    police_unit: str
    channel: Channel
    received_at: datetime
    applicant: Person
    filed_by: str | None = None  # the officer of an assisted dossier (counter intake)
    contact: Contact = Contact()  # absent from the checks of dossiers that ran before there was a choice

    @classmethod
    def of(cls, submission: Any) -> DossierHeader:
        return cls(**_header(submission))


class DossierPaper(DossierHeader):
    """What the legal forms print of a dossier and where its result goes, taken once from the submission."""

    place: str | None  # the place the dossier is about, as printed, when its procedure names one
    delivery: Delivery
    form_fields: dict[str, str] = {}  # what the procedure's own result forms print of it (CT03)

    @classmethod
    def of(cls, submission: Any) -> DossierPaper:
        spec = PROCEDURES[submission.procedure]
        place = spec.place(submission)
        return cls(**_header(submission), delivery=submission.delivery,
                   place=format_address(place.province_code, place.commune_code, place.address_line) if place else None,
                   form_fields=spec.form_fields(submission))


def _header(submission: Any) -> dict[str, Any]:
    return {"dossier_code": submission.dossier_code, "procedure": submission.procedure,
            "police_unit": submission.police_unit, "channel": submission.channel,
            "received_at": submission.received_at, "applicant": submission.applicant,
            "filed_by": submission.filed_by, "contact": submission.contact}


class IdentityCheck(WritesTrail):
    """``validate_identity``: registers the dossier in the read model and checks the applicant."""

    dossier: DossierHeader
    deadline: datetime | None
    run: str | None = Field(default=None, description=RUN_DOC)
    audit: tuple[AuditRecord, ...] = Field(default=(), description="trail entries not yet written")

    def trail_records(self) -> tuple[AuditRecord, ...]:
        """A check scheduled before the workflow sent its entries (an older worker's) gets the one that worker
        would have written."""
        return self.audit or (AuditRecord(
            dossier_code=self.dossier.dossier_code, event_key="0000-received",
            entry=TrailEntry(at=datetime.now(UTC), actor="citizen", action=TrailAction.RECEIVED)),)


class IdentityResult(Boundary):
    person: PersonFacts | None
    refusals: tuple[Refusal, ...]


class EligibilityCheck(Boundary):
    submission: Submission


class CalendarRead(Boundary):
    """``calendar_snapshot``: the operators' calendar declarations, read for this dossier's deadline."""

    dossier_code: str


class EligibilityResult(Boundary):
    refusals: tuple[Refusal, ...]
    fee_exempt: bool = False
    deadline_case: DeadlineCase = DeadlineCase.STANDARD
    findings: tuple[str, ...] = ()  # what the officer sees of the checks (``HouseholdFacts.findings``)

    @model_validator(mode="before")
    @classmethod
    def _recorded_with_facts(cls, data: Any) -> Any:
        """Results recorded before the commit loaded its own facts carry the facts instead of the findings."""
        if isinstance(data, dict) and "facts" in data:
            data = dict(data)
            facts = data.pop("facts")
            if facts is not None and "findings" not in data:
                data["findings"] = HouseholdFacts.model_validate(facts).findings()
        return data


class ImmediateCheck(WritesTrail):
    """``accept_immediately``: check and record at once; the trail entries so far are written with the outcome."""

    submission: Submission
    run: str | None = Field(default=None, description=RUN_DOC)
    audit: tuple[AuditRecord, ...] = Field(default=(), description="trail entries not yet written")

    def trail_records(self) -> tuple[AuditRecord, ...]:
        return self.audit


class ImmediateResult(Boundary):
    """``accept_immediately``: identity, eligibility and the record in one transaction (stay notification)."""

    refusals: tuple[Refusal, ...]
    summary: dict[str, str] = {}
    documents: tuple[DocumentKind, ...] = ()  # CT06 when refused


class StayBatch(Boundary):
    """``record_stays``: a batch of an establishment's stay notifications, checked and recorded one by one."""

    notifications: tuple[StayNotificationSubmission, ...] = Field(min_length=1, max_length=200)


class StayOutcome(Boundary):
    """What became of one stay notification in a register: recorded (completed) or refused, and why."""

    dossier_code: str
    state: DossierState
    refusals: tuple[Refusal, ...] = ()
    documents: tuple[DocumentKind, ...] = ()  # CT06 when refused


class StayBatchResult(Boundary):
    outcomes: tuple[StayOutcome, ...]


class OfficerRef(Boundary):
    officer_id: str
    full_name: str
    role: Literal["officer", "supervisor"]
    active: bool


class Acceptance(WritesTrail):
    """``accept_dossier``: the dossier is complete; assign an officer and issue the CT04 receipt."""

    paper: DossierPaper
    deadline: datetime
    deadline_proof: DeadlineProof | None = None  # how the deadline was counted (CT04, the read model)
    audit: tuple[AuditRecord, ...] = Field(default=(), description="trail entries not yet written")

    def trail_records(self) -> tuple[AuditRecord, ...]:
        return self.audit


class UnitRoster(Boundary):
    """``accept_dossier``'s result: who handles the dossier, and the worker's timings for its waits."""

    police_unit: str
    unit_name: str
    officers: tuple[OfficerRef, ...]
    assigned_officer: str | None
    # In the history, so that a replay waits as the dossier did; None in histories recorded while the submission
    # carried the timings (``domain.models.legacy_processing``).
    processing: ProcessingOptions | None = None

    @property
    def supervisor(self) -> str | None:
        return next((o.officer_id for o in self.officers if o.role == "supervisor" and o.active), None)

    def officer(self, officer_id: str) -> OfficerRef | None:
        return next((o for o in self.officers if o.officer_id == officer_id), None)


class PaymentRequest(Boundary):
    dossier_code: str
    amount_vnd: int = Field(ge=0)


class PaymentOrder(Boundary):
    dossier_code: str
    order_id: str
    amount_vnd: int
    status: Literal["pending", "paid", "cancelled"]
    # Where the citizen pays (an HTTP gateway's signed payment URL); None from the in-database gateway and in
    # histories recorded before there was one.
    payment_url: str | None = None


class CommitRequest(Boundary):
    """``commit_residence``: the approved dossier; the activity loads the facts its plan needs as the records stand."""

    submission: Submission


class CommitResult(Boundary):
    dossier_code: str
    summary: dict[str, str]
    already_committed: bool
    # Not committed: a competing dossier changed the records first and the rules now refuse this one (the first
    # refusal says so); histories from before re-validation hold results without it.
    refusals: tuple[Refusal, ...] = ()


class DocumentRequest(Boundary):
    """Which legal documents to issue for a dossier, and what goes into them."""

    dossier_code: str
    procedure: Procedure
    kinds: tuple[DocumentKind, ...]
    paper: DossierPaper | None  # None for a submission that never passed validation: nothing to print or send
    refusals: tuple[Refusal, ...] = ()
    deadline: datetime | None = None
    deadline_proof: DeadlineProof | None = None  # CT04 prints it
    decided_by: str | None = None
    missing_items: tuple[str, ...] = ()
    checklist: tuple[ChecklistItem, ...] = ()  # CT05 item by item, when the officer gave one
    # Who signs the result forms (CT03, CT07, CT08): the unit head or an authorised deputy; None when the
    # procedure needs no sign-off, and in histories recorded before sign-offs.
    signer: Signer | None = None


class DeliveryRequest(WritesTrail):
    """``deliver_result``: issue the result documents, deliver them, close the dossier in the read model."""

    final_state: DossierState
    result: DocumentRequest
    fee_paid_vnd: int = 0
    run: str | None = Field(default=None, description=RUN_DOC)
    audit: tuple[AuditRecord, ...] = Field(default=(), description="trail entries not yet written, the closing last")
    held: tuple[AuditRecord, ...] | None = Field(
        default=None, description="every trail entry the history holds but the closing: the audit rows of lost "
                                  "workflow tasks are superseded against them (activities.trail); None in requests "
                                  "from before")

    def trail_records(self) -> tuple[AuditRecord, ...]:
        return (*self.opening(), self.closing())

    def opening(self) -> tuple[AuditRecord, ...]:
        """The entries written before the delivery."""
        return tuple(r for r in self.audit if r.event_key != CLOSING_KEY)

    def closing(self) -> AuditRecord:
        """The closing entry, written with the final status once the result is delivered. A request scheduled
        before the workflow sent it (an older worker's) gets the one that worker would have written."""
        for record in self.audit:
            if record.event_key == CLOSING_KEY:
                return record
        reason = "; ".join(r.message for r in self.result.refusals)
        return AuditRecord(dossier_code=self.result.dossier_code, event_key=CLOSING_KEY, state=self.final_state,
                           entry=TrailEntry(at=datetime.now(UTC), actor=self.result.decided_by or "system",
                                            action=TrailAction.closing(self.final_state), detail=reason))


class Closing(Boundary):
    """``settle_closing``: a withdrawal, an operator's close or a cancellation is about to end the dossier."""

    dossier_code: str
    state: DossierState


class Settlement(Boundary):
    """Whether the dossier's records were committed first (the closing is then refused, too late); otherwise no
    record commit can begin any more."""

    committed: bool


class DraftRequest(Boundary):
    """``draft_result``: the result documents a dossier would get if it were approved at ``at``, signed by
    ``signer`` (None: the signer is not known yet, the form prints the unit head's title)."""

    submission: Submission
    at: datetime
    signer: Signer | None = None


class DraftResult(Boundary):
    """The drafts, as the forms would print them (``DocumentData.draft`` set); none when the checks find grounds
    for refusal (``refusals``), as no approval could issue a result then."""

    documents: tuple[DocumentData, ...] = ()
    refusals: tuple[Refusal, ...] = ()


class DeliveryReceipt(Boundary):
    dossier_code: str
    method: str
    documents: tuple[DocumentKind, ...]
    sha256: tuple[str, ...]
    # Histories recorded while the auditors' trail was read from activity results hold the written entries here.
    audit: tuple[AuditRecord, ...] = ()
