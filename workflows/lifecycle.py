"""The dossier lifecycle shared by all eleven procedures.

received → identity validated → household/eligibility checked → (officer review: approve | reject |
request supplement ↔ citizen supplement) → (fee paid | exempt) → residence records committed → result delivered
→ completed; or refused / cancelled / withdrawn where the law allows. Each procedure's ``ProcedureSpec`` says
which of these steps it has.

Messages (every procedure):
- signal ``officer_decision(OfficerDecision)`` — for integrations; an invalid one is recorded as refused.
- update ``decide(OfficerDecision) -> DecisionReceipt`` — validated before it enters history.
- signal ``supplement(Supplement)`` — the citizen completes the dossier after a CT05 request.
- signal ``payment_confirmed(PaymentConfirmation)`` — the payment gateway's callback.
- signal ``withdraw(Withdrawal)`` — the applicant withdraws before the result.
- update ``reassign(Reassignment) -> DossierStatus`` — the unit's supervisor moves the dossier to another officer.
- query ``status() -> DossierStatus``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import (
    RawValue,
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.contracts import (
        Acceptance,
        AuditBatch,
        AuditRecord,
        CommitRequest,
        DeliveryRequest,
        DocumentRequest,
        DossierHeader,
        DossierPaper,
        EligibilityCheck,
        EligibilityResult,
        IdentityCheck,
        ImmediateResult,
        PaymentOrder,
        PaymentRequest,
        UnitRoster,
    )
    from activities.dossier import DossierActivities
    from domain.deadlines import DeadlineClock, deadline_for
    from domain.models import (
        DecisionKind,
        DecisionReceipt,
        DossierOutcome,
        DossierState,
        DossierStatus,
        OfficerDecision,
        PaymentConfirmation,
        ProcessingOptions,
        Reassignment,
        Refusal,
        Supplement,
        TrailEntry,
        Withdrawal,
        legacy_processing,
    )
    from domain.procedures import DocumentKind, Procedure
    from domain.procedures.catalogue import PROCEDURES, field_errors, submission_model
    from domain.rulesets import fee_for

PROCEDURE_KEY = SearchAttributeKey.for_keyword("DossierProcedure")
STATUS_KEY = SearchAttributeKey.for_keyword("DossierStatus")
UNIT_KEY = SearchAttributeKey.for_keyword("PoliceUnit")
DEADLINE_KEY = SearchAttributeKey.for_datetime("DossierDeadline")
OVERDUE_KEY = SearchAttributeKey.for_bool("DossierOverdue")

def initial_search_attributes(submission: Any) -> TypedSearchAttributes:
    """Set by the starter, so that a new dossier is searchable at once without an upsert in its history."""
    return TypedSearchAttributes([
        SearchAttributePair(PROCEDURE_KEY, submission.procedure.value),
        SearchAttributePair(STATUS_KEY, DossierState.RECEIVED.value),
        SearchAttributePair(UNIT_KEY, submission.police_unit),
        SearchAttributePair(OVERDUE_KEY, False),
    ])


# Database and delivery hiccups are retried for as long as it takes: a dossier must never fail on them.
DURABLE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1)
)
# Every activity is a few database round trips; a worker that dies mid-activity is noticed after this.
ACTIVITY_TIMEOUT = timedelta(seconds=10)
# The steps that touch nothing but cutru's own database and document store (identity, eligibility, acceptance, the
# record commit, documents, the audit trail, the delivery into the outbox) run as local activities: inside the
# workflow task, each costs one marker event instead of an activity task and the workflow task after it (6 events, a
# server round trip each way). Added after dossiers were already running: those replay without it (workflow.patched
# id), as do dossiers refused as invalid before it is read. The payment gateway, an outside party, is called from
# regular activities (their own timeouts and retries, a task queue that can be rate-limited).
LOCAL_STEPS = "internal-steps-as-local-activities"
# A local step's attempts (1 + 2 + 4 s apart) hold its workflow task, so a step still failing after them moves to a
# regular activity, whose retries, however long the outage, add nothing to the history (a workflow task held longer
# would be extended every 8 s, three events each) and show in the Web UI as a pending activity.
LOCAL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=4)


# The error type of a decision the dossier refuses (the ``decide`` validator; DossierClient for a closed dossier).
DECISION_REFUSED = "DecisionRefused"

# The input as it arrived, decoded inside the workflow: input that is not JSON, or JSON no Python string can hold
# (a lone surrogate), or nested too deep, or no input at all, must become a refused dossier, not a workflow task
# that fails on every attempt (the SDK decodes typed arguments before the workflow code runs).
NO_INPUT = RawValue(Payload())


class DossierLifecycle:
    """Base of the eleven procedure workflows; subclasses set ``procedure`` and declare ``run``."""

    procedure: ClassVar[Procedure]

    def __init__(self) -> None:
        self._code = workflow.info().workflow_id
        self._spec = PROCEDURES[self.procedure]
        self._state = DossierState.RECEIVED
        self._submission: Any = None
        self._unit = ""
        self._roster: UnitRoster | None = None
        self._clock: DeadlineClock | None = None
        self._overdue = False
        self._fee = 0
        self._refusals: tuple[Refusal, ...] = ()
        self._documents: tuple[DocumentKind, ...] = ()
        self._trail: list[TrailEntry] = []
        self._findings: tuple[str, ...] = ()
        self._decision: OfficerDecision | None = None
        self._open_for_decision = False  # closes as soon as one decision is accepted: duplicates are refused
        self._supplement: Supplement | None = None
        self._payment: PaymentConfirmation | None = None
        self._withdrawal: Withdrawal | None = None
        self._audit_seq = 0
        self._unwritten: list[AuditRecord] = []  # trail entries not yet in the audit table (see _note)
        self._local_steps = False  # LOCAL_STEPS, decided once per dossier in _run
        self._legacy_processing = ProcessingOptions()  # the timings an old submission carried (see _processing)

    # ---- queries and messages ------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> DossierStatus:
        return DossierStatus(
            dossier_code=self._code,
            procedure=self.procedure,
            state=self._state,
            police_unit=self._unit,
            received_at=self._submission.received_at if self._submission else None,
            deadline=self._clock.deadline if self._clock else None,
            overdue=self._overdue,
            assigned_officer=self._roster.assigned_officer if self._roster else None,
            fee_vnd=self._fee,
            refusals=self._refusals,
            documents=self._documents,
            trail=tuple(self._trail),
            findings=self._findings,
            submission=self._submission.model_dump(mode="json") if self._submission else None,
        )

    def _decision_problem(self, decision: OfficerDecision) -> str | None:
        """Why this decision cannot be taken now, or None. Shared by the update validator and the signal."""
        if self._state != DossierState.AWAITING_DECISION or not self._open_for_decision:
            return f"dossier {self._code} is {self._state.value}, not waiting for an officer's decision"
        officer = self._roster.officer(decision.officer_id) if self._roster else None
        if officer is None:
            return f"officer {decision.officer_id} is not an officer of {self._unit}, the unit handling {self._code}"
        if not officer.active:
            return f"officer {decision.officer_id} is inactive and cannot decide"
        return None

    @workflow.update
    async def decide(self, decision: OfficerDecision) -> DecisionReceipt:
        self._accept(decision)
        return DecisionReceipt(dossier_code=self._code, accepted=True, state=self._state)

    @decide.validator
    def _validate_decide(self, decision: OfficerDecision) -> None:
        problem = self._decision_problem(decision)
        if problem:
            raise ApplicationError(problem, type=DECISION_REFUSED, non_retryable=True)

    @workflow.update
    async def reassign(self, reassignment: Reassignment) -> DossierStatus:
        assert self._roster is not None
        self._roster = self._roster.model_copy(update={"assigned_officer": reassignment.officer_id})
        officer = reassignment.officer_id
        await self._audit(reassignment.supervisor_id, "reassigned", f"to {officer}: {reassignment.reason}",
                          assigned_officer=officer)
        return self.status()

    @reassign.validator
    def _validate_reassign(self, reassignment: Reassignment) -> None:
        problem = None
        if self._state not in (DossierState.AWAITING_DECISION, DossierState.AWAITING_SUPPLEMENT) or not self._roster:
            problem = f"dossier {self._code} is {self._state.value}: only a dossier under review can be reassigned"
        else:
            supervisor = self._roster.officer(reassignment.supervisor_id)
            officer = self._roster.officer(reassignment.officer_id)
            if supervisor is None or supervisor.role != "supervisor" or not supervisor.active:
                problem = f"{reassignment.supervisor_id} is not the active supervisor of {self._unit}"
            elif officer is None or officer.role != "officer" or not officer.active:
                problem = f"{reassignment.officer_id} is not an active officer of {self._unit}"
            elif reassignment.officer_id == self._roster.assigned_officer:
                problem = f"the dossier is already assigned to {reassignment.officer_id}"
        if problem:
            raise ApplicationError(problem, type="ReassignmentRefused", non_retryable=True)

    @workflow.signal
    async def officer_decision(self, raw: dict[str, Any]) -> None:
        # The signal takes raw JSON so that a malformed one is recorded as refused instead of failing the task.
        try:
            decision = OfficerDecision.model_validate(raw)
        except ValidationError as error:
            await self._audit("signal", "decision_refused", "; ".join(field_errors(error)))
            return
        problem = self._decision_problem(decision)
        if problem:
            await self._audit(decision.officer_id, "decision_refused", problem)
            return
        self._accept(decision)

    def _accept(self, decision: OfficerDecision) -> None:
        self._decision = decision
        self._open_for_decision = False

    @workflow.signal
    def supplement(self, supplement: Supplement) -> None:
        if self._state == DossierState.AWAITING_SUPPLEMENT and self._supplement is None:
            self._supplement = supplement

    @workflow.signal
    def payment_confirmed(self, confirmation: PaymentConfirmation) -> None:
        self._payment = confirmation

    @workflow.signal
    def withdraw(self, withdrawal: Withdrawal) -> None:
        if not self._state.final and self._state not in (DossierState.RECORDING, DossierState.DELIVERING):
            self._withdrawal = withdrawal

    # ---- the lifecycle -------------------------------------------------------------------------------------

    def _decoded(self, raw: RawValue) -> Any:
        if raw is NO_INPUT:
            return None
        try:
            return workflow.payload_converter().from_payload(raw.payload)
        except (ValueError, TypeError, KeyError, RuntimeError, RecursionError):  # what the decoders refuse
            return "<not a JSON value>"

    async def _run(self, raw: dict[str, Any]) -> DossierOutcome:
        try:
            submission: Any = submission_model(self.procedure).model_validate(raw)
        except ValidationError as error:
            return await self._refuse_invalid(field_errors(error))
        if submission.dossier_code != self._code:
            return await self._refuse_invalid([f"dossier_code: must equal the workflow id {self._code}"])
        self._submission = submission
        self._legacy_processing = legacy_processing(raw)
        self._unit = submission.police_unit
        self._local_steps = workflow.patched(LOCAL_STEPS)
        self._fee = fee_for(self.procedure, submission.channel, submission.received_at)
        self._trail.append(TrailEntry(at=submission.received_at, actor="citizen", action="received",
                                      detail=f"{self._spec.vietnamese_name} ({self._spec.tthc_code})"))
        if STATUS_KEY not in workflow.info().typed_search_attributes:  # cutru.clients.client sets them at start
            self._upsert_search_attributes()
        if self._spec.immediate:
            return await self._accept_immediately(submission)

        identity = await self._internal(DossierActivities.validate_identity,
                                        IdentityCheck(dossier=DossierHeader.of(submission), deadline=None))
        if identity.refusals:
            return await self._finish(DossierState.REFUSED, refusals=identity.refusals, actor="system")
        eligibility: EligibilityResult = await self._internal(DossierActivities.check_eligibility,
                                                              EligibilityCheck(submission=submission))
        if eligibility.refusals:
            return await self._finish(DossierState.REFUSED, refusals=eligibility.refusals, actor="system")
        if eligibility.fee_exempt:
            self._fee = 0
        self._findings = eligibility.findings
        # The legal clock runs from the receipt of a complete, valid dossier.
        allowed = deadline_for(self.procedure, submission.received_at, eligibility.deadline_case)
        self._clock = DeadlineClock.start(submission.received_at, allowed)
        self._trail.append(TrailEntry(at=workflow.now(), actor="system", action="accepted",
                                      detail=f"appointment {self._clock.deadline.isoformat()}"))

        decided_by: str | None = None
        if self._spec.officer_review:
            outcome = await self._officer_review()
            if isinstance(outcome, DossierOutcome):
                return outcome
            decided_by = outcome
        if self._fee and not await self._collect_fee():
            return await self._finish(DossierState.CANCELLED, actor="system",
                                      detail="fee not paid in time; the dossier is cancelled")
        if self._withdrawal is not None:
            return await self._finish(DossierState.WITHDRAWN, actor="citizen", detail=self._withdrawal.reason)

        self._set_state(DossierState.RECORDING)
        await self._internal(DossierActivities.commit_residence, CommitRequest(submission=submission))
        return await self._finish(DossierState.COMPLETED, actor="system", decided_by=decided_by,
                                  documents=self._spec.results)

    async def _officer_review(self) -> str | DossierOutcome:
        """Wait for an officer's decision, looping through supplement rounds; return who approved."""
        assert self._clock is not None
        self._roster = await self._internal(
            DossierActivities.accept_dossier,
            Acceptance(paper=DossierPaper.of(self._submission), deadline=self._clock.deadline),
        )
        while True:
            self._set_state(DossierState.AWAITING_DECISION)
            self._open_for_decision = True
            await self._flush()
            await self._wait_for_decision()
            if self._withdrawal is not None:
                return await self._finish(DossierState.WITHDRAWN, actor="citizen", detail=self._withdrawal.reason)
            decision = self._decision
            assert decision is not None
            self._decision = None
            detail = decision.reason or ", ".join(decision.missing_items)
            if decision.decision == DecisionKind.APPROVE:
                self._note(decision.officer_id, "approved", detail)
                return decision.officer_id
            if decision.decision == DecisionKind.REJECT:
                refusal = Refusal(code="officer_rejected", message=decision.reason or "",
                                  legal_basis=self._spec.legal_basis, message_vi=decision.reason or "")
                return await self._finish(DossierState.REFUSED, refusals=(refusal,), actor=decision.officer_id,
                                          decided_by=decision.officer_id)
            # Supplement request (CT05): the clock stops until the dossier is complete again.
            self._clock = self._clock.pause(workflow.now())
            self._set_state(DossierState.AWAITING_SUPPLEMENT)
            await self._internal(DossierActivities.issue_document, DocumentRequest(
                dossier_code=self._code, procedure=self.procedure, kinds=(DocumentKind.CT05,),
                paper=DossierPaper.of(self._submission), decided_by=decision.officer_id,
                missing_items=decision.missing_items))
            await self._audit(decision.officer_id, "supplement_requested", detail,
                              state=DossierState.AWAITING_SUPPLEMENT)
            timeout = self._processing.supplement_timeout
            try:
                await workflow.wait_condition(
                    lambda: self._supplement is not None or self._withdrawal is not None, timeout=timeout
                )
            except TimeoutError:
                return await self._finish(DossierState.CANCELLED, actor="system",
                                          detail="no supplement within the time allowed")
            if self._withdrawal is not None:
                return await self._finish(DossierState.WITHDRAWN, actor="citizen", detail=self._withdrawal.reason)
            assert self._supplement is not None
            provided = ", ".join(self._supplement.provided_items)
            self._supplement = None
            self._clock = self._clock.resume(workflow.now())
            self._note("citizen", "supplemented", provided, state=DossierState.AWAITING_DECISION)

    async def _wait_for_decision(self) -> None:
        """Wait, reminding the unit when little time is left and escalating when the deadline passes."""
        assert self._clock is not None and self._submission is not None
        reminder_at = self._clock.reminder_at(self._processing.reminder_fraction)
        reminded = workflow.now() >= reminder_at
        while True:
            wake = None if self._overdue else (self._clock.deadline if reminded else reminder_at)
            timeout = max(wake - workflow.now(), timedelta(seconds=1)) if wake else None
            try:
                await workflow.wait_condition(
                    lambda: self._decision is not None or self._withdrawal is not None, timeout=timeout
                )
                return
            except TimeoutError:
                if not reminded:
                    reminded = True
                    await self._audit("system", "reminder_sent", f"deadline {self._clock.deadline.isoformat()}")
                else:
                    self._overdue = True
                    self._upsert_search_attributes()
                    supervisor = self._roster.supervisor if self._roster else None
                    await self._audit("system", "escalated", f"deadline passed: escalated to supervisor {supervisor}",
                                      overdue=True)

    async def _collect_fee(self) -> bool:
        """Ask the gateway for a payment order and wait for it to be paid; False when it never is."""
        options = self._processing
        order: PaymentOrder = await self._act(DossierActivities.request_payment,
                                              PaymentRequest(dossier_code=self._code, amount_vnd=self._fee))
        if order.status == "pending":  # only now can the citizen pay: the order exists (paid at once: no wait)
            self._set_state(DossierState.AWAITING_PAYMENT)
        give_up_at = workflow.now() + options.payment_timeout
        while order.status == "pending":
            remaining = give_up_at - workflow.now()
            if remaining <= timedelta(0):
                order = await self._act(DossierActivities.cancel_payment, order)
                if order.status != "paid":
                    return False
                break  # paid at the last moment: the fee is kept, so the dossier goes on
            await self._flush()
            try:
                await workflow.wait_condition(
                    lambda: self._payment is not None or self._withdrawal is not None,
                    timeout=min(options.payment_poll_interval, remaining),
                )
            except TimeoutError:
                pass
            if self._withdrawal is not None:
                order = await self._act(DossierActivities.cancel_payment, order)
                if order.status != "paid":
                    return True
                # Paid before the withdrawal reached the gateway: the fee is kept, so the dossier goes on.
                self._note("citizen", "withdrawal_refused", "the fee was already paid")
                self._withdrawal = None
                break
            # The callback only wakes us up: the gateway's own status is the truth (a callback can be lost or forged).
            self._payment = None
            order = await self._act(DossierActivities.check_payment, order)
        self._note("payment-gateway", "fee_paid", f"{order.amount_vnd} VND, order {order.order_id}")
        return True

    async def _finish(
        self,
        state: DossierState,
        *,
        actor: str,
        refusals: tuple[Refusal, ...] = (),
        detail: str = "",
        decided_by: str | None = None,
        documents: tuple[DocumentKind, ...] = (),
    ) -> DossierOutcome:
        self._refusals = tuple(refusals)
        if state == DossierState.REFUSED:
            documents = (DocumentKind.CT06,)
            detail = "; ".join(r.message for r in refusals)
        self._documents = documents
        self._set_state(DossierState.DELIVERING if documents else state)
        pending, self._unwritten = tuple(self._unwritten), []  # taken before the await: handlers may add more
        await self._internal(
            DossierActivities.deliver_result,
            DeliveryRequest(
                final_state=state,
                result=DocumentRequest(
                    dossier_code=self._code,
                    procedure=self.procedure,
                    kinds=documents,
                    paper=DossierPaper.of(self._submission) if self._submission else None,
                    refusals=self._refusals,
                    deadline=self._clock.deadline if self._clock else None,
                    decided_by=decided_by,
                ),
                fee_paid_vnd=self._fee if state == DossierState.COMPLETED else 0,
                audit=pending,
            ),
        )
        self._trail.append(TrailEntry(at=workflow.now(), actor=actor, action=state.value, detail=detail))
        self._set_state(state)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return DossierOutcome(
            dossier_code=self._code,
            procedure=self.procedure,
            state=state,
            refusals=self._refusals,
            fee_paid_vnd=self._fee if state == DossierState.COMPLETED else 0,
            documents=documents,
            decided_by=decided_by,
        )

    async def _accept_immediately(self, submission: Any) -> DossierOutcome:
        """Accepted at once (stay notification): one activity checks and records; no officer, no fee."""
        result: ImmediateResult = await self._internal(DossierActivities.accept_immediately,
                                                  EligibilityCheck(submission=submission))
        state = DossierState.REFUSED if result.refusals else DossierState.COMPLETED
        self._refusals = result.refusals
        self._documents = result.documents
        self._trail.append(TrailEntry(at=workflow.now(), actor="system", action=state.value,
                                      detail="; ".join(r.message for r in result.refusals)))
        self._set_state(state)
        return DossierOutcome(dossier_code=self._code, procedure=self.procedure, state=state,
                              refusals=result.refusals, documents=result.documents)

    async def _refuse_invalid(self, problems: list[str]) -> DossierOutcome:
        """Input that never passed validation: refuse it, never crash or hang the workflow."""
        refusals = tuple(Refusal(code="invalid_submission", message=p) for p in problems[:50])
        return await self._finish(DossierState.REFUSED, refusals=refusals, actor="system")

    # ---- helpers -------------------------------------------------------------------------------------------

    @property
    def _processing(self) -> ProcessingOptions:
        """The worker's timings, as ``accept_dossier`` recorded them; a dossier accepted before it returned them
        waits by those its submission carried."""
        recorded = self._roster.processing if self._roster else None
        return recorded if recorded is not None else self._legacy_processing

    async def _act(self, activity: Any, arg: Any) -> Any:
        return await workflow.execute_activity_method(
            activity, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=DURABLE_RETRY
        )

    async def _internal(self, activity: Any, arg: Any) -> Any:
        """A step on cutru's own database and documents only: a local activity (LOCAL_STEPS), a regular one if that
        keeps failing.

        Either way it runs on a worker and is idempotent, keyed by the dossier, so running it again is safe."""
        if self._local_steps:
            try:
                return await workflow.execute_local_activity_method(
                    activity, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=LOCAL_RETRY)
            # The SDK raises a local activity's failure as it is, not wrapped in an ActivityError.
            except (ActivityError, ApplicationError, ActivityTimeoutError) as error:
                workflow.logger.warning("local step %s failed %d times, retried as an activity: %s",
                                        activity.__name__, LOCAL_RETRY.maximum_attempts, error)
        return await self._act(activity, arg)

    def _note(self, actor: str, action: str, detail: str, *, state: DossierState | None = None,
              overdue: bool | None = None, assigned_officer: str | None = None) -> None:
        """Add to the trail now; the audit table gets it with the next write (fewer activities per dossier).

        ``state`` is the read-model status this entry sets, if any: records can be written late, so they carry
        only the changes they cause, never a snapshot that could move the read model backwards."""
        entry = TrailEntry(at=workflow.now(), actor=actor, action=action, detail=detail)
        self._trail.append(entry)
        self._audit_seq += 1
        self._unwritten.append(AuditRecord(dossier_code=self._code, event_key=f"{self._audit_seq:04d}-{action}",
                                           entry=entry, state=state, overdue=overdue,
                                           assigned_officer=assigned_officer))

    async def _flush(self) -> None:
        """Write pending trail entries; called before every wait so the audit table never lags a waiting dossier."""
        if self._unwritten:
            batch, self._unwritten = tuple(self._unwritten), []
            await self._internal(DossierActivities.record_event, AuditBatch(records=batch))

    async def _audit(self, actor: str, action: str, detail: str, **changes: Any) -> None:
        self._note(actor, action, detail, **changes)
        await self._flush()

    def _set_state(self, state: DossierState) -> None:
        """Operators search by status: upsert it where a dossier rests, not for steps that last milliseconds."""
        if state != self._state:
            self._state = state
            if state not in (DossierState.RECORDING, DossierState.DELIVERING):
                self._upsert_search_attributes()

    def _upsert_search_attributes(self) -> None:
        updates: list[SearchAttributeUpdate[Any]] = [
            PROCEDURE_KEY.value_set(self.procedure.value),
            STATUS_KEY.value_set(self._state.value),
            OVERDUE_KEY.value_set(self._overdue),
        ]
        if self._unit:
            updates.append(UNIT_KEY.value_set(self._unit))
        if self._clock is not None:
            updates.append(DEADLINE_KEY.value_set(self._clock.deadline))
        workflow.upsert_search_attributes(updates)
