"""The people around the dossiers: citizens submitting, officers deciding, unit heads signing, citizens supplementing
and paying.

They run beside the faults, so every call they make may meet a dead server, a dead worker or a dead database.
Each action is therefore idempotent and simply tried again later: a submission retried after a lost reply finds
the workflow already started; a decision is chosen from the dossier's own status (how many supplement rounds it
went through), so a repeated one is refused by the workflow instead of applied twice; a supplement or payment
signal that arrives twice is ignored by the workflow.

Officers find their work the way the Web UI does, through visibility (``DossierStatus`` search attribute), and
read the dossier with the ``status`` query before deciding.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from activities.payment import LocalPaymentGateway
from chaos.population import Case
from cutru.clients.client import DossierClient
from cutru.clients.signoff import find_signer
from cutru.platform.signing import DecisionKeyRing
from cutru.platform.storage import FileStore
from domain.models import (
    DecisionKind,
    DossierState,
    DossierStatus,
    OfficerDecision,
    PaymentConfirmation,
    SignOff,
    SignOffKind,
    Supplement,
    Withdrawal,
)
from workflows.lifecycle import STATUS_KEY

RPC_TIMEOUT = timedelta(seconds=10)
CALL_TIMEOUT = 20.0  # hard bound on any one call, whatever the SDK's own retries do
REACT_AFTER = 3.0  # seconds before the same dossier in the same state is handled again
WAITING = ("awaiting_decision", "awaiting_sign_off", "awaiting_supplement", "awaiting_payment")


def _kind(error: BaseException) -> str:
    return type(error).__name__


class Actors:
    """Submits the campaign's cases on schedule and plays officers and citizens until told to stop."""

    def __init__(self, client: Client, task_queue: str, pool: asyncpg.Pool, cases: list[Case],
                 load_seconds: float, store: FileStore, concurrency: int = 16,
                 decision_keys: DecisionKeyRing | None = None) -> None:
        # Submitting and reacting have separate slots: calls that wait on a dead server must not hold up the other.
        self.dossiers = DossierClient(client, task_queue, decision_keys)
        self.client = client
        self.gateway = LocalPaymentGateway(pool)
        self.pool = pool
        self.store = store
        self.cases = {case.code: case for case in cases}
        self.order = [case.code for case in cases]
        self.load_seconds = load_seconds
        self.submitted: dict[str, bool] = {}  # code -> already_submitted on the acknowledged call
        self.registered: dict[str, str] = {}  # code -> the stay register that took it (an establishment's notice)
        self.actions: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._last: dict[str, tuple[str, float]] = {}
        self._busy: set[str] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._submit_slots = asyncio.Semaphore(concurrency)
        self._stop = asyncio.Event()
        self._double_callbacks = False
        self._paid: dict[str, PaymentConfirmation] = {}  # the callbacks sent, to send again while the gateway errs
        self.waiting_now: list[tuple[str, str]] = []  # what visibility last listed as waiting on someone
        self._flooded: set[str] = set()

    def double_callbacks(self, on: bool) -> None:
        """While the gateway fault lasts, each payment callback arrives two and three times."""
        self._double_callbacks = on

    def stop(self) -> None:
        self._stop.set()

    @property
    def all_submitted(self) -> bool:
        return len(self.submitted) == len(self.order)

    async def _bounded(self, call: Callable[[], Any]) -> Any:
        return await asyncio.wait_for(call(), timeout=CALL_TIMEOUT)

    # ---- citizens submit --------------------------------------------------------------------------------------

    async def submit_all(self) -> None:
        """Submissions spread evenly over the load window, several at a time, each retried until acknowledged."""
        started = time.monotonic()
        pending: set[asyncio.Task[None]] = set()
        for index, code in enumerate(self.order):
            due = started + self.load_seconds * index / max(1, len(self.order))
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            async with self._submit_slots:
                pass  # wait for a free slot without holding it: the task takes its own
            task = asyncio.create_task(self._submit(code))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)

    async def _submit(self, code: str) -> None:
        async with self._submit_slots:
            while not self._stop.is_set():
                raw = self.cases[code].materialize(datetime.now(UTC))
                try:
                    await self._upload(code)
                    receipt = await self._bounded(lambda raw=raw: self.dossiers.submit(raw))  # type: ignore[misc]
                except Exception as error:  # any failure of a dead server: try again
                    self.errors[f"submit {_kind(error)}"] += 1
                    await asyncio.sleep(0.5)
                    continue
                self.submitted[code] = receipt.already_submitted
                if receipt.workflow_id != code:
                    self.registered[code] = receipt.workflow_id
                self.actions["submitted again after a lost reply" if receipt.already_submitted else "submitted"] += 1
                return

    async def _upload(self, code: str) -> None:
        """What ``POST /v1/attachments`` does before the portal submits: the file spooled, committed to the store
        under its SHA-256 and recorded; the dossier's reference to it recorded as the API records it."""
        content = self.cases[code].paper
        if content is None:
            return
        [reference] = self.cases[code].submission["attachments"]
        staged = self.store.staging / f"{code}.upload"
        await asyncio.to_thread(staged.write_bytes, content)
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO attachments (sha256, media_type, size_bytes, scanned_by, uploaded_by)"
                " VALUES ($1, $2, $3, 'chaos', 'cutru-portal') ON CONFLICT (sha256) DO NOTHING RETURNING true",
                reference["sha256"], reference["media_type"], reference["size_bytes"])
            if inserted:
                await self.store.commit(staged, reference["sha256"], reference["media_type"], len(content))
            else:
                staged.unlink(missing_ok=True)
            await conn.execute("INSERT INTO dossier_attachments (dossier_code, sha256, kind, file_name)"
                               " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                               code, reference["sha256"], reference["kind"], reference["file_name"])

    async def flood(self, signals: int = 120) -> str | None:
        """A burst of stray signals at one dossier waiting on someone: supplements it did not ask for, and (one in
        three) decisions malformed as a broken client would send them. The dossier refuses or ignores each."""
        candidates = [code for code, _ in self.waiting_now if code in self.cases and code not in self._flooded]
        if not candidates:
            return None
        code = candidates[len(candidates) // 2]
        self._flooded.add(code)
        handle = self.client.get_workflow_handle(code)
        stray = Supplement(provided_items=("Giấy tờ không được yêu cầu",), note="gửi lặp")
        for index in range(signals):
            try:
                if index % 3 == 0:
                    await self._bounded(lambda: handle.signal("officer_decision", {"officer_id": "", "decision": "?"}))
                else:
                    await self._bounded(lambda: self.dossiers.supplement(code, stray))
            except Exception as error:  # a fault at the same moment: the flood goes on
                self.errors[f"flood {_kind(error)}"] += 1
        self.actions["flood signals sent"] += signals
        return code

    # ---- officers and citizens react ---------------------------------------------------------------------------

    async def react_forever(self, interval: float = 1.0) -> None:
        tasks: set[asyncio.Task[None]] = set()
        while not self._stop.is_set():
            try:
                waiting = await self._waiting()
            except Exception as error:  # visibility unavailable while the server is down
                self.errors[f"list {_kind(error)}"] += 1
                waiting = []
            now = time.monotonic()
            for code, state in waiting:
                last = self._last.get(code)
                if code in self._busy or code not in self.cases or (
                        last is not None and last[0] == state and now - last[1] < REACT_AFTER):
                    continue
                self._busy.add(code)
                self._last[code] = (state, now)
                task = asyncio.create_task(self._react(code, state))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=interval)
            except TimeoutError:
                pass
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _waiting(self) -> list[tuple[str, str]]:
        states = ", ".join(f"'{s}'" for s in WAITING)
        query = f"ExecutionStatus = 'Running' AND DossierStatus IN ({states})"
        found = []
        async for execution in self.client.list_workflows(query, rpc_timeout=RPC_TIMEOUT):
            state = execution.typed_search_attributes.get(STATUS_KEY)
            if state:
                found.append((execution.id, state))
        self.waiting_now = found
        return found

    async def _react(self, code: str, state: str) -> None:
        try:
            async with self._slots:
                if state == "awaiting_decision":
                    await self._decide(code)
                elif state == "awaiting_sign_off":
                    await self._sign(code)
                elif state == "awaiting_supplement":
                    await self._bounded(lambda: self.dossiers.supplement(
                        code, Supplement(provided_items=("Hợp đồng thuê nhà có công chứng",), note="bổ sung")))
                    self.actions["supplement sent"] += 1
                elif state == "awaiting_payment" and self.cases[code].plan.citizen_pays:
                    await self._pay(code)
        except WorkflowUpdateFailedError:
            # The validator refused: the decision was already taken (a reply lost to a fault), or the dossier moved.
            self.actions["decision refused (already taken)"] += 1
        except Exception as error:  # whatever a fault breaks, the dossier is handled again later
            self.errors[f"{state} {_kind(error)}"] += 1
        finally:
            self._busy.discard(code)

    async def _decide(self, code: str) -> None:
        status: DossierStatus = await self._bounded(lambda: self.dossiers.status(code))
        if status.state != DossierState.AWAITING_DECISION:
            return
        plan = self.cases[code].plan
        rounds = sum(entry.action == "supplement_requested" for entry in status.trail)
        officer = status.assigned_officer or f"CB-{status.police_unit.removeprefix('CA-')}-01"
        if rounds < plan.supplement_rounds:
            decision = OfficerDecision(officer_id=officer, decision=DecisionKind.REQUEST_SUPPLEMENT,
                                       missing_items=("Hợp đồng thuê nhà có công chứng",))
        elif plan.final == "withdraw":
            applicant = self.cases[code].submission["applicant"]["personal_id"]  # as the portal verified it
            await self._bounded(lambda: self.dossiers.withdraw(code, Withdrawal(reason="Gia đình đổi ý",
                                                                                applicant_id=applicant)))
            self.actions["withdrawal sent"] += 1
            return
        elif plan.final == "reject":
            decision = OfficerDecision(officer_id=officer, decision=DecisionKind.REJECT,
                                       reason="Giấy tờ chứng minh chỗ ở không hợp lệ")
        else:
            decision = OfficerDecision(officer_id=officer, decision=DecisionKind.APPROVE)
        if plan.via == "signal":
            await self._bounded(lambda: self.dossiers.signal_decision(code, decision))
        else:
            await self._bounded(lambda: self.dossiers.decide(code, decision))
        self.actions[f"{decision.decision.value} by {plan.via}"] += 1

    async def _sign(self, code: str) -> None:
        """The unit's head signs the proposal (the seed makes each unit's supervisor its head)."""
        status: DossierStatus = await self._bounded(lambda: self.dossiers.status(code))
        if status.state != DossierState.AWAITING_SIGN_OFF:
            return
        head = await self._bounded(lambda: find_signer(self.pool, f"CB-{status.police_unit.removeprefix('CA-')}-00"))
        if head is None:
            self.errors["no head to sign"] += 1
            return
        await self._bounded(lambda: self.dossiers.sign_off(code, SignOff(signer=head, decision=SignOffKind.SIGN)))
        self.actions["proposal signed by the head"] += 1

    async def _pay(self, code: str) -> None:
        """What the portal's payment page does: the gateway marks the order paid, then calls the dossier back."""
        order = await self._bounded(lambda: self.gateway.pay(code))
        confirmation = PaymentConfirmation(order_id=order.order_id, amount_vnd=order.amount_vnd)
        self._paid[code] = confirmation
        for _ in range(3 if self._double_callbacks else 1):
            await self._bounded(lambda: self.dossiers.confirm_payment(code, confirmation))
        self.actions["fee paid by the citizen"] += 1
        if self._double_callbacks:
            self.actions["payment callbacks sent three times"] += 1
            # The gateway's earlier callbacks arrive again as well: to dossiers waiting, or closed already.
            for earlier, sent in list(self._paid.items())[-4:-1]:
                try:
                    await self._bounded(lambda earlier=earlier, sent=sent: self.dossiers.confirm_payment(  # type: ignore[misc]
                        earlier, sent))
                    self.actions["earlier payment callbacks sent again"] += 1
                except RPCError:
                    self.actions["earlier payment callbacks to a closed dossier"] += 1
