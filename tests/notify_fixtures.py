"""The outbox's counterparts for the tests: a real SMTP server (aiosmtpd), the local SMS gateway and postal service
as processes, and a worker whose dispatchers deliver to them quickly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from cutru_local import mailbox
from temporalio.client import Client

from activities.notify import Backoff, Outbox, OutboxChannel
from cutru.platform.config import Settings
from cutru.service.worker import build_worker, start_dispatchers
from tests.cli import closed_port
from tests.integration.test_payment_gateway import eventually
from workflows.dispatch import dispatcher_id

__all__ = ["POSTAL_TOKEN", "QUICK", "SMS_KEYS", "MailServer", "carrier", "dispatching", "eventually", "mail_server"]

SMS_KEYS = {"CUTRU_SMS_API_KEY": "test-api-key", "CUTRU_SMS_SECRET_KEY": "test-secret-key"}
POSTAL_TOKEN = "test-postal-token"
# Retries a fraction of a second apart, so that a server that comes back is used at once.
QUICK = Backoff(first=timedelta(milliseconds=200), longest=timedelta(seconds=1), attempts=8)


class MailServer:
    """aiosmtpd on a fixed port, stopped and started again as a crashed and restarted server would be."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.port = closed_port()
        self._server = mailbox.controller(maildir, self.port)

    def start(self) -> None:
        self._server = mailbox.controller(self.maildir, self.port)
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def message_ids(self) -> dict[str, int]:
        return dict(mailbox.message_ids(self.maildir))


@asynccontextmanager
async def mail_server(maildir: Path) -> AsyncIterator[MailServer]:
    server = MailServer(maildir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Carrier:
    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        await self.process.wait()


@asynccontextmanager
async def carrier(kind: str, journal: Path, *args: str) -> AsyncIterator[Carrier]:
    """``python -m cutru_local.carriers <kind>`` on a free port."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cutru_local.carriers", kind, "--port", "0", "--journal", str(journal), *args,
        stderr=asyncio.subprocess.PIPE, env=os.environ | SMS_KEYS | {"CUTRU_POSTAL_TOKEN": POSTAL_TOKEN})
    assert process.stderr is not None
    line = (await asyncio.wait_for(process.stderr.readline(), timeout=30)).decode()
    if f"{kind} on " not in line:
        process.kill()
        raise AssertionError(f"the {kind} carrier did not start: {line}")
    parts = urlsplit(line.split(" on ", 1)[1].strip())
    running = Carrier(process, f"{parts.scheme}://{parts.netloc}")
    try:
        yield running
    finally:
        await running.stop()


@asynccontextmanager
async def dispatching(client: Client, settings: Settings, pool: asyncpg.Pool, outbox: Outbox,
                      channels: list[OutboxChannel], length: timedelta = timedelta(seconds=2)) -> AsyncIterator[None]:
    """A worker with ``outbox`` and its dispatchers for ``channels``, in rounds ``length`` long; the dispatchers are
    ended before the worker, so that it stops at once, and the outbox's webhook lanes after it."""
    try:
        async with build_worker(client, settings, pool, outbox=outbox):
            await start_dispatchers(client, settings.task_queue, channels, poll=timedelta(milliseconds=200),
                                    length=length)
            try:
                yield
            finally:
                for channel in channels:
                    await client.get_workflow_handle(dispatcher_id(settings.task_queue, channel)).terminate()
    finally:
        await outbox.close()
