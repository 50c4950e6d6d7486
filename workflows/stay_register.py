"""Sổ tiếp nhận thông báo lưu trú: the stay register of one establishment for one day (Luật Cư trú Điều 30).

Hotels, hospitals, dormitories and industrial-zone lodgings notify every guest, every night: the high-volume path.
A workflow per notification costs the engine a start, two task round trips and an activity per guest, which on one
file-backed dev server tops out near 25 notifications/s. The register takes each notification as a signal
(signal-with-start: one history event, no task of its own), checks and records the waiting ones in batches with one
``record_stays`` activity, and answers for each notification's outcome. Households, vehicles and guests notifying
for themselves keep a dossier workflow of their own (``StayNotification``): they are few, and the officer's tools
and the audit see them like any other dossier.

Every notification keeps its own dossier code: the read model, the audit table and ``stay_notifications`` hold one
row per code, and a notification sent twice (a retrying portal) is recorded once. The register closes at noon the
day after its date, hours after the law's last moment (08:00 for guests arriving after 23:00); a notification that
comes later starts a new run of the same register.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import AwareDatetime, Field
from temporalio import workflow
from temporalio.common import Priority, SearchAttributePair, TypedSearchAttributes, VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.contracts import StayBatch, StayBatchResult, StayOutcome
    from activities.dossier import DossierActivities
    from domain.calendar import local_date
    from domain.documents import VIETNAM_TZ
    from domain.identity import mask_personal_id
    from domain.kinds import Procedure
    from domain.models import DOSSIER_CODE_PATTERN, Boundary, DossierState, Refusal, TrailAction, TrailEntry
    from domain.priority import BULK, fairness_key
    from domain.procedures.catalogue import field_errors
    from domain.procedures.stay_notification import StayNotificationSubmission
    from workflows.lifecycle import ACTIVITY_TIMEOUT, DURABLE_RETRY, PROCEDURE_KEY, UNIT_KEY

# Establishments that notify many guests a day use a register; the other hosts file a dossier each.
REGISTER_HOSTS = frozenset({"hotel", "hospital", "dormitory", "industrial_zone_lodging"})
# Notifications per record_stays activity: big enough to amortise the round trip at 100/s, small enough that one
# attempt stays well inside the activity timeout (each notification is a few queries in its own transaction, and a
# refused one a CT06 too): a worker that dies mid-batch is then noticed as soon as mid-dossier.
BATCH_LIMIT = 50
# The server refuses a payload over 2 MiB and then fails the whole register (an activity's input, a signal): a
# record_stays batch is bounded by its size as well, and a notify_batch signal by RECEIVED_BATCH_BYTES (what
# DossierClient.notify_batch packs into one signal), each well below the limit to leave room for the codec's envelope.
BATCH_BYTES = 1024 * 1024
RECEIVED_BATCH_BYTES = 1024 * 1024
RECEIVED_BATCH_LIMIT = 1000  # notifications in one notify_batch signal
BATCH_BYTES_PATCH = "stay-batch-bytes"
CLOSING_TIME = time(12, 0)  # of the day after the register's day, Vietnam time


def encoded_size(raw: Any) -> int:
    """A notification's size as JSON, as the payload converter writes it (the codec adds a few dozen bytes)."""
    return len(json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode())


class StayRegisterKey(Boundary):
    """Which register: the commune police unit, the establishment's place and the day guests arrived."""

    register_id: str = Field(pattern=r"^LT-CA-[0-9]{5}-[0-9a-f]{12}-[0-9]{8}$")
    police_unit: str
    day: date
    closes_at: AwareDatetime


class RegisterSummary(Boundary):
    register_id: str
    received: int
    recorded: int
    refused: int
    waiting: int


def uses_register(submission: Any) -> bool:
    return submission.procedure == Procedure.STAY_NOTIFICATION and submission.details.host_kind in REGISTER_HOSTS


def register_key(submission: StayNotificationSubmission) -> StayRegisterKey:
    """The register a notification belongs to: same unit, same place (address as written, case and spacing
    ignored), same arrival day in Vietnam time."""
    place = submission.details.place
    address = " ".join(place.address_line.casefold().split())
    digest = hashlib.sha256(f"{place.province_code}|{place.commune_code}|{address}".encode()).hexdigest()[:12]
    day = local_date(submission.details.arrival)
    closes_at = datetime.combine(day + timedelta(days=1), CLOSING_TIME, tzinfo=VIETNAM_TZ)
    return StayRegisterKey(register_id=f"LT-{submission.police_unit}-{digest}-{day:%Y%m%d}",
                           police_unit=submission.police_unit, day=day, closes_at=closes_at)


def register_search_attributes(key: StayRegisterKey) -> TypedSearchAttributes:
    """Set at start: operators find a unit's registers as they find its dossiers."""
    return TypedSearchAttributes([
        SearchAttributePair(PROCEDURE_KEY, Procedure.STAY_NOTIFICATION.value),
        SearchAttributePair(UNIT_KEY, key.police_unit),
    ])


def register_priority(key: StayRegisterKey) -> Priority:
    """Set by the starter: a register's tasks (and its batches, which inherit it) wait behind dossiers' under a
    backlog, and establishments share their level fairly, so one hotel's evening list does not hold up another's."""
    establishment = key.register_id.removeprefix("LT-").rsplit("-", 1)[0]  # unit and place digest
    return Priority(priority_key=BULK, fairness_key=fairness_key(establishment))


# Under Worker Versioning a register stays on the build that opened it: it lives a day and a half at most, so an
# old build drains by itself, and a change to how batches are taken needs no patch for the registers in flight.
@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class StayRegister:
    """Signals ``notify(StayNotificationSubmission as JSON)`` and ``notify_batch([...])`` (one establishment's
    notifications in one message); queries ``notification(code)`` and ``summary()``."""

    def __init__(self) -> None:
        self._register_id = workflow.info().workflow_id
        self._waiting: list[StayNotificationSubmission] = []
        self._waiting_bytes: list[int] = []  # each waiting notification's size, for the batch's bound
        self._outcomes: dict[str, StayOutcome] = {}
        self._trail: list[TrailEntry] = []  # this run's: each notification taken, each outcome

    def audit_trail(self) -> tuple[TrailEntry, ...]:
        """The register's decision trail, for the auditors' replay (``cutru.clients.audit``)."""
        return tuple(self._trail)

    def _outcome(self, outcome: StayOutcome) -> None:
        self._outcomes[outcome.dossier_code] = outcome
        if outcome.state.final:
            detail = "".join(f"; {r.code}" for r in outcome.refusals)
            self._trail.append(TrailEntry(at=workflow.now(), actor="system", action=TrailAction.closing(outcome.state),
                                          detail=f"{outcome.dossier_code}{detail}"))

    def _refuse(self, raw: Any, refusals: tuple[Refusal, ...]) -> None:
        code = raw.get("dossier_code") if isinstance(raw, dict) else None
        if isinstance(code, str) and re.fullmatch(DOSSIER_CODE_PATTERN, code) and code not in self._outcomes:
            self._outcome(StayOutcome(dossier_code=code, state=DossierState.REFUSED, refusals=refusals))
        # Without a usable dossier code there is nobody to answer; the signal stays in the history.

    def _take(self, raw: Any, size: int) -> None:
        # Raw JSON, validated here: a malformed notification is refused with its field errors, never a failed task.
        try:
            submission = StayNotificationSubmission.model_validate(raw)
        except ValidationError as error:
            self._refuse(raw, tuple(Refusal(code="invalid_submission", message=m) for m in field_errors(error)[:50]))
            return
        if submission.dossier_code in self._outcomes:
            return  # sent twice: recorded once
        self._outcome(StayOutcome(dossier_code=submission.dossier_code, state=DossierState.RECEIVED))
        self._trail.append(TrailEntry(at=workflow.now(), actor=mask_personal_id(submission.applicant.personal_id),
                                      action=TrailAction.STAY_NOTIFIED,
                                      detail=f"{submission.dossier_code}: {len(submission.details.guests)} guest(s)"))
        self._waiting.append(submission)
        self._waiting_bytes.append(size)

    @workflow.signal
    def notify(self, raw: Any) -> None:
        self._take(raw, encoded_size(raw))

    @workflow.signal
    def notify_batch(self, raws: Any) -> None:
        """Many notifications of this register in one message: each is taken as ``notify`` takes it, in order.

        A batch beyond RECEIVED_BATCH_LIMIT notifications or RECEIVED_BATCH_BYTES is refused whole, each notification
        with a dossier code answered ``batch_too_large``: the sender splits it (``DossierClient.notify_batch`` does)."""
        if not isinstance(raws, list):
            return
        sizes = [encoded_size(raw) for raw in raws]
        if len(raws) > RECEIVED_BATCH_LIMIT or sum(sizes) > RECEIVED_BATCH_BYTES:
            refusal = Refusal(code="batch_too_large", message=(
                f"a batch of {len(raws)} notifications, {sum(sizes)} bytes: at most {RECEIVED_BATCH_LIMIT} and "
                f"{RECEIVED_BATCH_BYTES} bytes in one message; send them in smaller batches"))
            for raw in raws:
                self._refuse(raw, (refusal,))
            return
        for raw, size in zip(raws, sizes, strict=True):
            self._take(raw, size)

    @workflow.query
    def notification(self, dossier_code: str) -> StayOutcome | None:
        return self._outcomes.get(dossier_code)

    @workflow.query
    def summary(self) -> RegisterSummary:
        states = [outcome.state for outcome in self._outcomes.values()]
        return RegisterSummary(register_id=self._register_id, received=len(states),
                               recorded=states.count(DossierState.COMPLETED),
                               refused=states.count(DossierState.REFUSED), waiting=len(self._waiting))

    @workflow.run
    async def run(self, key: StayRegisterKey) -> RegisterSummary:
        # One timer for the register's life, not one per wait: each batch then costs one activity and nothing more.
        delay = key.closes_at - workflow.now()
        closing = asyncio.ensure_future(workflow.sleep(delay)) if delay > timedelta(0) else None
        while True:
            await workflow.wait_condition(lambda: bool(self._waiting) or closing is None or closing.done())
            if self._waiting:
                await self._record_batch()
            if self._waiting:
                continue
            # Between batches, nothing waiting: the moment to start afresh if the history has grown long (the
            # outcomes so far stay in the read model), or to close once the day is over.
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(key)
            if closing is None or closing.done():
                await workflow.wait_condition(workflow.all_handlers_finished)
                return self.summary()

    async def _record_batch(self) -> None:
        # Up to BATCH_LIMIT notifications and BATCH_BYTES, at least one (a single notification is far smaller).
        # Registers that ran before the byte bound cut batches by count alone: their replay must cut them so too.
        count = min(BATCH_LIMIT, len(self._waiting))
        if sum(self._waiting_bytes[:count]) > BATCH_BYTES and workflow.patched(BATCH_BYTES_PATCH):
            count, total = 0, 0
            for size in self._waiting_bytes[:BATCH_LIMIT]:
                if count and total + size > BATCH_BYTES:
                    break
                count, total = count + 1, total + size
        batch, self._waiting = self._waiting[:count], self._waiting[count:]
        self._waiting_bytes = self._waiting_bytes[count:]
        result: StayBatchResult = await workflow.execute_activity_method(
            DossierActivities.record_stays, StayBatch(notifications=tuple(batch)),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=DURABLE_RETRY,
        )
        for outcome in result.outcomes:
            self._outcome(outcome)
