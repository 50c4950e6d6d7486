"""One Temporal workflow type per residence procedure, all on the shared ``DossierLifecycle``.

Each class only names its procedure; what differs between procedures is its definition (``domain.procedures``,
one module per procedure, collected in ``domain.procedures.catalogue``) and the versioned rule data
(``domain.rulesets``). The input is the procedure's submission as JSON; it is validated inside the workflow so
that bad input becomes a refused dossier, never a failed workflow task.

Every workflow has the lifecycle's messages (signals ``officer_decision``, ``supplement``, ``payment_confirmed``,
``withdraw``; updates ``decide``, ``reassign``; query ``status``). The two deletions add signal ``citizen_filed``
(``CitizenFiling``) for dossiers opened by a police notice: see ``_DeletionAfterNotice``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from workflows.lifecycle import ACTIVITY_TIMEOUT, DOSSIER_VERSIONING, NO_INPUT, DossierLifecycle
from workflows.stay_register import StayRegister

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from activities.checks import FilingCheck, MessageChecks, Verdict
    from activities.contracts import NoticeServed
    from activities.dossier import DossierActivities
    from domain.kinds import Procedure
    from domain.models import DossierOutcome, DossierState, TrailAction
    from domain.procedures.catalogue import submission_model
    from domain.procedures.deletion import CitizenFiling, notice_window_closes


# The read-model row and audit entry of a notice's dossier while it waits (workflow.patched id).
NOTICE_IN_READ_MODEL = "notice-in-read-model"
# ``citizen_filed`` cancels the notice only for a real filing of the notified person (workflow.patched id).
CHECKED_FILING = "checked-citizen-filing"
# A filing submitted a moment before its signal may not have its read-model row yet: looked up for about 7 s.
FILING_LOOKUP = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=4)


class _DeletionAfterNotice(DossierLifecycle):
    """Deletion (Điều 24 khoản 3, Điều 29 khoản 3) with the ex-officio path after a police notice.

    A dossier whose details carry ``police_notice`` is opened by the police when they notify the person or
    household. It first waits until the filing window after the notice has closed (the rule set's
    ``ex_officio_deletion_after_notice_days``, counted from the day after the notice, to the end of its last day):

    - signal ``citizen_filed`` arrives first (the person filed their own deletion dossier): the notice's dossier
      is cancelled, the person's dossier does the deletion. The filing must be real: in the read model, the same
      deletion, filed by the notified person and not ended without a deletion (``MessageChecks.check_filing``, an
      activity, so that a replay needs no database); otherwise the signal is recorded as refused;
    - the window closes with nothing filed: the case is opened ex officio at that moment (its ``received_at``
      becomes the opening instant, from which the legal clock runs) and goes through the lifecycle: checks,
      the officer's decision (the minutes, biên bản), the record closed as deleted, CT08 as the written notice.

    A dossier without a notice is an ordinary filing and runs the lifecycle at once.
    """

    _notified_person: str | None = None  # the notice dossier's applicant, once the notice is read

    @workflow.signal
    async def citizen_filed(self, filing: CitizenFiling) -> None:
        p = self._progress
        self._messages += 1
        if p.inbox.citizen_filing is not None or p.inbox.closure is not None:
            return
        if self._over_budget():  # checked by an activity: past the budget the officer's decision settles the notice
            await self._flush()
            return
        if workflow.patched(CHECKED_FILING):
            if not isinstance(filing, CitizenFiling):  # JSON null decodes to None: nothing to take
                return
            problem = await self._filing_problem(filing)
            if problem:
                self._record("signal", TrailAction.FILING_REFUSED, problem, message=True)
                await self._flush()
                return
        if p.inbox.citizen_filing is None:
            p.inbox.citizen_filing = filing

    async def _filing_problem(self, filing: CitizenFiling) -> str | None:
        p = self._progress
        if self._notified_person is None or p.state != DossierState.AWAITING_FILING:
            return f"dossier {p.code} is not a police notice waiting for the person's own filing"
        check = FilingCheck(notice_code=p.code, filing_code=filing.dossier_code, procedure=self.procedure,
                            applicant_id=self._notified_person)
        try:
            verdict: Verdict = await workflow.execute_local_activity_method(
                MessageChecks.check_filing, check, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=FILING_LOOKUP)
        # The SDK raises a local activity's failure as it is, not wrapped in an ActivityError.
        except (ActivityError, ApplicationError, ActivityTimeoutError):
            return f"no dossier {filing.dossier_code} was filed"
        return verdict.problem

    async def _run_after_notice(self, raw: dict[str, Any]) -> DossierOutcome:
        p = self._progress
        try:
            submission: Any = submission_model(self.procedure).model_validate(raw)
        except ValidationError:
            return await self._run(raw)  # the lifecycle refuses invalid input with field-level reasons
        notice = submission.details.police_notice
        if notice is None:
            return await self._run(raw)
        closes = notice_window_closes(notice, submission.deletion)
        wait = closes - workflow.now()
        p.unit = submission.police_unit
        self._opened_by_police = True
        self._notified_person = submission.applicant.personal_id
        self._set_state(DossierState.AWAITING_FILING)  # visible in the Web UI and the status query while it waits
        self._record(notice.officer_id, TrailAction.NOTICE_SERVED,
                     f"notice {notice.notice_number} of {notice.notified_on.isoformat()}")
        # Added after dossiers were already waiting on notices: those replay without it (see README, versioning), and
        # their notice's entry is written with the next write.
        if workflow.patched(NOTICE_IN_READ_MODEL):
            await self._act(DossierActivities.record_notice,
                            NoticeServed(submission=submission, audit=p.take_unwritten(), run=self._run_id()))
            self._bound = True
        if wait > timedelta(0):
            try:
                await workflow.wait_condition(lambda: p.inbox.citizen_filing is not None, timeout=wait)
            except TimeoutError:
                pass
        if p.inbox.citizen_filing is not None:
            return await self._finish(DossierState.CANCELLED, actor="citizen",
                                      detail=f"filed in time as dossier {p.inbox.citizen_filing.dossier_code}: "
                                      "no ex officio deletion")
        opened = max(closes, submission.received_at)
        return await self._run({**raw, "received_at": opened.isoformat()})


@workflow.defn(name=Procedure.PERMANENT_RESIDENCE_REGISTRATION.value, versioning_behavior=DOSSIER_VERSIONING)
class PermanentResidenceRegistration(DossierLifecycle):
    """Đăng ký thường trú — TTHC 1.004222."""

    procedure = Procedure.PERMANENT_RESIDENCE_REGISTRATION

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run(self._decoded(submission)))


@workflow.defn(name=Procedure.PERMANENT_RESIDENCE_DELETION.value, versioning_behavior=DOSSIER_VERSIONING)
class PermanentResidenceDeletion(_DeletionAfterNotice):
    """Xóa đăng ký thường trú — TTHC 1.003197. Extra signal: ``citizen_filed(CitizenFiling)``."""

    procedure = Procedure.PERMANENT_RESIDENCE_DELETION

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run_after_notice(self._decoded(submission)))


@workflow.defn(name=Procedure.TEMPORARY_RESIDENCE_REGISTRATION.value, versioning_behavior=DOSSIER_VERSIONING)
class TemporaryResidenceRegistration(DossierLifecycle):
    """Đăng ký tạm trú — TTHC 1.004194."""

    procedure = Procedure.TEMPORARY_RESIDENCE_REGISTRATION

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run(self._decoded(submission)))


@workflow.defn(name=Procedure.TEMPORARY_RESIDENCE_EXTENSION.value, versioning_behavior=DOSSIER_VERSIONING)
class TemporaryResidenceExtension(DossierLifecycle):
    """Gia hạn tạm trú — TTHC 1.002755."""

    procedure = Procedure.TEMPORARY_RESIDENCE_EXTENSION

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run(self._decoded(submission)))


@workflow.defn(name=Procedure.TEMPORARY_RESIDENCE_DELETION.value, versioning_behavior=DOSSIER_VERSIONING)
class TemporaryResidenceDeletion(_DeletionAfterNotice):
    """Xóa đăng ký tạm trú — TTHC 1.010028. Extra signal: ``citizen_filed(CitizenFiling)``."""

    procedure = Procedure.TEMPORARY_RESIDENCE_DELETION

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run_after_notice(self._decoded(submission)))


@workflow.defn(name=Procedure.HOUSEHOLD_SEPARATION.value, versioning_behavior=DOSSIER_VERSIONING)
class HouseholdSeparation(DossierLifecycle):
    """Tách hộ — TTHC 1.010038."""

    procedure = Procedure.HOUSEHOLD_SEPARATION

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run(self._decoded(submission)))


@workflow.defn(name=Procedure.RESIDENCE_INFO_ADJUSTMENT.value, versioning_behavior=DOSSIER_VERSIONING)
class ResidenceInfoAdjustment(DossierLifecycle):
    """Điều chỉnh thông tin về cư trú — TTHC 1.010039."""

    procedure = Procedure.RESIDENCE_INFO_ADJUSTMENT

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run(self._decoded(submission)))


@workflow.defn(name=Procedure.RESIDENCE_DECLARATION.value, versioning_behavior=DOSSIER_VERSIONING)
class ResidenceDeclaration(DossierLifecycle):
    """Khai báo thông tin về cư trú — TTHC 1.010040."""

    procedure = Procedure.RESIDENCE_DECLARATION

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run(self._decoded(submission)))


@workflow.defn(name=Procedure.RESIDENCE_CONFIRMATION.value, versioning_behavior=DOSSIER_VERSIONING)
class ResidenceConfirmation(DossierLifecycle):
    """Xác nhận thông tin về cư trú — TTHC 1.010041."""

    procedure = Procedure.RESIDENCE_CONFIRMATION

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run(self._decoded(submission)))


@workflow.defn(name=Procedure.STAY_NOTIFICATION.value, versioning_behavior=DOSSIER_VERSIONING)
class StayNotification(DossierLifecycle):
    """Thông báo lưu trú — TTHC 2.001159. Accepted at once: one activity checks and records; no officer, no fee."""

    procedure = Procedure.STAY_NOTIFICATION

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run(self._decoded(submission)))


@workflow.defn(name=Procedure.TEMPORARY_ABSENCE_DECLARATION.value, versioning_behavior=DOSSIER_VERSIONING)
class TemporaryAbsenceDeclaration(DossierLifecycle):
    """Khai báo tạm vắng — TTHC 1.003677."""

    procedure = Procedure.TEMPORARY_ABSENCE_DECLARATION

    @workflow.run
    async def run(self, submission: RawValue = NO_INPUT) -> DossierOutcome:
        return await self._closable(self._run(self._decoded(submission)))


WORKFLOWS: dict[Procedure, type[DossierLifecycle]] = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: PermanentResidenceRegistration,
    Procedure.PERMANENT_RESIDENCE_DELETION: PermanentResidenceDeletion,
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: TemporaryResidenceRegistration,
    Procedure.TEMPORARY_RESIDENCE_EXTENSION: TemporaryResidenceExtension,
    Procedure.TEMPORARY_RESIDENCE_DELETION: TemporaryResidenceDeletion,
    Procedure.HOUSEHOLD_SEPARATION: HouseholdSeparation,
    Procedure.RESIDENCE_INFO_ADJUSTMENT: ResidenceInfoAdjustment,
    Procedure.RESIDENCE_DECLARATION: ResidenceDeclaration,
    Procedure.RESIDENCE_CONFIRMATION: ResidenceConfirmation,
    Procedure.STAY_NOTIFICATION: StayNotification,
    Procedure.TEMPORARY_ABSENCE_DECLARATION: TemporaryAbsenceDeclaration,
}

# What a worker runs and a replayer knows: the procedures' dossier workflows and the establishments' stay registers.
ALL_WORKFLOWS: tuple[type, ...] = (*WORKFLOWS.values(), StayRegister)
