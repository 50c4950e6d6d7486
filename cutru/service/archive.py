"""Closed dossiers' histories exported to durable storage, so that they stay auditable after retention.

Temporal keeps a closed workflow for the namespace's retention period only; the read model (status, documents)
and the audit table (the trail) are cutru's own and stay. What would go is the history the auditors replay and
export. A sweep (``archive_closed``, run by every worker, ``ARCHIVE_INTERVAL_ENV``) finds the dossiers the read
model shows closed and not yet exported, fetches each closed run's history and stores it as Temporal's history
JSON (payloads encrypted as Temporal holds them) in the document store, content-addressed; ``history_archive``
says which file holds which run. A sweep rather than a step at the end of the lifecycle: a workflow cannot export
its own history whole (its closing events come after its last activity), the sweep changes no workflow command, and
it also takes dossiers closed before it existed. Exporting is idempotent (the same history is the same file, the
row is written once), so several workers sweeping at once, or a sweep cut short, do no harm.

``archived_history`` is what the auditors' replay and export fall back to when Temporal no longer has the workflow.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from datetime import timedelta

import asyncpg
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from cutru.platform.logging import get_logger
from cutru.platform.storage import BlobStore
from domain.models import DossierState

ARCHIVE_INTERVAL_ENV = "CUTRU_HISTORY_ARCHIVE_INTERVAL"
DEFAULT_INTERVAL = timedelta(minutes=10)
_BATCH = 100
_FINAL = [state.value for state in DossierState if state.final]
# Closed in the read model, no export yet: oldest closure first, so that a backlog is taken in the order retention
# would remove it.
_PENDING_SQL = ("SELECT d.dossier_code FROM dossiers d WHERE d.status = ANY($1::text[])"
                " AND NOT EXISTS (SELECT FROM history_archive a WHERE a.dossier_code = d.dossier_code)"
                " ORDER BY d.updated_at, d.dossier_code LIMIT $2")
_RECORD_SQL = ("INSERT INTO history_archive (dossier_code, run_id, workflow_type, sha256, size_bytes, events)"
               " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dossier_code, run_id) DO NOTHING")
_LATEST_SQL = ("SELECT sha256 FROM history_archive WHERE dossier_code = $1 AND sha256 IS NOT NULL"
               " ORDER BY archived_at DESC LIMIT 1")


def archive_interval() -> timedelta | None:
    """How often the workers sweep (seconds in ``ARCHIVE_INTERVAL_ENV``; 0 turns the sweep off)."""
    raw = os.environ.get(ARCHIVE_INTERVAL_ENV)
    seconds = float(raw) if raw else DEFAULT_INTERVAL.total_seconds()
    return timedelta(seconds=seconds) if seconds > 0 else None


async def archive_history(client: Client, pool: asyncpg.Pool, store: BlobStore, code: str) -> bool:
    """Export the closed dossier's history; False when its workflow still runs (the read model shows the final
    status just before the workflow closes), so that a later sweep takes it."""
    handle = client.get_workflow_handle(code)
    try:
        description = await handle.describe()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        await pool.execute(_RECORD_SQL, code, "", "", None, 0, 0)
        return True
    if description.status == WorkflowExecutionStatus.RUNNING:
        return False
    history = await client.get_workflow_handle(code, run_id=description.run_id).fetch_history()
    data = history.to_json().encode()
    sha256 = hashlib.sha256(data).hexdigest()
    if not await store.exists(sha256):
        staged = store.staging / f"history-{uuid.uuid4().hex}.json"
        await asyncio.to_thread(staged.write_bytes, data)
        await store.commit(staged, sha256, "application/json", len(data))
    await pool.execute(_RECORD_SQL, code, description.run_id, description.workflow_type, sha256, len(data),
                       len(history.events))
    return True


async def archive_closed(client: Client, pool: asyncpg.Pool, store: BlobStore) -> int:
    """Export every closed dossier's history not yet exported; the number exported."""
    exported = 0
    while True:
        codes = [row["dossier_code"] for row in await pool.fetch(_PENDING_SQL, _FINAL, _BATCH)]
        taken = [code for code in codes if await archive_history(client, pool, store, code)]
        exported += len(taken)
        if len(codes) < _BATCH or not taken:
            return exported


async def sweep_forever(client: Client, pool: asyncpg.Pool, store: BlobStore, interval: timedelta) -> None:
    """Sweep every ``interval`` until cancelled, the first after one interval (a worker starting has other work
    first). A failed sweep is logged and tried again at the next tick: retention is days ahead of the sweep, so a
    sweep missed now is made good later."""
    log = get_logger(component="history-archive")
    while True:
        await asyncio.sleep(interval.total_seconds())
        try:
            exported = await archive_closed(client, pool, store)
            if exported:
                log.info("histories archived", exported=exported)
        except (RPCError, asyncpg.PostgresError, OSError, TimeoutError):
            log.warning("history archive sweep failed", exc_info=True)


async def archived_file(pool: asyncpg.Pool, code: str) -> str | None:
    """The SHA-256 of the dossier's exported history in the store, or None when none was exported."""
    sha256: str | None = await pool.fetchval(_LATEST_SQL, code)
    return sha256


async def archived_history(store: BlobStore, code: str, sha256: str) -> WorkflowHistory:
    """The exported history ``archived_file`` names."""
    data = b"".join([chunk async for chunk in store.read(sha256)])
    return WorkflowHistory.from_json(code, data.decode())
