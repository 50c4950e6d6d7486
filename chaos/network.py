"""A TCP proxy between the workers and PostgreSQL that can drop every packet or slow every one down.

``drop()`` stops moving bytes both ways, on the connections open and on new ones, without closing anything: no
refusal, no reset, no answer, as a partitioned network or a hung host gives; ``heal()`` moves what was held (as TCP's
retransmissions would) and goes on. ``slow(seconds)`` delays each chunk by that much both ways (a saturated link or
an overloaded server), ``heal()`` ends it. Used by the campaign (``chaos.faults``) and by
``tests/integration/test_database_blackhole.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit


class BlackHole:
    """A TCP proxy on 127.0.0.1 to ``host:port``, or to the Unix socket ``host`` names when ``port`` is None (see
    the module)."""

    def __init__(self, host: str, port: int | None) -> None:
        self.upstream = (host, port)
        self.open = asyncio.Event()
        self.open.set()
        self.delay = 0.0
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    def drop(self) -> None:
        self.open.clear()

    def slow(self, seconds: float) -> None:
        self.delay = seconds

    def heal(self) -> None:
        self.delay = 0.0
        self.open.set()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await self.open.wait()  # a connection made into the black hole: accepted by the kernel, then silence
        host, port = self.upstream
        try:
            if port is None:
                up_reader, up_writer = await asyncio.open_unix_connection(host)
            else:
                up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self.open.wait()
                data = await source.read(65536)
                if not data:
                    break
                if self.delay:
                    await asyncio.sleep(self.delay)
                await self.open.wait()  # read just before the drop: held, not delivered
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()


def through(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}"))
