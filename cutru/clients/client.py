"""The Python client that backend services import to start dossiers and talk to them.

    async with await DossierClient.connect() as dossiers:  # settings from the environment
        receipt = await dossiers.submit(submission)
        status = await dossiers.status(receipt.dossier_code)

Starting the same dossier code twice never creates a second workflow: the second call reports
``already_submitted=True`` and returns the existing dossier.

For trusted services inside the cluster (the API, the demo, the harness). Decisions and reassignments must be
signed envelopes (``domain.envelopes``): ``decide``, ``reassign`` and ``signal_decision`` send a signed message as it
is, and sign an unsigned one with the client's decision keys (CUTRU_DECISION_KEYS) when it has them, as a service
acting on its own behalf. The API signs with the caller's token id itself (``cutru.platform.signing``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import StayOutcome
from cutru.clients.submission import SubmissionRejected as SubmissionRejected  # its callers import it from here too
from cutru.clients.submission import check_submission
from cutru.platform.config import Settings, load_settings
from cutru.platform.signing import (
    ENV_KEY_FILE,
    ENV_KEYS,
    DecisionKeyRing,
    new_token_id,
    sign_now,
)
from cutru.platform.temporal import connect
from domain.models import (
    Boundary,
    Closure,
    DecisionReceipt,
    DossierOutcome,
    DossierState,
    DossierStatus,
    OfficerDecision,
    PaymentConfirmation,
    Reassignment,
    SignOff,
    SignOffReceipt,
    Supplement,
    Withdrawal,
)
from domain.procedures.deletion import CitizenFiling
from domain.procedures.stay_notification import StayNotificationSubmission
from workflows.lifecycle import DECISION_REFUSED, DossierLifecycle, initial_search_attributes, start_priority
from workflows.procedures import WORKFLOWS
from workflows.stay_register import (
    RECEIVED_BATCH_BYTES,
    RECEIVED_BATCH_LIMIT,
    StayRegister,
    StayRegisterKey,
    encoded_size,
    register_key,
    register_priority,
    register_search_attributes,
    uses_register,
)

QUERY_TIMEOUT = timedelta(seconds=10)


class SubmitReceipt(Boundary):
    dossier_code: str
    workflow_id: str
    run_id: str | None
    already_submitted: bool


def _environment_keys() -> DecisionKeyRing | None:
    """The decision keys when the environment has them; a client that only submits and reads needs none."""
    if not (os.environ.get(ENV_KEYS, "").strip() or os.environ.get(ENV_KEY_FILE, "").strip()):
        return None
    return DecisionKeyRing.from_env()


class DossierClient:
    def __init__(self, client: Client, task_queue: str, decision_keys: DecisionKeyRing | None = None) -> None:
        """``decision_keys``: what unsigned decisions are signed with; by default CUTRU_DECISION_KEYS, if set."""
        self.client = client
        self.task_queue = task_queue
        self.decision_keys = decision_keys if decision_keys is not None else _environment_keys()

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> DossierClient:
        settings = settings or load_settings()
        return cls(await connect(settings), settings.task_queue)

    async def __aenter__(self) -> DossierClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def submit(self, raw: Any) -> SubmitReceipt:
        submission = check_submission(raw)
        if uses_register(submission):
            return await self._notify_register(submission)
        workflow_class = WORKFLOWS[submission.procedure]  # type: ignore[attr-defined]
        try:
            handle = await self.client.start_workflow(
                workflow_class.run,  # type: ignore[attr-defined]
                submission.model_dump(mode="json"),
                id=submission.dossier_code,
                task_queue=self.task_queue,
                # One workflow per dossier code, ever: neither a second run while it runs nor a new one after it
                # closed (the effects are bound to the first run as well: activities.runs).
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=initial_search_attributes(submission),
                priority=start_priority(submission, datetime.now(UTC)),
            )
        except WorkflowAlreadyStartedError:
            return SubmitReceipt(dossier_code=submission.dossier_code, workflow_id=submission.dossier_code,
                                 run_id=None, already_submitted=True)
        return SubmitReceipt(dossier_code=submission.dossier_code, workflow_id=handle.id,
                             run_id=handle.result_run_id, already_submitted=False)

    async def _notify_register(self, submission: Any) -> SubmitReceipt:
        """An establishment's stay notification joins its register for the day (started by the first one).

        The call returns once the notification is in the register's history; a code sent twice is recorded once,
        so ``already_submitted`` is always False here: the register, not the start, tells duplicates apart."""
        key = register_key(submission)
        handle = await self.client.start_workflow(
            StayRegister.run, key, id=key.register_id, task_queue=self.task_queue,
            start_signal="notify", start_signal_args=[submission.model_dump(mode="json")],
            search_attributes=register_search_attributes(key), priority=register_priority(key),
        )
        return SubmitReceipt(dossier_code=submission.dossier_code, workflow_id=handle.id,
                             run_id=handle.result_run_id, already_submitted=False)

    async def notify_batch(self, submissions: Sequence[Any]) -> list[SubmitReceipt]:
        """Establishments' stay notifications, each register's in as few ``notify_batch`` signals as its bounds allow
        (RECEIVED_BATCH_LIMIT notifications, RECEIVED_BATCH_BYTES): one message per establishment instead of one per
        guest. Receipts in the order given; each means what ``submit``'s does for a notification.

        Every submission is checked first and nothing is sent if one is invalid (SubmissionRejected) or is not an
        establishment's (ValueError: ``submit`` files those)."""
        checked = [check_submission(raw) for raw in submissions]
        strays = [s.dossier_code for s in checked if not uses_register(s)]
        if strays:
            raise ValueError(f"not an establishment's stay notification (file it with submit): {', '.join(strays)}")
        notifications = [s for s in checked if isinstance(s, StayNotificationSubmission)]
        registers: dict[str, tuple[StayRegisterKey, list[list[dict[str, Any]]]]] = {}
        filled: dict[str, int] = {}  # bytes in each register's last chunk
        keys = [register_key(s) for s in notifications]
        for submission, key in zip(notifications, keys, strict=True):
            chunks = registers.setdefault(key.register_id, (key, [[]]))[1]
            raw = submission.model_dump(mode="json")
            size = encoded_size(raw)
            if chunks[-1] and (len(chunks[-1]) >= RECEIVED_BATCH_LIMIT
                               or filled[key.register_id] + size > RECEIVED_BATCH_BYTES):
                chunks.append([])
                filled[key.register_id] = 0
            chunks[-1].append(raw)
            filled[key.register_id] = filled.get(key.register_id, 0) + size

        async def send(key: StayRegisterKey, chunks: list[list[dict[str, Any]]]) -> str | None:
            run_id = None
            for chunk in chunks:  # in order, one after the other: the register takes them as sent
                handle = await self.client.start_workflow(
                    StayRegister.run, key, id=key.register_id, task_queue=self.task_queue,
                    start_signal="notify_batch", start_signal_args=[chunk],
                    search_attributes=register_search_attributes(key), priority=register_priority(key),
                )
                run_id = handle.result_run_id
            return run_id

        ids = list(registers)
        runs = dict(zip(ids, await asyncio.gather(*(send(*registers[i]) for i in ids)), strict=True))
        return [SubmitReceipt(dossier_code=s.dossier_code, workflow_id=key.register_id, run_id=runs[key.register_id],
                              already_submitted=False) for s, key in zip(notifications, keys, strict=True)]

    async def stay_outcome(self, receipt: SubmitReceipt) -> StayOutcome | None:
        """A register's answer for one notification, from the register's latest run.

        None: that run does not know the code — not sent, or recorded by an earlier run (a register that closed and
        was started again by a late notification, or continued as new); the read model (``dossiers``) and the audit
        table keep every notification's outcome whatever the run."""
        handle = self.client.get_workflow_handle(receipt.workflow_id)
        return await handle.query(StayRegister.notification, receipt.dossier_code)

    def handle(self, dossier_code: str) -> WorkflowHandle[Any, DossierOutcome]:
        return self.client.get_workflow_handle(dossier_code, result_type=DossierOutcome)

    async def status(self, dossier_code: str) -> DossierStatus:
        # Without a worker the server holds a query about 30 s before it says so (FAILED_PRECONDITION): sooner.
        return await self.handle(dossier_code).query(DossierLifecycle.status, rpc_timeout=QUERY_TIMEOUT)

    def signed(self, dossier_code: str, decision: OfficerDecision) -> OfficerDecision:
        """The decision as sent: as it is when signed, else signed with this client's keys (else unsigned, and
        the dossier will refuse it)."""
        if decision.signature is not None or self.decision_keys is None:
            return decision
        return sign_now(self.decision_keys, decision, dossier_code, new_token_id())

    async def decide(self, dossier_code: str, decision: OfficerDecision) -> DecisionReceipt:
        """Validated update: a refused decision raises ``WorkflowUpdateFailedError`` and leaves no history.

        A dossier that has closed refuses it the same way. The server answers an update to a closed workflow with
        NOT_FOUND, or fails it with "workflow execution already completed" when the dossier closed meanwhile."""
        try:
            return await self.handle(dossier_code).execute_update(DossierLifecycle.decide,
                                                                  self.signed(dossier_code, decision))
        except (RPCError, WorkflowUpdateFailedError) as error:
            refused = isinstance(error, WorkflowUpdateFailedError) and isinstance(error.cause, ApplicationError) \
                and error.cause.type == DECISION_REFUSED
            if refused or (isinstance(error, RPCError) and error.status != RPCStatusCode.NOT_FOUND):
                raise
            state = await self._closed_state(dossier_code)
            if state is None:
                raise
            # Not "from error": this error's cause is the refusal itself (WorkflowUpdateFailedError.cause).
            raise WorkflowUpdateFailedError(ApplicationError(  # noqa: B904
                f"dossier {dossier_code} is {state.value}, not waiting for an officer's decision",
                type=DECISION_REFUSED, non_retryable=True))

    async def _closed_state(self, dossier_code: str) -> DossierState | None:
        """The final state of a closed dossier; None when it is open or unknown."""
        try:
            state = (await self.status(dossier_code)).state
        except RPCError:
            return None
        return state if state.final else None

    async def reassign(self, dossier_code: str, reassignment: Reassignment) -> DossierStatus:
        """Validated update (a refusal raises ``WorkflowUpdateFailedError``, type ReassignmentRefused); an unsigned
        reassignment is signed as ``signed`` signs a decision."""
        if reassignment.signature is None and self.decision_keys is not None:
            reassignment = sign_now(self.decision_keys, reassignment, dossier_code, new_token_id())
        return await self.handle(dossier_code).execute_update(DossierLifecycle.reassign, reassignment)

    async def sign_off(self, dossier_code: str, sign_off: SignOff) -> SignOffReceipt:
        """Validated update (a refusal raises ``WorkflowUpdateFailedError``, type SignOffRefused); an unsigned
        sign-off is signed as ``signed`` signs a decision."""
        if sign_off.signature is None and self.decision_keys is not None:
            sign_off = sign_now(self.decision_keys, sign_off, dossier_code, new_token_id())
        return await self.handle(dossier_code).execute_update(DossierLifecycle.sign_off, sign_off)

    async def close(self, dossier_code: str, closure: Closure) -> DossierStatus:
        """Validated update (a refusal raises ``WorkflowUpdateFailedError``, type CloseRefused): the dossier ends
        cancelled with the reason; returns its final status. An unsigned closure is signed as ``signed`` signs a
        decision."""
        if closure.signature is None and self.decision_keys is not None:
            closure = sign_now(self.decision_keys, closure, dossier_code, new_token_id())
        return await self.handle(dossier_code).execute_update(DossierLifecycle.close, closure)

    async def signal_decision(self, dossier_code: str, decision: OfficerDecision) -> None:
        await self.handle(dossier_code).signal(DossierLifecycle.officer_decision,
                                               self.signed(dossier_code, decision).model_dump(mode="json"))

    async def supplement(self, dossier_code: str, supplement: Supplement) -> None:
        await self.handle(dossier_code).signal(DossierLifecycle.supplement, supplement)

    async def confirm_payment(self, dossier_code: str, confirmation: PaymentConfirmation) -> None:
        await self.handle(dossier_code).signal(DossierLifecycle.payment_confirmed, confirmation)

    async def withdraw(self, dossier_code: str, withdrawal: Withdrawal) -> None:
        await self.handle(dossier_code).signal(DossierLifecycle.withdraw, withdrawal)

    async def citizen_filed(self, notice_code: str, filing: CitizenFiling) -> None:
        """Tell a police notice's deletion dossier that the person filed their own (``filing.dossier_code``); the
        dossier checks the filing against the read model and records a made-up one as refused."""
        await self.client.get_workflow_handle(notice_code).signal("citizen_filed", filing)

    async def result(self, dossier_code: str) -> DossierOutcome:
        return await self.handle(dossier_code).result()
