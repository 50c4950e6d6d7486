"""What the dossier lifecycle knows about its dossier, in one object: the ``status`` query is built from it, and the
decision trail is added to through it only.

Deterministic: the workflow passes the time in (``workflow.now()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import CLOSING_KEY, AuditRecord, UnitRoster
    from domain.deadlines import DeadlineClock, DeadlineProof
    from domain.kinds import DocumentKind, Procedure
    from domain.models import (
        ChecklistAnswer,
        ChecklistEntry,
        Closure,
        DossierState,
        DossierStatus,
        OfficerDecision,
        PaymentConfirmation,
        ProcessingOptions,
        Refusal,
        Signer,
        SignOff,
        Supplement,
        TrailAction,
        TrailEntry,
        Withdrawal,
    )
    from domain.procedures.deletion import CitizenFiling


@runtime_checkable
class Audited(Protocol):
    """A workflow that keeps a decision trail: the auditors' replay (``cutru.clients.audit``) reads it from the
    replayed workflow itself, so the trail an auditor sees is the one the workflow kept."""

    def audit_trail(self) -> tuple[TrailEntry, ...]: ...


@dataclass
class Inbox:
    """Messages that arrived and wait for the lifecycle to take them."""

    decision: OfficerDecision | None = None
    open_for_decision: bool = False  # closes as soon as one decision is accepted: duplicates are refused
    sign_off: SignOff | None = None
    open_for_sign_off: bool = False  # as open_for_decision, for the head's sign-off of a proposal
    supplement: Supplement | None = None
    payment: PaymentConfirmation | None = None
    withdrawal: Withdrawal | None = None
    citizen_filing: CitizenFiling | None = None
    closure: Closure | None = None  # an operator's close: the lifecycle stops wherever it waits


@dataclass
class DossierProgress:
    """The lifecycle's whole state of one dossier."""

    code: str
    procedure: Procedure
    state: DossierState = DossierState.RECEIVED
    submission: Any = None  # the procedure's submission model, once the input validated
    unit: str = ""
    roster: UnitRoster | None = None
    clock: DeadlineClock | None = None
    overdue: bool = False
    fee: int = 0
    refusals: tuple[Refusal, ...] = ()
    documents: tuple[DocumentKind, ...] = ()
    findings: tuple[str, ...] = ()
    # The CT05 checklist while a supplement is awaited (empty for a request of plain missing items).
    checklist: list[ChecklistEntry] = field(default_factory=list)
    approved_by: str | None = None
    proposed_by: str | None = None  # the officer whose approval waits for the head's sign-off (none signs their own)
    signer: Signer | None = None  # who signed the result, once the head signed the proposal
    failed_step: str | None = None  # a step that failed for good: the dossier waits for an operator to close it
    trail: list[TrailEntry] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # each trail entry's key in the audit table
    # Trail entries not yet in the audit table: they ride with the next activity that writes there.
    unwritten: list[AuditRecord] = field(default_factory=list)
    inbox: Inbox = field(default_factory=Inbox)
    # How this dossier's history was written, so that a replay takes the same turns: LOCAL_STEPS, and the timings
    # a submission carried before they became the worker's.
    local_steps: bool = False
    # MESSAGE_KEYS: the entries that refused messages add are keyed by their own count, apart from the rest (whose
    # keys count only the rest). A local step writes entries before its workflow task completes; when a killed
    # worker never completes it, the retried task handles the messages that arrived meanwhile first, and position
    # keys would shift every later entry and write it again under a new key.
    message_keys: bool = False
    messages_recorded: int = 0
    legacy_processing: ProcessingOptions = field(default_factory=ProcessingOptions)

    def record(self, at: datetime, actor: str, action: TrailAction, detail: str = "", *, written: bool = False,
               state: DossierState | None = None, overdue: bool | None = None,
               assigned_officer: str | None = None, deadline_proof: DeadlineProof | None = None,
               message: bool = False) -> TrailEntry:
        """The one way to add to the decision trail. The entry goes to the audit table with the next activity that
        writes there, unless ``written`` (the activity that decided it wrote it itself). ``message``: a refused
        message's entry, added by its handler.

        ``state``, ``overdue``, ``assigned_officer`` and ``deadline_proof`` (a moved deadline) are the read-model
        changes the entry causes, if any: records
        can be written late, so they carry only the changes they cause, never a snapshot that could move the read
        model backwards."""
        entry = TrailEntry(at=at, actor=actor, action=action, detail=detail)
        if action.closes:
            key = CLOSING_KEY
        elif message and self.message_keys:
            key = f"m{self.messages_recorded:05d}-{action.value}"
            self.messages_recorded += 1
        else:
            key = f"{len(self.trail) - self.messages_recorded:04d}-{action.value}"
        self.trail.append(entry)
        self.keys.append(key)
        if not written:
            self.unwritten.append(AuditRecord(dossier_code=self.code, event_key=key, entry=entry, state=state,
                                              overdue=overdue, assigned_officer=assigned_officer,
                                              deadline_proof=deadline_proof))
        return entry

    def answer_checklist(self, answers: tuple[ChecklistAnswer, ...]) -> None:
        """Take the answers to items still missing, each with a paper of a kind the item accepts; others are
        ignored (the API refuses them before they are sent)."""
        for answer in answers:
            if 0 <= answer.item < len(self.checklist):
                entry = self.checklist[answer.item]
                if entry.answer is None and answer.attachment.kind in entry.accepted_kinds:
                    self.checklist[answer.item] = entry.model_copy(update={"answer": answer.attachment})

    @property
    def checklist_complete(self) -> bool:
        return bool(self.checklist) and all(entry.answer is not None for entry in self.checklist)

    def held(self) -> tuple[AuditRecord, ...]:
        """Every entry of the trail but the closing one, as written to the audit table: what the dossier's final
        write supersedes the rows of lost workflow tasks against (activities.trail)."""
        return tuple(AuditRecord(dossier_code=self.code, event_key=key, entry=entry)
                     for key, entry in zip(self.keys, self.trail, strict=True) if key != CLOSING_KEY)

    def take_unwritten(self) -> tuple[AuditRecord, ...]:
        """The entries for the activity about to write them; taken before it is awaited, as handlers may add more."""
        taken, self.unwritten = tuple(self.unwritten), []
        return taken

    @property
    def processing(self) -> ProcessingOptions:
        """The worker's timings, as ``accept_dossier`` recorded them; a dossier accepted before it returned them
        waits by those its submission carried."""
        recorded = self.roster.processing if self.roster else None
        return recorded if recorded is not None else self.legacy_processing

    def status(self) -> DossierStatus:
        return DossierStatus(
            dossier_code=self.code,
            procedure=self.procedure,
            state=self.state,
            police_unit=self.unit,
            received_at=self.submission.received_at if self.submission else None,
            deadline=self.clock.deadline if self.clock else None,
            overdue=self.overdue,
            assigned_officer=self.roster.assigned_officer if self.roster else None,
            fee_vnd=self.fee,
            refusals=self.refusals,
            documents=self.documents,
            trail=tuple(self.trail),
            findings=self.findings,
            checklist=tuple(self.checklist),
            submission=self.submission.model_dump(mode="json") if self.submission else None,
        )
