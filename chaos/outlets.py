"""Where cutru's messages go in the campaign, as processes the faults kill: the mail server (``cutru_local.mailbox``)
and a webhook subscriber (``chaos.subscriber``); and the count of what they should have received and did.

Half of the dossiers ask to be told by e-mail. After the drain the outbox is given time to empty; then every
message the outbox holds for a submitted dossier must be in the Maildir exactly once (by Message-ID), every step
recorded in the trail must have its message and its event, and every event must have reached the subscriber
(at least once: events may repeat by id, never go missing).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import asyncpg
from cutru_local.mailbox import message_ids
from pydantic import BaseModel

from chaos.stack import PROJECT_ROOT, free_port, wait_started
from chaos.subscriber import taken

# The trail actions that tell a citizen who chose e-mail (migration 0011's outbox_from_trail).
TOLD = ("accepted", "supplement_requested", "refused", "completed", "cancelled", "withdrawn")


class Outlet:
    """A process on a port of its own, killed with SIGKILL and started again on the same port."""

    def __init__(self, name: str, command: list[str], log_path: Path, port: int, env: dict[str, str]) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        self.port = port
        self.env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    def mail_server(cls, root: Path, env: dict[str, str]) -> Outlet:
        port = free_port()
        return cls("mail server", [sys.executable, "-m", "cutru_local.mailbox", "--port", str(port),
                                   "--maildir", str(root / "mailbox")], root / "mailbox.log", port, env)

    @classmethod
    def subscriber(cls, root: Path, env: dict[str, str]) -> Outlet:
        port = free_port()
        return cls("webhook subscriber", [sys.executable, "-m", "chaos.subscriber", "--port", str(port),
                                          "--journal", str(root / "subscriber.jsonl")],
                   root / "subscriber.log", port, env)

    def start(self, timeout: float = 30.0) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in kill()
        self._process = subprocess.Popen(self.command, env=self.env, cwd=PROJECT_ROOT, stdout=self._log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_started(self._process, self.port, timeout, self.name, self.log_path)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class OutboxCheck(BaseModel):
    notifications_sent: int = 0
    notifications_missing: int = 0
    notifications_duplicated: int = 0
    events_delivered: int = 0
    events_missing: int = 0

    @property
    def ok(self) -> bool:
        return self.notifications_missing == self.notifications_duplicated == self.events_missing == 0


async def wait_for_outbox(pool: asyncpg.Pool, timeout: float) -> None:
    """Until nothing waits in the outbox, or ``timeout``: what is still pending then counts as missing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = await pool.fetchval(
            "SELECT (SELECT count(*) FROM notifications WHERE status = 'pending')"
            " + (SELECT count(*) FROM event_deliveries WHERE status = 'pending')")
        if waiting == 0:
            return
        await asyncio.sleep(1.0)


async def check_outbox(pool: asyncpg.Pool, codes: list[str], root: Path) -> OutboxCheck:
    async with pool.acquire() as conn:
        unwritten_messages = await conn.fetchval(
            "SELECT count(*) FROM audit_events a JOIN dossier_contacts c ON c.dossier_code = a.dossier_code"
            " LEFT JOIN notifications n ON n.dossier_code = a.dossier_code AND n.step = a.event_key"
            " WHERE a.dossier_code = ANY($1) AND a.action = ANY($2) AND c.channel = 'email'"
            " AND n.notification_id IS NULL", codes, list(TOLD))
        messages = await conn.fetch("SELECT dossier_code, step, message_id FROM notifications"
                                    " WHERE dossier_code = ANY($1) AND channel = 'email'", codes)
        unwritten_events = await conn.fetchval(
            "SELECT count(*) FROM audit_events a LEFT JOIN events e"
            " ON e.dossier_code = a.dossier_code AND e.source = a.event_key"
            " WHERE a.dossier_code = ANY($1) AND trail_event_type(a.action) IS NOT NULL AND e.sequence IS NULL",
            codes)
        events = [str(r["event_id"]) for r in await conn.fetch(
            "SELECT event_id FROM events WHERE dossier_code = ANY($1)", codes)]
    filed = message_ids(root / "mailbox")
    expected = {row["message_id"] for row in messages if row["message_id"]}
    unsent = sum(row["message_id"] is None for row in messages)
    received = taken(root / "subscriber.jsonl")
    return OutboxCheck(
        notifications_sent=len(expected),
        notifications_missing=unwritten_messages + unsent + sum(1 for m in expected if m not in filed),
        notifications_duplicated=sum(n - 1 for m, n in filed.items() if m in expected),
        events_delivered=sum(e in received for e in events),
        events_missing=unwritten_events + sum(e not in received for e in events),
    )
