"""Each dossier code belongs to one procedure and one workflow: the first of its activities that writes binds the code
(``dossiers.run_id``, migration 0017) before it writes anything: the identity check (in its one statement, each
write conditioned on the code being the workflow's: ``OWNER``), a police notice's listing, an immediate acceptance,
or the delivery when nothing came before it (an invalid submission refused). A workflow that does not own its code
fails there, before any effect; the later steps of the owner need no check.

The workflow is named by its first run's id, which a reset (``temporal workflow reset``) keeps and a new workflow
started under the same id does not; the start options refuse such a reuse already (``DossierClient.submit``), this
refuses it where the effects are made. A stay register's notifications are bound to the registers (``REGISTER``).
A code that belongs to another procedure or workflow is a ``DossierCodeTaken`` error, non-retryable: that workflow
writes nothing under it. The same workflow retrying finds its own binding and goes on, idempotent as before. Rows
from before the binding (``run_id`` NULL) are taken by the first workflow of their procedure that checks them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio.exceptions import ApplicationError

from activities.contracts import DOSSIER_CODE_TAKEN

if TYPE_CHECKING:
    import asyncpg

REGISTER = "stay-register"

# Binds a row written before the binding existed (run_id NULL) to the first workflow of its procedure that checks it;
# the SELECT sees the row as it was before the statement.
_BIND = ("WITH bound AS (UPDATE dossiers SET run_id = $3 WHERE dossier_code = $1 AND run_id IS NULL"
         " AND procedure = $2 RETURNING dossier_code)"
         " SELECT procedure, run_id FROM dossiers WHERE dossier_code = $1")

# For a statement that binds as it writes (validate_identity), $1 the code, $2 the procedure, $3 the run (renumbered
# by the statement): the code's row as it was before the statement, and whether this workflow may write under the
# code (``owned_by``; always with no run to check). The statement conditions every write on ``free`` and binds a row
# from before the binding in its own upsert: two of its parts may not both change the row.
OWNER = ("owner AS (SELECT procedure, run_id FROM dossiers WHERE dossier_code = $1),"
         " free AS (SELECT $3::text IS NULL"
         " OR NOT EXISTS (SELECT FROM owner WHERE procedure <> $2 OR run_id <> $3) AS yes)")


def taken(code: str, procedure: str, owner_procedure: str, owner_run: str | None) -> ApplicationError:
    owner = "a stay register" if owner_run == REGISTER else f"workflow run {owner_run}" if owner_run else \
        "an earlier dossier"
    return ApplicationError(
        f"dossier code {code} belongs to {owner_procedure} ({owner}): this {procedure} workflow writes nothing under "
        "it; submit the dossier again under a new dossier code", type=DOSSIER_CODE_TAKEN, non_retryable=True)


def owned_by(procedure: str, run: str | None, owner_procedure: str, owner_run: str | None) -> bool:
    """Whether a row of ``owner_procedure`` bound to ``owner_run`` (None: bound to no one yet) is this workflow's."""
    return owner_procedure == procedure and owner_run in (None, run)


async def bind(conn: asyncpg.Connection, code: str, procedure: str, run: str | None) -> None:
    """Bind ``code`` to this workflow, or raise ``DossierCodeTaken``; nothing to check for a request scheduled
    before runs were bound (``run`` None)."""
    if run is None:
        return
    row = await conn.fetchrow(_BIND, code, procedure, run)
    if row is not None and not owned_by(procedure, run, row["procedure"], row["run_id"]):
        raise taken(code, procedure, row["procedure"], row["run_id"])
