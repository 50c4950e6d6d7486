"""The ClamAV client's side of clamd's INSTREAM protocol (clamd's manual page): ``zINSTREAM\\0``, then chunks each
prefixed with its length as four big-endian bytes, a zero-length chunk to end, one NUL-terminated reply. A small
server that reads exactly that framing and answers as clamd does stands in for the daemon, which this machine does
not run."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cutru.platform.storage import CHUNK, ClamdScanner, ScannerUnavailable
from domain.attachments import EICAR
from tests.attachment_files import eicar_pdf, pdf


class Instream:
    """Reads one INSTREAM session per connection; remembers the chunk sizes it saw."""

    def __init__(self, reply: bytes | None = None) -> None:
        self.reply = reply
        self.chunks: list[int] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readexactly(10) == b"zINSTREAM\0"
        data = b""
        while (size := struct.unpack(">I", await reader.readexactly(4))[0]) > 0:
            self.chunks.append(size)
            data += await reader.readexactly(size)
        verdict = self.reply or (b"stream: Eicar-Signature FOUND" if EICAR in data else b"stream: OK")
        writer.write(verdict + b"\0")
        await writer.drain()
        writer.close()


@pytest.fixture
async def clamd() -> AsyncIterator[tuple[Instream, str]]:
    daemon = Instream()
    server = await asyncio.start_server(daemon.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield daemon, f"tcp://127.0.0.1:{port}"


async def test_a_clean_file_and_an_infected_one(clamd: tuple[Instream, str], tmp_path: Path):
    daemon, address = clamd
    clean, infected = tmp_path / "clean.pdf", tmp_path / "infected.pdf"
    clean.write_bytes(pdf(extra=b"/Pad <" + b"0f" * 100_000 + b"> "))  # several chunks
    infected.write_bytes(eicar_pdf())
    scanner = ClamdScanner(address)
    assert await scanner.scan(clean) is None
    assert max(daemon.chunks) <= CHUNK and len(daemon.chunks) > 1
    assert await scanner.scan(infected) == "Eicar-Signature"


async def test_no_verdict_means_nothing_is_stored(clamd: tuple[Instream, str], tmp_path: Path):
    daemon, address = clamd
    path = tmp_path / "scan.pdf"
    path.write_bytes(pdf())
    daemon.reply = b"INSTREAM size limit exceeded. ERROR"
    with pytest.raises(ScannerUnavailable, match="size limit"):
        await ClamdScanner(address).scan(path)
    with pytest.raises(ScannerUnavailable, match="did not answer"):
        await ClamdScanner("tcp://127.0.0.1:9").scan(path)
    with pytest.raises(ValueError, match="neither"):
        ClamdScanner("http://clamd:3310")
