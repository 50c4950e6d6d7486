"""A dossier's decision trail in the audit table, read through the supersessions of lost workflow tasks.

A local step writes its trail entries inside its workflow task. When the task is lost (its worker killed before it
completed) the rows stay in the append-only ``audit_events`` while the history, retried, may hold other entries:
the retried task took the messages that arrived meanwhile first (docs/reliability.md, lost workflow tasks). The
dossier's final write (``deliver_result``) is given every entry its history holds (``DeliveryRequest.held``) and,
in the statement that closes the dossier, marks in ``audit_superseded`` each row under a lifecycle key that the
history does not hold, or holds with another actor, action or detail; where a lost row took the key of an entry
the history holds, that entry is restated under the key, ``~`` and a digest of its content. Times are not compared:
an entry the retried task records again carries that task's time and is the same entry.

Whatever reads the audit table as a dossier's trail reads it with ``ROWS``: the rows that stand are the trail, the
superseded ones are shown to auditors as written by a lost workflow task.
"""

from __future__ import annotations

from typing import Any

from activities.contracts import AuditRecord

# The keys the dossier lifecycle writes under (workflows/progress.py): an entry's count, or a refused message's, and
# its action; the closing entry's key is one of them. Rows of other writers and restated rows are never superseded.
LIFECYCLE_KEY = r"^(\d{4}|m\d{5})-[a-z_]+$"

# Every audit row of the dossiers ($1, an array of codes), with why it was superseded (NULL: it stands).
ROWS = ("SELECT e.event_id, e.dossier_code, e.event_key, e.actor, e.action, e.details, e.at,"
        " s.reason AS superseded"
        " FROM audit_events e LEFT JOIN audit_superseded s"
        " ON s.dossier_code = e.dossier_code AND s.event_key = e.event_key"
        " WHERE e.dossier_code = ANY($1::text[])")


# Common table expressions, to follow others in a WITH, that supersede the rows of dossier $1 the history does not
# hold and restate the entries whose keys they took, written at $6; $9 to $12 are the held entries' keys, actors,
# actions and details (as written: JSON text), ``held_args``. A refused message's entry keyed past those held is left
# to stand: the workflow's handlers may record and write such entries while the final write runs (the other entries
# all come before it), so it cannot be told from a lost task's.
SUPERSEDING = (
    " held AS (SELECT * FROM unnest($9::text[], $10::text[], $11::text[], $12::text[]) AS h(k, a, c, d)),"
    " lost AS (INSERT INTO audit_superseded (dossier_code, event_key, reason)"
    " SELECT e.dossier_code, e.event_key,"
    " CASE WHEN h.k IS NULL THEN 'not_in_history' ELSE 'differs_from_history' END"
    " FROM audit_events e LEFT JOIN held h ON h.k = e.event_key"
    " WHERE e.dossier_code = $1 AND e.event_key ~ '" + LIFECYCLE_KEY + "'"
    " AND (e.event_key NOT LIKE 'm%'"
    " OR left(e.event_key, 6) <= (SELECT max(left(k, 6)) FROM held WHERE k LIKE 'm%'))"
    " AND (h.k IS NULL OR (e.actor, e.action, coalesce(e.details->>'detail', ''))"
    " IS DISTINCT FROM (h.a, h.c, coalesce(h.d::jsonb->>'detail', '')))"
    " ON CONFLICT (dossier_code, event_key) DO NOTHING RETURNING event_key),"
    " restated AS (INSERT INTO audit_events (dossier_code, event_key, actor, action, details, at)"
    " SELECT $1, h.k || '~' || left(md5(h.a || h.c || h.d), 8), h.a, h.c, h.d::jsonb, $6"
    " FROM held h JOIN lost l ON l.event_key = h.k ON CONFLICT (dossier_code, event_key) DO NOTHING)"
)


def held_args(held: tuple[AuditRecord, ...], details: list[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """``SUPERSEDING``'s arrays: the held entries' keys, actors and actions, and their details as written."""
    return ([r.event_key for r in held], [r.entry.actor for r in held], [r.entry.action.value for r in held],
            details)


def standing(rows: list[Any]) -> list[Any]:
    """The rows of ``ROWS`` that are the trail: those no lost workflow task wrote."""
    return [row for row in rows if row["superseded"] is None]
