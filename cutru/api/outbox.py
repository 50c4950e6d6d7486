"""The intake outbox (migration 0019): a dossier is answered once PostgreSQL holds it, and started on Temporal after.

``record`` writes the submission, encrypted with the payload key (AES-256-GCM, as Temporal's payloads:
``cutru.platform.codec``), in one transaction with its attachments' links, and says whether the code was submitted
before (in the intake, or a dossier of the read model). The receipt is thus the database's commit: the submission
neither waits for the engine nor fails with it (Temporal down: recorded, started once it is back).

Right after the commit the API process starts the workflow itself (``start_soon``, the fast path), under the row's
first lease, so that no sweeper starts it meanwhile. The sweeper (``run``, every second in each API process) claims
the rows of its task queue whose lease has passed with ``FOR UPDATE SKIP LOCKED``, leasing them in the same
statement, and starts them: what a fast path could not start (Temporal down, the process killed after the commit)
is started by whichever replica comes first. A start is idempotent: the workflow id is the dossier code, started
with ``REJECT_DUPLICATE``, so a second one (a lease that ran out while a start was still on its way) finds the
workflow and counts as started. A started row drops its payload at once; it stays as the code's mark until the read
model holds the dossier, then goes.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import nullcontext
from datetime import timedelta

import asyncpg
from temporalio.converter import DataConverter
from temporalio.service import RPCError

from cutru.api.attachments import link
from cutru.api.problems import Problem
from cutru.clients.client import DossierClient, check_submission
from cutru.platform.codec import KeyRing, PayloadDecryptionError, keyring_of
from cutru.platform.logging import get_logger
from domain.models import SubmissionBase

# How long the fast path has to start its dossier before a sweeper may; a sweeper's claim; the sweeper's pace.
FAST_PATH_LEASE = timedelta(seconds=10)
SWEEP_LEASE = timedelta(seconds=30)
SWEEP_EVERY = 1.0
SWEEP_BATCH = 100
LONGEST_PAUSE = 30  # seconds between a failing row's attempts at most (doubling from 1)
PRUNE_EVERY = 60  # sweeps between removals of the started rows the read model answers for

_log = get_logger(component="intake")

# The code's procedure when it is taken ($1), by a dossier of the read model or by the intake; else the row added.
_RECORD = """
WITH known AS (SELECT procedure FROM dossiers WHERE dossier_code = $1),
added AS (
    INSERT INTO dossier_intake (dossier_code, procedure, unit_code, task_queue, key_id, payload, next_attempt_at)
    SELECT $1, $2, $3, $4, $5, $6, now() + $7::interval WHERE NOT EXISTS (SELECT FROM known)
    ON CONFLICT (dossier_code) DO NOTHING RETURNING true)
SELECT (SELECT procedure FROM known) AS known, EXISTS (SELECT FROM added) AS added
"""
_TAKEN_BY = "SELECT procedure FROM dossier_intake WHERE dossier_code = $1"
# Up to $1 rows of the queue $3 due, leased for $2 (their next attempt pushed past it, so that nobody else takes them
# meanwhile and a process that dies leaves them to come due again).
_CLAIM = """
WITH due AS (
    SELECT dossier_code FROM dossier_intake
    WHERE started_at IS NULL AND task_queue = $3 AND next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
UPDATE dossier_intake i SET next_attempt_at = now() + $2::interval
FROM due WHERE i.dossier_code = due.dossier_code
RETURNING i.dossier_code, i.key_id, i.payload
"""
_STARTED = """
UPDATE dossier_intake SET started_at = now(), payload = NULL, key_id = NULL, last_error = NULL,
    attempts = attempts + 1
WHERE dossier_code = $1 AND started_at IS NULL
"""
_FAILED = """
UPDATE dossier_intake SET attempts = attempts + 1, last_error = $2,
    next_attempt_at = now() + make_interval(secs => least(2 ^ attempts, $3))
WHERE dossier_code = $1 AND started_at IS NULL
"""
_PRUNE = """
DELETE FROM dossier_intake i WHERE started_at IS NOT NULL
    AND EXISTS (SELECT FROM dossiers d WHERE d.dossier_code = i.dossier_code)
"""


def code_taken(code: str, owner: str) -> Problem:
    return Problem(409, "dossier_code_taken", "The dossier code is taken", "Mã hồ sơ đã được dùng",
                   detail=f"Dossier code {code} belongs to a {owner} dossier: submit this one under a new code.",
                   detail_vi=f"Mã hồ sơ {code} đã được dùng cho một hồ sơ khác ({owner}): hãy nộp hồ sơ này "
                             "với mã hồ sơ mới.")


class IntakeOutbox:
    """The API process's side of the outbox: recording, the fast path and the sweeper."""

    def __init__(self, pool: asyncpg.Pool, dossiers: DossierClient, keyring: KeyRing, *,
                 fast_path_lease: timedelta = FAST_PATH_LEASE, sweep_lease: timedelta = SWEEP_LEASE,
                 sweep_every: float = SWEEP_EVERY) -> None:
        self._pool = pool
        self._dossiers = dossiers
        self._keyring = keyring
        self.fast_path_lease = fast_path_lease
        self._sweep_lease = sweep_lease
        self._sweep_every = sweep_every
        self._starting: set[asyncio.Task[None]] = set()  # the fast paths under way: held, or they may be collected

    @classmethod
    def of(cls, pool: asyncpg.Pool, dossiers: DossierClient) -> IntakeOutbox:
        """With the payload keys of the engine client's own converter."""
        converter: DataConverter = dossiers.client.data_converter
        return cls(pool, dossiers, keyring_of(converter))

    async def record(self, submission: SubmissionBase) -> bool:
        """Record the submission and link its attachments, in one transaction; whether the code was submitted
        before (then nothing is recorded, and the attachments are linked again, which changes nothing). A code a
        dossier of another procedure holds: 409 ``dossier_code_taken``, and nothing is written."""
        code, procedure = submission.dossier_code, submission.procedure.value  # type: ignore[attr-defined]
        key_id, payload = self._keyring.encrypt(submission.model_dump_json().encode())
        async with self._pool.acquire() as conn, conn.transaction() if submission.attachments else nullcontext():
            # Without attachments the one statement that writes is a transaction of its own: a round trip for the
            # submission, not three.
            row = await conn.fetchrow(_RECORD, code, procedure, submission.police_unit, self._dossiers.task_queue,
                                      key_id, payload, self.fast_path_lease)
            assert row is not None
            owner = row["known"] if not row["added"] else None
            if not row["added"] and owner is None:
                owner = await conn.fetchval(_TAKEN_BY, code)
            if owner is not None and owner != procedure:
                raise code_taken(code, owner)
            await link(conn, code, submission.attachments)
        return not row["added"]

    def start_soon(self, submission: SubmissionBase) -> None:
        """The fast path: start the recorded dossier now, in the background; a failure leaves it to the sweeper."""
        task = asyncio.create_task(self._start(submission))
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _start(self, submission: SubmissionBase) -> None:
        code = submission.dossier_code
        try:
            await self._dossiers.submit(submission)
        except Exception as error:  # noqa: BLE001 (whatever stopped the start, the sweeper tries again)
            _log.warning("dossier not started yet", dossier_code=code, error=_reason(error))
            await self._mark(_FAILED, code, _reason(error), LONGEST_PAUSE)
            return
        await self._mark(_STARTED, code)

    async def _mark(self, statement: str, *args: object) -> None:
        try:
            await self._pool.execute(statement, *args)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
            # Its lease runs out and a sweeper starts it again, which finds it started and marks it so.
            _log.warning("intake row not marked", exc_info=True)

    async def sweep(self) -> int:
        """One round: start the rows due, each once; how many were claimed."""
        rows = await self._pool.fetch(_CLAIM, SWEEP_BATCH, self._sweep_lease, self._dossiers.task_queue)
        await asyncio.gather(*(self._start_recorded(row["dossier_code"], row["key_id"], row["payload"])
                               for row in rows))
        return len(rows)

    async def _start_recorded(self, code: str, key_id: str, payload: bytes) -> None:
        try:
            submission = check_submission(json.loads(self._keyring.decrypt(key_id, payload)))
        except ValueError as error:  # a key taken off the ring, or a submission no longer valid: tried again
            _log.error("recorded submission unreadable", dossier_code=code, error=_reason(error))
            await self._mark(_FAILED, code, _reason(error), LONGEST_PAUSE)
            return
        await self._start(submission)

    async def prune(self) -> None:
        """Remove the started rows whose dossier the read model holds: it answers for their codes from then on."""
        await self._pool.execute(_PRUNE)

    async def run(self) -> None:
        """Sweep every ``sweep_every`` seconds until cancelled; a failed round (the database away) is retried at the
        next tick."""
        rounds = 0
        while True:
            try:
                claimed = await self.sweep()
                if claimed:
                    _log.info("intake swept", started=claimed)
                if rounds % PRUNE_EVERY == 0:
                    await self.prune()
            except Exception:  # noqa: BLE001 (the sweeper must outlive any outage: the next round tries again)
                _log.warning("intake sweep failed", exc_info=True)
            rounds += 1
            await asyncio.sleep(self._sweep_every)

    async def close(self, grace: float = 5.0) -> None:
        """Let the fast paths under way finish for ``grace`` seconds, then stop them (what they did not start, a
        sweeper will)."""
        if self._starting:
            await asyncio.wait(list(self._starting), timeout=grace)
        for task in list(self._starting):
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)


def _reason(error: BaseException) -> str:
    """The error's class, and an engine's or a key's message (which name no personal data; a validation's might)."""
    if isinstance(error, RPCError | PayloadDecryptionError):
        return f"{type(error).__name__}: {str(error)[:300]}"
    return type(error).__name__
