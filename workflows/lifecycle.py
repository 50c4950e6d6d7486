"""The dossier lifecycle shared by all eleven procedures.

received → identity validated → household/eligibility checked → (officer review: approve | reject |
request supplement ↔ citizen supplement) → (fee paid | exempt) → residence records committed → result delivered
→ completed; or refused / cancelled / withdrawn where the law allows. Each procedure's ``ProcedureSpec`` says
which of these steps it has.

Messages (every procedure):
- signal ``officer_decision(OfficerDecision)`` — for integrations; an invalid or unsigned one is recorded as refused.
- update ``decide(OfficerDecision) -> DecisionReceipt`` — validated before it enters history.
- signal ``supplement(Supplement)`` — the citizen completes the dossier after a CT05 request.
- signal ``payment_confirmed(PaymentConfirmation)`` — the payment gateway's callback.
- signal ``withdraw(Withdrawal)`` — the applicant withdraws before the result (a citizen's filing only).
- update ``reassign(Reassignment) -> DossierStatus`` — the unit's supervisor moves the dossier to another officer.
- update ``sign_off(SignOff) -> SignOffReceipt`` — the unit head (or an authorised deputy) signs an officer's
  proposal or returns it; validated before it enters history.
- update ``close(Closure) -> DossierStatus`` — an operator ends a dossier that cannot proceed, with a reason: it ends
  cancelled wherever it waited (a fee requested is cancelled at the gateway); validated before it enters history.
- query ``status() -> DossierStatus``.

Each message counts against the dossier's message budget (``ProcessingOptions.message_budget``); past it, the signals
that would not move the dossier on are dropped unrecorded and ``reassign`` is refused (docs/reliability.md). A step
that fails for good (a non-retryable activity error) is recorded and the dossier waits for an operator's ``close``;
a cancelled workflow closes its dossier the same way.

For the procedures whose results the unit head signs (``domain.rulesets.SignOffRules``), an officer's approval is a
proposal: the dossier waits in ``awaiting_sign_off`` (the legal clock running, reminders and escalation as for a
decision) until the head signs it or returns it to the officer, who then decides again.

Decisions, sign-offs and reassignments are signed envelopes (``domain.envelopes``): the cutru API signs them after
checking the caller's token and the officer against the database; the workers verify them with the decision keys
(``workflows.decision_keys``). An unsigned, forged, expired, other dossier's or already used envelope is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import (
    Priority,
    RawValue,
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
    VersioningBehavior,
)
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.checks import EnvelopeCheck, MessageChecks, Verdict
    from activities.contracts import (
        CLOSED_BEFORE_COMMIT,
        DATA_REFUSED,
        DOSSIER_CODE_TAKEN,
        Acceptance,
        AuditBatch,
        CalendarRead,
        Closing,
        CommitRequest,
        CommitResult,
        DeliveryRequest,
        DocumentRequest,
        DossierHeader,
        DossierPaper,
        EligibilityCheck,
        EligibilityResult,
        IdentityCheck,
        ImmediateCheck,
        ImmediateResult,
        PaymentOrder,
        PaymentRequest,
        Settlement,
    )
    from activities.dossier import DossierActivities
    from domain.calendar import CalendarSnapshot
    from domain.deadlines import DeadlineClock, DeadlineProof, deadline_for, deadline_proof
    from domain.envelopes import MAX_AGE, signature_problem
    from domain.kinds import DocumentKind, Procedure
    from domain.models import (
        ChecklistEntry,
        Closure,
        DecisionKind,
        DecisionReceipt,
        DossierOutcome,
        DossierState,
        DossierStatus,
        OfficerDecision,
        PaymentConfirmation,
        Reassignment,
        Refusal,
        Signer,
        SignOff,
        SignOffKind,
        SignOffReceipt,
        Supplement,
        TrailAction,
        TrailEntry,
        Withdrawal,
        legacy_processing,
    )
    from domain.priority import clock_priority, fairness_key, submission_priority
    from domain.procedures.catalogue import PROCEDURES, field_errors, submission_model
    from domain.rulesets import fee_for, needs_sign_off
    from workflows import decision_keys

from workflows.progress import DossierProgress

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


def start_priority(submission: Any, now: datetime) -> Priority:
    """Set by the starter: the dossier's tasks go first by the working time its term leaves it at ``now``, and its
    unit's dossiers share their level fairly with other units' (``domain.priority``). Its activities, later, take
    theirs from the clock (``DossierLifecycle._priority``)."""
    key = submission_priority(submission.procedure, submission.received_at, now,
                              immediate=PROCEDURES[submission.procedure].immediate)
    return Priority(priority_key=key, fairness_key=fairness_key(submission.police_unit))


# Under Worker Versioning a dossier moves to each new build at its next task: it lives for weeks (a decision, a
# supplement, the fee), longer than an old build should be kept running, and every change to its commands already
# goes behind workflow.patched with the recorded histories replayed by the suite (docs/production.md).
DOSSIER_VERSIONING = VersioningBehavior.AUTO_UPGRADE

# Database and delivery hiccups are retried for as long as it takes: a dossier must never fail on them. What no
# retry mends is not retried: the activities' own non-retryable types, and input or stored data that does not
# validate (pydantic's ValidationError, the same at every attempt).
DURABLE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[DOSSIER_CODE_TAKEN, DATA_REFUSED, "ValidationError"],
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
REASSIGNMENT_REFUSED = "ReassignmentRefused"
SIGN_OFF_REFUSED = "SignOffRefused"
CLOSE_REFUSED = "CloseRefused"
# Past the message budget, the signals that do not move a dossier on are dropped unrecorded, the budget's end recorded
# once (workflow.patched id: a history from before replays every message as it was taken).
MESSAGE_BUDGET = "message-budget"
# An operator's ``close``, a step failing for good and the workflow's cancellation end the dossier cancelled with the
# reason in its trail (workflow.patched id: a history cancelled before it replays as a cancelled workflow).
CLOSE_WITH_REASON = "close-with-reason"
# An officer's approval becomes a proposal the unit head signs, for the procedures the rule data names
# (workflow.patched id: dossiers approved before it completed on the officer's approval alone, and replay so).
HEAD_SIGN_OFF = "head-sign-off"
# The ``officer_decision`` signal takes a decision only when its envelope verifies, and ``withdraw`` only from the
# dossier's own applicant on a citizen's filing (workflow.patched ids: histories from before replay as they ran).
SIGNED_DECISIONS = "signed-decisions"
CHECKED_WITHDRAWAL = "checked-withdrawal"
# A supplement request may carry a checklist (CT05 item by item): the dossier then waits for an answer to every item
# and resumes the clock at the last one, instead of taking one ``supplement`` signal as the whole supplement.
SUPPLEMENT_CHECKLIST = "supplement-checklist"
# The deadline is computed under the operators' calendar declarations, read by an activity at the start of the clock
# and at each restart (domain.calendar rule 5); histories from before them count with the package's calendar alone.
CALENDAR_EXCEPTIONS = "calendar-exceptions"
# The record commit judges the dossier again on the records as they stand, under locks, and a dossier a competing
# one overtook is refused there (CT06) instead of committed on facts read at acceptance. Histories from before it
# never hold a commit that refused, so they take the same path with or without the marker.
COMMIT_REVALIDATED = "commit-revalidated"
# The patches asked after a local step are all asked at the start instead (the SDK keeps each answer for the run).
# A local step's marker can land in a workflow task before the code after its result ran (the SDK's task heartbeat
# takes it along while that code waits for its activation); on replay the code then runs in that earlier task, where
# a patch whose marker came after is not yet announced and reads False: the history no longer replays (a chaos run's
# ``head-sign-off`` after a decision signal's envelope check). Histories from before ask them where they stand.
PATCHES_AT_START = "patches-at-start"
# Refused messages' trail entries keyed apart from the rest (DossierProgress.message_keys).
MESSAGE_KEYS = "message-keys"
# A local step writes inside its workflow task; when the task is lost (its worker killed before it completed), the
# retry first takes the messages that came meanwhile and may go elsewhere (docs/reliability.md, lost workflow tasks).
# A withdrawal, an operator's close or a cancellation is then decided against the record commit by the database
# (``settle_closing``): the records committed first, it is refused as too late and the dossier completes on the
# commit (which finds its own); otherwise no commit begins any more. The final write supersedes the audit rows the
# history does not hold (``DeliveryRequest.held``, activities.trail).
LOST_TASKS = "lost-task-arbitration"
LATE_PATCHES = (CALENDAR_EXCEPTIONS, HEAD_SIGN_OFF, SUPPLEMENT_CHECKLIST, COMMIT_REVALIDATED, LOST_TASKS)
# The trail entry's detail when the database found the records committed before the withdrawal or close.
TOO_LATE = "too late: the residence records are already committed"
# What the codec (cutru.platform.codec) turns a payload into that did not arrive encrypted.
UNENCRYPTED_ENCODING = b"binary/unencrypted-refused"
UNENCRYPTED = "payload arrived unencrypted: dossiers are started only through the cutru API or DossierClient"

# The input as it arrived, decoded inside the workflow: input that is not JSON, or JSON no Python string can hold
# (a lone surrogate), or nested too deep, or no input at all, must become a refused dossier, not a workflow task
# that fails on every attempt (the SDK decodes typed arguments before the workflow code runs).
NO_INPUT = RawValue(Payload())


class DossierLifecycle:
    """Base of the eleven procedure workflows; subclasses set ``procedure`` and declare ``run``.

    All of a dossier's state is one ``DossierProgress``; every trail entry is added with ``_record`` and reaches the
    audit table with the next activity that writes there (``_flush`` before every wait)."""

    procedure: ClassVar[Procedure]

    def __init__(self) -> None:
        self._spec = PROCEDURES[self.procedure]
        self._progress = DossierProgress(code=workflow.info().workflow_id, procedure=self.procedure)
        # The token ids of the envelopes this dossier took: one decision or reassignment each (replay protection).
        self._used_tokens: set[str] = set()
        # Opened by a police notice (the deletions' ex officio path): nobody can withdraw it.
        self._opened_by_police = False
        # Messages taken into the history (signals, accepted updates), against the budget.
        self._messages = 0
        self._budget_spent = False
        # Whether a step has bound the dossier code to this workflow (activities.runs): the delivery binds it
        # otherwise (an invalid submission refused, a dossier closed before its first step).
        self._bound = False
        # The fee's order once the gateway made it: an operator's close cancels it.
        self._order: PaymentOrder | None = None

    # ---- queries and messages ------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> DossierStatus:
        return self._progress.status()

    def audit_trail(self) -> tuple[TrailEntry, ...]:
        """The decision trail, for the auditors' replay (``cutru.audit``)."""
        return tuple(self._progress.trail)

    def _decision_problem(self, decision: OfficerDecision) -> str | None:
        """Why this decision cannot be taken now, or None. Shared by the update validator and the signal."""
        p = self._progress
        if p.state != DossierState.AWAITING_DECISION or not p.inbox.open_for_decision or p.inbox.closure:
            return f"dossier {p.code} is {p.state.value}, not waiting for an officer's decision"
        officer = p.roster.officer(decision.officer_id) if p.roster else None
        if officer is None:
            return f"officer {decision.officer_id} is not an officer of {p.unit}, the unit handling {p.code}"
        if not officer.active:
            return f"officer {decision.officer_id} is inactive and cannot decide"
        return None

    def _envelope_problem(self, message: OfficerDecision | Reassignment | SignOff | Closure) -> str | None:
        """Why the message's envelope is not to be trusted (validators only: they do not run on replay, so the
        worker's keys and clock cannot make a replay take another turn)."""
        if not isinstance(message, OfficerDecision | Reassignment | SignOff | Closure):  # JSON null decodes to None
            return "no message"
        problem = signature_problem(message, dossier_code=self._progress.code, now=workflow.now(),
                                    keys=decision_keys.current(), max_age=MAX_AGE)
        return problem or self._token_problem(message)

    def _token_problem(self, message: OfficerDecision | Reassignment | SignOff | Closure) -> str | None:
        if message.token_id in self._used_tokens:
            return f"token {message.token_id} was already used on dossier {self._progress.code}: sign a new request"
        return None

    def _take_token(self, message: OfficerDecision | Reassignment | SignOff | Closure) -> None:
        if message.token_id is not None:
            self._used_tokens.add(message.token_id)

    @workflow.update
    async def decide(self, decision: OfficerDecision) -> DecisionReceipt:
        self._messages += 1
        self._accept(decision)
        return DecisionReceipt(dossier_code=self._progress.code, accepted=True, state=self._progress.state)

    @decide.validator
    def _validate_decide(self, decision: OfficerDecision) -> None:
        # The envelope first: a forger learns nothing about the unit's roster or the dossier's state.
        problem = self._envelope_problem(decision) or self._decision_problem(decision)
        if problem:
            raise ApplicationError(problem, type=DECISION_REFUSED, non_retryable=True)

    @workflow.update
    async def sign_off(self, sign_off: SignOff) -> SignOffReceipt:
        self._messages += 1
        self._take_token(sign_off)
        self._progress.inbox.sign_off = sign_off
        self._progress.inbox.open_for_sign_off = False
        return SignOffReceipt(dossier_code=self._progress.code, decision=sign_off.decision, state=self._progress.state)

    @sign_off.validator
    def _validate_sign_off(self, sign_off: SignOff) -> None:
        problem = self._envelope_problem(sign_off) or self._sign_off_problem(sign_off)
        if problem:
            raise ApplicationError(problem, type=SIGN_OFF_REFUSED, non_retryable=True)

    def _sign_off_problem(self, sign_off: SignOff) -> str | None:
        """Who signs was checked against the roster by the API at sign time (the envelope carries what it read):
        here, that it is this dossier's unit, a proposal waits, and the signer is not the one who proposed it."""
        p = self._progress
        signer = sign_off.signer
        if p.state != DossierState.AWAITING_SIGN_OFF or not p.inbox.open_for_sign_off or p.inbox.closure:
            return f"dossier {p.code} is {p.state.value}, not waiting for the head's sign-off"
        if signer.unit_code != p.unit:
            return f"{signer.officer_id} is of {signer.unit_code}, not of {p.unit}, the unit handling {p.code}"
        if signer.officer_id == p.proposed_by:
            return (f"{signer.officer_id} proposed this approval and cannot sign it: the unit head or another "
                    "authorised deputy signs")
        return None

    @workflow.update
    async def reassign(self, reassignment: Reassignment) -> DossierStatus:
        p = self._progress
        self._messages += 1
        self._take_token(reassignment)
        assert p.roster is not None
        p.roster = p.roster.model_copy(update={"assigned_officer": reassignment.officer_id})
        officer = reassignment.officer_id
        self._record(reassignment.supervisor_id, TrailAction.REASSIGNED, f"to {officer}: {reassignment.reason}",
                     assigned_officer=officer)
        await self._flush()
        return self.status()

    @reassign.validator
    def _validate_reassign(self, reassignment: Reassignment) -> None:
        problem = self._envelope_problem(reassignment) or self._budget_problem() \
            or self._reassignment_problem(reassignment)
        if problem:
            raise ApplicationError(problem, type=REASSIGNMENT_REFUSED, non_retryable=True)

    def _reassignment_problem(self, reassignment: Reassignment) -> str | None:
        p = self._progress
        if p.state not in (DossierState.AWAITING_DECISION, DossierState.AWAITING_SUPPLEMENT) or not p.roster:
            return f"dossier {p.code} is {p.state.value}: only a dossier under review can be reassigned"
        supervisor = p.roster.officer(reassignment.supervisor_id)
        officer = p.roster.officer(reassignment.officer_id)
        if supervisor is None or supervisor.role != "supervisor" or not supervisor.active:
            return f"{reassignment.supervisor_id} is not the active supervisor of {p.unit}"
        if officer is None or officer.role != "officer" or not officer.active:
            return f"{reassignment.officer_id} is not an active officer of {p.unit}"
        if reassignment.officer_id == p.roster.assigned_officer:
            return f"the dossier is already assigned to {reassignment.officer_id}"
        return None

    @workflow.signal
    async def officer_decision(self, raw: dict[str, Any]) -> None:
        self._messages += 1
        if self._over_budget():  # past the budget a decision comes by the ``decide`` update only
            await self._flush()
            return
        # The signal takes raw JSON so that a malformed one is recorded as refused instead of failing the task.
        try:
            decision = OfficerDecision.model_validate(raw)
        except ValidationError as error:
            self._record("signal", TrailAction.DECISION_REFUSED, "; ".join(field_errors(error)), message=True)
            await self._flush()
            return
        problem = self._decision_problem(decision)
        if problem is None and workflow.patched(SIGNED_DECISIONS):
            # Verified by an activity, not here: a signal handler runs again on replay, where the worker's keys
            # and clock must not decide; the activity's answer is in the history. The state is read again after it.
            verdict: Verdict = await self._internal(MessageChecks.verify_envelope, EnvelopeCheck(
                dossier_code=self._progress.code, decision=decision, now=workflow.now()))
            problem = verdict.problem or self._token_problem(decision) or self._decision_problem(decision)
        if problem:
            self._record(decision.officer_id, TrailAction.DECISION_REFUSED, problem, message=True)
            await self._flush()
            return
        self._accept(decision)

    def _accept(self, decision: OfficerDecision) -> None:
        self._take_token(decision)
        self._progress.inbox.decision = decision
        self._progress.inbox.open_for_decision = False

    @workflow.signal
    def supplement(self, supplement: Supplement) -> None:
        p = self._progress
        self._messages += 1  # taken or not, it adds nothing to the history but itself: never dropped for the budget
        if p.state != DossierState.AWAITING_SUPPLEMENT:
            return
        if p.checklist:
            p.answer_checklist(supplement.answers)
        elif p.inbox.supplement is None:
            p.inbox.supplement = supplement

    @workflow.signal
    def payment_confirmed(self, confirmation: PaymentConfirmation) -> None:
        self._messages += 1
        if self._over_budget():  # the fee poll finds the payment all the same
            return
        self._progress.inbox.payment = confirmation

    @workflow.signal
    async def withdraw(self, withdrawal: Withdrawal) -> None:
        self._messages += 1
        state = self._progress.state
        if state.final or state in (DossierState.RECORDING, DossierState.DELIVERING) or self._progress.inbox.closure:
            return
        if workflow.patched(CHECKED_WITHDRAWAL):
            if not isinstance(withdrawal, Withdrawal):  # JSON null decodes to None: nothing to take
                return
            problem = self._withdrawal_problem(withdrawal)
            if problem and self._over_budget():
                await self._flush()
                return
            if problem:
                self._record(withdrawal.applicant_id or "signal", TrailAction.WITHDRAWAL_REFUSED, problem,
                             message=True)
                await self._flush()
                return
        self._progress.inbox.withdrawal = withdrawal

    def _withdrawal_problem(self, withdrawal: Withdrawal) -> str | None:
        """Only the applicant withdraws, and only a dossier a citizen filed (the portal verified who asks)."""
        submission = self._progress.submission
        if self._opened_by_police:
            return "a dossier opened by a police notice cannot be withdrawn"
        if submission is None:
            return "the dossier's submission is not valid: there is nothing to withdraw"
        if withdrawal.applicant_id is None:
            return "a withdrawal names the applicant's personal ID, as the portal verified it"
        if withdrawal.applicant_id != submission.applicant.personal_id:
            return "only the dossier's applicant can withdraw it"
        return None

    def _over_budget(self) -> bool:
        """For a message that would not move the dossier on: whether to drop it, the budget being spent. The first
        one dropped records the budget's end (written with the next flush)."""
        budget = self._progress.processing.message_budget
        if self._messages <= budget or not workflow.patched(MESSAGE_BUDGET):
            return False
        if not self._budget_spent:
            self._budget_spent = True
            self._record("system", TrailAction.MESSAGES_REFUSED,
                         f"{budget} messages taken: from here on only those that move the dossier on are taken",
                         message=True)
        return True

    def _budget_problem(self) -> str | None:
        budget = self._progress.processing.message_budget
        if self._messages >= budget:
            return (f"dossier {self._progress.code} has taken its {budget} messages: it takes only those that move "
                    "it on (a decision, a sign-off, an operator's close)")
        return None

    @workflow.update
    async def close(self, closure: Closure) -> DossierStatus:
        self._messages += 1
        self._take_token(closure)
        self._progress.inbox.closure = closure
        await workflow.wait_condition(lambda: self._progress.state.final)
        return self.status()

    @close.validator
    def _validate_close(self, closure: Closure) -> None:
        problem = self._envelope_problem(closure) or self._closure_problem()
        if problem:
            raise ApplicationError(problem, type=CLOSE_REFUSED, non_retryable=True)

    def _closure_problem(self) -> str | None:
        """A dossier closes where it rests (waiting for someone) or once a step failed for good; never in the
        middle of a step, whose effects would then be half made."""
        p = self._progress
        if p.state.final:
            return f"dossier {p.code} is already {p.state.value}"
        if p.inbox.closure is not None:
            return f"dossier {p.code} is already being closed"
        if p.failed_step is None and not self._resting():
            return (f"dossier {p.code} is {p.state.value}, between two steps: close it when it waits again (in a "
                    "moment), or once a step has failed")
        return None

    def _resting(self) -> bool:
        p, inbox = self._progress, self._progress.inbox
        match p.state:
            case DossierState.AWAITING_DECISION:
                return inbox.open_for_decision and inbox.decision is None and inbox.withdrawal is None
            case DossierState.AWAITING_SIGN_OFF:
                return inbox.open_for_sign_off and inbox.sign_off is None and inbox.withdrawal is None
            case DossierState.AWAITING_SUPPLEMENT:
                return inbox.supplement is None and not p.checklist_complete and inbox.withdrawal is None
            case DossierState.AWAITING_PAYMENT:
                return inbox.withdrawal is None
            case DossierState.AWAITING_FILING:
                return inbox.citizen_filing is None
        return False

    # ---- the lifecycle -------------------------------------------------------------------------------------

    async def _closable(self, body: Coroutine[Any, Any, DossierOutcome]) -> DossierOutcome:
        """The lifecycle, ended early by an operator's ``close`` or by the workflow's cancellation."""
        lifecycle = asyncio.create_task(body)
        p = self._progress
        while True:
            try:
                await workflow.wait_condition(lambda: lifecycle.done() or p.inbox.closure is not None)
            except asyncio.CancelledError:
                if lifecycle.done() or not workflow.patched(CLOSE_WITH_REASON):
                    await self._stop(lifecycle)
                    raise
                actor, reason = "system", "the workflow was cancelled (Temporal cancellation)"
            else:
                if lifecycle.done():
                    return lifecycle.result()
                closure = p.inbox.closure
                assert closure is not None
                actor, reason = closure.operator_id, closure.reason
            # A step that failed for good waits for this close whatever it had committed: it always stands.
            if p.failed_step is not None or not await self._committed_first(DossierState.CANCELLED):
                return await self._close(lifecycle, actor, reason)
            # Keyed as a refused message's entry and written at once: the lifecycle may be closing the dossier
            # meanwhile, and its final write leaves such later entries to stand (activities.trail).
            self._record(actor, TrailAction.CLOSE_REFUSED, TOO_LATE, message=True)
            p.inbox.closure = None
            await self._flush()

    @staticmethod
    async def _stop(lifecycle: asyncio.Task[DossierOutcome]) -> None:
        lifecycle.cancel()
        try:
            await lifecycle
        except asyncio.CancelledError:
            pass

    async def _close(self, lifecycle: asyncio.Task[DossierOutcome], actor: str, reason: str) -> DossierOutcome:
        """Stop the lifecycle where it waits and end the dossier cancelled with the reason; a fee requested is
        cancelled at the gateway, or, paid already, recorded as to be refunded."""
        p = self._progress
        waiting_for_fee = p.state == DossierState.AWAITING_PAYMENT
        await self._stop(lifecycle)
        detail = f"closed: {reason}"
        if waiting_for_fee and self._order is not None:
            order: PaymentOrder = await self._act(DossierActivities.cancel_payment, self._order)
            if order.status == "paid":
                detail += f"; the fee of {order.amount_vnd} VND was paid (order {order.order_id}) and is to be refunded"
        refusal = Refusal(code="closed", message=reason, message_vi=reason)
        return await self._finish(DossierState.CANCELLED, actor=actor, refusals=(refusal,), detail=detail)


    def _decoded(self, raw: RawValue) -> Any:
        if raw is NO_INPUT:
            return None
        if raw.payload.metadata.get("encoding") == UNENCRYPTED_ENCODING:
            return UNENCRYPTED
        try:
            return workflow.payload_converter().from_payload(raw.payload)
        except (ValueError, TypeError, KeyError, RuntimeError, RecursionError):  # what the decoders refuse
            return "<not a JSON value>"

    async def _run(self, raw: dict[str, Any]) -> DossierOutcome:
        p = self._progress
        if raw == UNENCRYPTED:  # never a valid submission, so only the codec's marker gives it
            return await self._refuse_invalid([UNENCRYPTED])
        try:
            submission: Any = submission_model(self.procedure).model_validate(raw)
        except ValidationError as error:
            return await self._refuse_invalid(field_errors(error))
        if submission.dossier_code != p.code:
            return await self._refuse_invalid([f"dossier_code: must equal the workflow id {p.code}"])
        p.submission = submission
        p.legacy_processing = legacy_processing(raw)
        p.unit = submission.police_unit
        p.local_steps = workflow.patched(LOCAL_STEPS)
        # A dossier accepted at once ends in this task: it never reaches the later patches nor refuses a message.
        if not self._spec.immediate:
            p.message_keys = workflow.patched(MESSAGE_KEYS)
            if workflow.patched(PATCHES_AT_START):
                for patch in LATE_PATCHES:
                    workflow.patched(patch)
        p.fee = fee_for(self.procedure, submission.channel, submission.received_at, *self._spec.fee_basis(submission))
        self._record("citizen", TrailAction.RECEIVED, f"{self._spec.vietnamese_name} ({self._spec.tthc_code})",
                     at=submission.received_at)
        if STATUS_KEY not in workflow.info().typed_search_attributes:  # cutru.clients.client sets them at start
            self._upsert_search_attributes()
        if self._spec.immediate:
            return await self._accept_immediately(submission)

        identity = await self._internal(DossierActivities.validate_identity,
                                        IdentityCheck(dossier=DossierHeader.of(submission), deadline=None,
                                                      audit=p.take_unwritten(), run=self._run_id()))
        self._bound = True
        if identity.refusals:
            return await self._finish(DossierState.REFUSED, refusals=identity.refusals, actor="system")
        eligibility: EligibilityResult = await self._internal(DossierActivities.check_eligibility,
                                                              EligibilityCheck(submission=submission))
        if eligibility.refusals:
            return await self._finish(DossierState.REFUSED, refusals=eligibility.refusals, actor="system")
        if eligibility.fee_exempt:
            p.fee = 0
        p.findings = eligibility.findings
        # The legal clock runs from the receipt of a complete, valid dossier.
        allowed = deadline_for(self.procedure, submission.received_at, eligibility.deadline_case)
        p.clock = DeadlineClock.start(submission.received_at, allowed, await self._calendar())
        self._record("system", TrailAction.ACCEPTED, f"appointment {p.clock.deadline.isoformat()}")

        if self._spec.officer_review:
            closed = await self._officer_review()
            if closed is not None:
                return closed
        if p.fee and not await self._collect_fee():
            return await self._finish(DossierState.CANCELLED, actor="system",
                                      detail="fee not paid in time; the dossier is cancelled")
        if p.inbox.withdrawal is not None and not await self._withdrawal_too_late():
            return await self._finish(DossierState.WITHDRAWN, actor="citizen", detail=p.inbox.withdrawal.reason)

        self._set_state(DossierState.RECORDING)
        committed: CommitResult = await self._internal(DossierActivities.commit_residence,
                                                       CommitRequest(submission=submission))
        if committed.refusals and committed.refusals[0].code == CLOSED_BEFORE_COMMIT:
            # A close or cancellation fenced the records while this commit was on its way: it ends the dossier.
            await workflow.wait_condition(lambda: False)
        if committed.refusals and workflow.patched(COMMIT_REVALIDATED):
            return await self._finish(DossierState.REFUSED, refusals=committed.refusals, actor="system")
        return await self._finish(DossierState.COMPLETED, actor="system", decided_by=p.approved_by,
                                  signer=p.signer, documents=self._spec.results)

    async def _officer_review(self) -> DossierOutcome | None:
        """Wait for an officer's decision, looping through supplement rounds: None when an officer approved (who:
        ``approved_by``), the outcome when the review closed the dossier."""
        p = self._progress
        assert p.clock is not None
        # The acceptance is written with the assignment and the CT04 receipt.
        p.roster = await self._internal(DossierActivities.accept_dossier, Acceptance(
            paper=DossierPaper.of(p.submission), deadline=p.clock.deadline,
            deadline_proof=deadline_proof(p.submission.received_at, p.clock), audit=p.take_unwritten()))
        while True:
            self._set_state(DossierState.AWAITING_DECISION)
            p.inbox.open_for_decision = True
            await self._flush()
            await self._wait_for_message(lambda: p.inbox.decision is not None)
            if p.inbox.withdrawal is not None:
                return await self._finish(DossierState.WITHDRAWN, actor="citizen", detail=p.inbox.withdrawal.reason)
            decision = p.inbox.decision
            assert decision is not None
            p.inbox.decision = None
            detail = decision.reason or ", ".join(decision.missing_items)
            if decision.decision == DecisionKind.APPROVE:
                if needs_sign_off(self.procedure, p.submission.received_at) and workflow.patched(HEAD_SIGN_OFF):
                    signed = await self._head_sign_off(decision.officer_id, detail)
                    if isinstance(signed, DossierOutcome):
                        return signed
                    if signed is None:
                        continue  # returned: the officer decides again
                    p.signer = signed
                else:
                    self._record(decision.officer_id, TrailAction.APPROVED, detail)
                p.approved_by = decision.officer_id
                return None
            if decision.decision == DecisionKind.REJECT:
                refusal = Refusal(code="officer_rejected", message=decision.reason or "",
                                  legal_basis=self._spec.legal_basis, message_vi=decision.reason or "")
                return await self._finish(DossierState.REFUSED, refusals=(refusal,), actor=decision.officer_id,
                                          decided_by=decision.officer_id)
            # Supplement request (CT05): the clock stops until the dossier is complete again.
            p.clock = p.clock.pause(workflow.now())
            self._set_state(DossierState.AWAITING_SUPPLEMENT)
            if decision.checklist and workflow.patched(SUPPLEMENT_CHECKLIST):
                p.checklist = [ChecklistEntry(**item.model_dump()) for item in decision.checklist]
            await self._internal(DossierActivities.issue_document, DocumentRequest(
                dossier_code=p.code, procedure=self.procedure, kinds=(DocumentKind.CT05,),
                paper=DossierPaper.of(p.submission), decided_by=decision.officer_id,
                missing_items=decision.missing_items, checklist=decision.checklist))
            self._record(decision.officer_id, TrailAction.SUPPLEMENT_REQUESTED, detail,
                         state=DossierState.AWAITING_SUPPLEMENT)
            await self._flush()
            try:
                await workflow.wait_condition(
                    lambda: p.inbox.supplement is not None or p.checklist_complete or p.inbox.withdrawal is not None,
                    timeout=p.processing.supplement_timeout,
                )
            except TimeoutError:
                return await self._finish(DossierState.CANCELLED, actor="system",
                                          detail="no supplement within the time allowed")
            if p.inbox.withdrawal is not None:
                return await self._finish(DossierState.WITHDRAWN, actor="citizen", detail=p.inbox.withdrawal.reason)
            if p.checklist:
                provided = "; ".join(f"{entry.item}: {entry.answer.file_name}" for entry in p.checklist
                                     if entry.answer is not None)
                p.checklist = []
            else:
                assert p.inbox.supplement is not None
                provided = ", ".join(p.inbox.supplement.provided_items)
            p.inbox.supplement = None
            p.clock = p.clock.resume(workflow.now(), await self._calendar())
            self._record("citizen", TrailAction.SUPPLEMENTED, provided, state=DossierState.AWAITING_DECISION,
                         deadline_proof=deadline_proof(p.submission.received_at, p.clock))

    async def _head_sign_off(self, officer: str, detail: str) -> Signer | DossierOutcome | None:
        """The officer's approval as a proposal, until the head signs it (the signer), returns it (None) or the
        applicant withdraws (the outcome). The legal clock does not stop while the proposal waits."""
        p = self._progress
        p.proposed_by = officer
        self._record(officer, TrailAction.PROPOSED, detail, state=DossierState.AWAITING_SIGN_OFF)
        self._set_state(DossierState.AWAITING_SIGN_OFF)
        p.inbox.open_for_sign_off = True
        await self._flush()
        await self._wait_for_message(lambda: p.inbox.sign_off is not None)
        p.inbox.open_for_sign_off = False
        if p.inbox.withdrawal is not None:
            return await self._finish(DossierState.WITHDRAWN, actor="citizen", detail=p.inbox.withdrawal.reason)
        sign_off = p.inbox.sign_off
        assert sign_off is not None
        p.inbox.sign_off = None
        signer = sign_off.signer
        if sign_off.decision == SignOffKind.RETURN:
            self._record(signer.officer_id, TrailAction.RETURNED, f"to {officer}: {sign_off.reason}",
                         state=DossierState.AWAITING_DECISION)
            return None
        self._record(signer.officer_id, TrailAction.SIGNED_OFF,
                     f"{signer.title}, {signer.full_name}; proposed by {officer}")
        return signer

    async def _committed_first(self, state: DossierState) -> bool:
        """Whether the dossier's records were committed before the withdrawal, close or cancellation that would end
        it as ``state``: by a workflow task that was lost, whose retry took the message first. The database decides
        under the commit's lock (``settle_closing``); once it answers no, no commit begins any more. Histories from
        before never ask (LOST_TASKS)."""
        if not workflow.patched(LOST_TASKS):
            return False
        settled: Settlement = await self._internal(DossierActivities.settle_closing,
                                                   Closing(dossier_code=self._progress.code, state=state))
        return settled.committed

    async def _withdrawal_too_late(self) -> bool:
        """The withdrawal waiting in the inbox, refused (and taken out) when the records were committed first."""
        if not await self._committed_first(DossierState.WITHDRAWN):
            return False
        self._record("citizen", TrailAction.WITHDRAWAL_REFUSED, TOO_LATE)
        self._progress.inbox.withdrawal = None
        return True

    async def _wait_for_message(self, ready: Callable[[], bool]) -> None:
        """Wait, with reminders, until ``ready`` or a withdrawal that is not refused as too late."""
        inbox = self._progress.inbox
        while True:
            await self._wait_with_reminders(lambda: ready() or inbox.withdrawal is not None)
            if inbox.withdrawal is None or not await self._withdrawal_too_late():
                return

    async def _wait_with_reminders(self, ready: Callable[[], bool]) -> None:
        """Wait until ``ready``, reminding the unit when little time is left and escalating when the deadline
        passes."""
        p = self._progress
        assert p.clock is not None
        reminder_at = p.clock.reminder_at(p.processing.reminder_fraction)
        reminded = workflow.now() >= reminder_at
        while True:
            wake = None if p.overdue else (p.clock.deadline if reminded else reminder_at)
            timeout = max(wake - workflow.now(), timedelta(seconds=1)) if wake else None
            try:
                await workflow.wait_condition(ready, timeout=timeout)
                return
            except TimeoutError:
                if not reminded:
                    reminded = True
                    self._record("system", TrailAction.REMINDER_SENT, f"deadline {p.clock.deadline.isoformat()}")
                else:
                    p.overdue = True
                    self._upsert_search_attributes()
                    supervisor = p.roster.supervisor if p.roster else None
                    self._record("system", TrailAction.ESCALATED,
                                 f"deadline passed: escalated to supervisor {supervisor}", overdue=True)
                await self._flush()

    async def _collect_fee(self) -> bool:
        """Ask the gateway for a payment order and wait for it to be paid; False when it never is."""
        p = self._progress
        options = p.processing
        order: PaymentOrder = await self._act(DossierActivities.request_payment,
                                              PaymentRequest(dossier_code=p.code, amount_vnd=p.fee))
        self._order = order
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
                    lambda: p.inbox.payment is not None or p.inbox.withdrawal is not None,
                    timeout=min(options.payment_poll_interval, remaining),
                )
            except TimeoutError:
                pass
            if p.inbox.withdrawal is not None:
                order = await self._act(DossierActivities.cancel_payment, order)
                if order.status != "paid":
                    return True
                # Paid before the withdrawal reached the gateway: the fee is kept, so the dossier goes on.
                self._record("citizen", TrailAction.WITHDRAWAL_REFUSED, "the fee was already paid")
                p.inbox.withdrawal = None
                break
            # The callback only wakes us up: the gateway's own status is the truth (a callback can be lost or forged).
            p.inbox.payment = None
            order = await self._act(DossierActivities.check_payment, order)
        self._record("payment-gateway", TrailAction.FEE_PAID, f"{order.amount_vnd} VND, order {order.order_id}")
        return True

    async def _finish(
        self,
        state: DossierState,
        *,
        actor: str,
        refusals: tuple[Refusal, ...] = (),
        detail: str = "",
        decided_by: str | None = None,
        signer: Signer | None = None,
        documents: tuple[DocumentKind, ...] = (),
    ) -> DossierOutcome:
        p = self._progress
        p.refusals = tuple(refusals)
        if state == DossierState.REFUSED:
            documents = (DocumentKind.CT06,)
            detail = "; ".join(r.message for r in refusals)
        p.documents = documents
        self._set_state(DossierState.DELIVERING if documents else state)
        # The closing entry is written with the final status, once the result is delivered.
        self._record(actor, TrailAction.closing(state), detail, state=state)
        await self._internal(
            DossierActivities.deliver_result,
            DeliveryRequest(
                final_state=state,
                result=DocumentRequest(
                    dossier_code=p.code,
                    procedure=self.procedure,
                    kinds=documents,
                    paper=DossierPaper.of(p.submission) if p.submission else None,
                    refusals=p.refusals,
                    deadline=p.clock.deadline if p.clock else None,
                    decided_by=decided_by,
                    signer=signer,
                ),
                fee_paid_vnd=p.fee if state == DossierState.COMPLETED else 0,
                audit=p.take_unwritten(),
                run=None if self._bound else self._run_id(),
                held=p.held() if workflow.patched(LOST_TASKS) else None,
            ),
        )
        self._set_state(state)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return DossierOutcome(
            dossier_code=p.code,
            procedure=self.procedure,
            state=state,
            refusals=p.refusals,
            fee_paid_vnd=p.fee if state == DossierState.COMPLETED else 0,
            documents=documents,
            decided_by=decided_by,
            signed_by=signer,
        )

    async def _accept_immediately(self, submission: Any) -> DossierOutcome:
        """Accepted at once (stay notification): one activity checks and records, with the trail so far, and closes
        the dossier in the audit table itself; no officer, no fee."""
        p = self._progress
        result: ImmediateResult = await self._internal(DossierActivities.accept_immediately,
                                                       ImmediateCheck(submission=submission,
                                                                      audit=p.take_unwritten(), run=self._run_id()))
        state = DossierState.REFUSED if result.refusals else DossierState.COMPLETED
        p.refusals = result.refusals
        p.documents = result.documents
        self._record("system", TrailAction.closing(state), "; ".join(r.message for r in result.refusals),
                     written=True)
        self._set_state(state)
        return DossierOutcome(dossier_code=p.code, procedure=self.procedure, state=state,
                              refusals=result.refusals, documents=result.documents)

    async def _refuse_invalid(self, problems: list[str]) -> DossierOutcome:
        """Input that never passed validation: refuse it, never crash or hang the workflow."""
        refusals = tuple(Refusal(code="invalid_submission", message=p) for p in problems[:50])
        return await self._finish(DossierState.REFUSED, refusals=refusals, actor="system")

    # ---- helpers -------------------------------------------------------------------------------------------

    def _record(self, actor: str, action: TrailAction, detail: str = "", *, at: datetime | None = None,
                written: bool = False, state: DossierState | None = None, overdue: bool | None = None,
                assigned_officer: str | None = None, deadline_proof: DeadlineProof | None = None,
                message: bool = False) -> None:
        """Add to the decision trail (``DossierProgress.record``), now unless ``at`` says when."""
        self._progress.record(at or workflow.now(), actor, action, detail, written=written, state=state,
                              overdue=overdue, assigned_officer=assigned_officer, deadline_proof=deadline_proof,
                              message=message)

    @staticmethod
    def _run_id() -> str:
        """What the dossier code is bound to (``activities.runs``): this workflow, whatever its resets."""
        return workflow.info().first_execution_run_id

    async def _calendar(self) -> CalendarSnapshot | None:
        """The operators' calendar declarations now in force (an activity: its answer in the history keeps every
        replay on the same deadline); None for a history from before them."""
        if not workflow.patched(CALENDAR_EXCEPTIONS):
            return None
        snapshot: CalendarSnapshot = await self._internal(DossierActivities.calendar_snapshot,
                                                          CalendarRead(dossier_code=self._progress.code))
        return snapshot

    async def _flush(self) -> None:
        """Write pending trail entries; called before every wait so the audit table never lags a waiting dossier."""
        if self._progress.unwritten:
            records = self._progress.take_unwritten()
            try:
                await self._internal(DossierActivities.record_event, AuditBatch(records=records))
            except asyncio.CancelledError:  # closed meanwhile: written with the closing entry (idempotent by key)
                self._progress.unwritten[:0] = records
                raise

    async def _act(self, activity: Any, arg: Any) -> Any:
        try:
            return await workflow.execute_activity_method(
                activity, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=DURABLE_RETRY,
                priority=self._priority(),
            )
        except ActivityError as error:
            await self._failed_for_good(activity, error)
            raise

    async def _failed_for_good(self, activity: Any, error: ActivityError) -> None:
        """A step no retry mends: recorded, then the dossier waits for an operator's ``close`` (``_closable``).
        Returns (and the error is raised) for a retryable failure, a code this run does not own (nothing may be
        written under it), a second failure, and a history from before."""
        p = self._progress
        cause = error.cause
        if error.retry_state != RetryState.NON_RETRYABLE_FAILURE or p.failed_step is not None \
                or (isinstance(cause, ApplicationError) and cause.type == DOSSIER_CODE_TAKEN) \
                or not workflow.patched(CLOSE_WITH_REASON):
            return
        p.failed_step = activity.__name__
        self._record("system", TrailAction.STEP_FAILED,
                     f"{activity.__name__}: {cause or error}; no retry mends it: an operator closes the dossier "
                     "with a reason (cutru close)")
        await self._flush()
        await workflow.wait_condition(lambda: False)

    def _priority(self) -> Priority:
        """An activity's priority from the working time left now (the workflow's own, set at its start, until the
        clock runs); not a command's identity, so histories from before it replay unchanged."""
        p = self._progress
        return Priority(priority_key=clock_priority(p.clock, workflow.now()) if p.clock else None,
                        fairness_key=fairness_key(p.unit) if p.unit else None)

    async def _internal(self, activity: Any, arg: Any) -> Any:
        """A step on cutru's own database and documents only: a local activity (LOCAL_STEPS), a regular one if that
        keeps failing.

        Either way it runs on a worker and is idempotent, keyed by the dossier, so running it again is safe."""
        if self._progress.local_steps:
            try:
                return await workflow.execute_local_activity_method(
                    activity, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=LOCAL_RETRY)
            # The SDK raises a local activity's failure as it is, not wrapped in an ActivityError.
            except (ActivityError, ApplicationError, ActivityTimeoutError) as error:
                workflow.logger.warning("local step %s failed %d times, retried as an activity: %s",
                                        activity.__name__, LOCAL_RETRY.maximum_attempts, error)
        return await self._act(activity, arg)

    def _set_state(self, state: DossierState) -> None:
        """Operators search by status: upsert it where a dossier rests, not for steps that last milliseconds."""
        if state != self._progress.state:
            self._progress.state = state
            if state not in (DossierState.RECORDING, DossierState.DELIVERING):
                self._upsert_search_attributes()

    def _upsert_search_attributes(self) -> None:
        p = self._progress
        updates: list[SearchAttributeUpdate[Any]] = [
            PROCEDURE_KEY.value_set(self.procedure.value),
            STATUS_KEY.value_set(p.state.value),
            OVERDUE_KEY.value_set(p.overdue),
        ]
        if p.unit:
            updates.append(UNIT_KEY.value_set(p.unit))
        if p.clock is not None:
            updates.append(DEADLINE_KEY.value_set(p.clock.deadline))
        workflow.upsert_search_attributes(updates)
