"""The desk's inbox (table ``desk_notices``, migration 0009): a reminder or an escalation the workflow recorded in the
decision trail becomes a notice to the officers it concerns, written by the activity that writes the trail entry.

A reminder goes to the assigned officer; an escalation to the assigned officer and the unit's active supervisors.
Each notice is keyed by dossier, kind, deadline and officer, so the activity's retry writes none twice. A trigger
(migration 0015) turns each new notice into an e-mail in the outbox for an officer with an address, keyed by the
notice: sent once per notice and recipient (``activities.notify``).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from activities.contracts import AuditRecord
from domain.models import Boundary, TrailAction

KINDS = {TrailAction.REMINDER_SENT: "reminder", TrailAction.ESCALATED: "escalation"}

# $1 the dossier, $2 the kind, $3 the entry's time: the deadline when the read model holds none.
_NOTIFY = """
INSERT INTO desk_notices (officer_id, dossier_code, kind, due)
SELECT o.officer_id, d.dossier_code, $2::text, coalesce(d.deadline, $3::timestamptz)
FROM dossiers d JOIN officers o ON o.unit_code = d.unit_code AND o.active
    AND (o.officer_id = d.assigned_officer OR ($2::text = 'escalation' AND o.role = 'supervisor'))
WHERE d.dossier_code = $1
ON CONFLICT (dossier_code, kind, due, officer_id) DO NOTHING
RETURNING notice_id, officer_id, dossier_code, kind, due
"""


class Notice(Boundary):
    notice_id: int
    officer_id: str
    dossier_code: str
    kind: str
    due: datetime


async def notify(conn: asyncpg.Connection, records: tuple[AuditRecord, ...]) -> list[Notice]:
    """The notices the records' reminders and escalations call for; the new ones (none on a retry)."""
    created: list[Notice] = []
    for record in records:
        kind = KINDS.get(record.entry.action)
        if kind is not None:
            rows = await conn.fetch(_NOTIFY, record.dossier_code, kind, record.entry.at)
            created += [Notice.model_validate(dict(row)) for row in rows]
    return created
