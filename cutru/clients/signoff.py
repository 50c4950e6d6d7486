"""Who may sign a unit's results, as the roster (``officers``) says now: its active head, or an active deputy head
the head authorised to sign for them (``signs_for_head``, migration 0008). The API reads it at sign time; the
dossier trusts the signer the API names in the signed envelope (``domain.models.SignOff``). Also the head's
request, which the API's client (``cutru/api/client.py``) sends."""

from __future__ import annotations

import asyncpg
from pydantic import Field

from domain.models import Boundary, Signer, SignOffKind


class SignOffRequest(Boundary):
    """The head's answer to a proposal; who signs is the signed-in officer, never a field of the request."""

    decision: SignOffKind
    reason: str | None = Field(default=None, max_length=1000,
                               description="required to return the proposal: the officer decides again with it")

_SIGNER_SQL = """
SELECT officer_id, full_name, unit_code, position FROM officers
WHERE officer_id = $1 AND active AND (position = 'head' OR (position = 'deputy_head' AND signs_for_head))
"""


async def find_signer(pool: asyncpg.Pool | asyncpg.Connection, officer_id: str) -> Signer | None:
    """The officer as a signer of their unit's results; None when the roster gives them no such authority."""
    row = await pool.fetchrow(_SIGNER_SQL, officer_id)
    if row is None:
        return None
    return Signer.model_validate(dict(row))
