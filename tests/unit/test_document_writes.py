"""A document's write waits for the disk (fsync) in a thread of its own, never on the worker's event loop, which
every workflow activation and activity of the process shares."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path

import pytest

from activities import delivery
from domain import documents
from domain.documents import RenderedDocument
from domain.kinds import DocumentKind


def _document(directory: Path) -> RenderedDocument:
    content = b"%PDF-1.4 a receipt"
    return RenderedDocument(path=directory / "HS-1" / "CT04.pdf", sha256=hashlib.sha256(content).hexdigest(),
                            size=len(content), content=content)


async def test_the_event_loop_runs_while_a_document_is_written(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_write(document: RenderedDocument) -> None:  # a disk that takes its time
        started.set()
        release.wait(5)

    monkeypatch.setattr(documents, "write", slow_write)
    writing = asyncio.create_task(delivery.write_documents([(DocumentKind.CT04, _document(tmp_path))]))
    assert await asyncio.to_thread(started.wait, 5)
    # Written on the loop, the write would have held it until its wait ran out, and be done by now.
    assert not writing.done()
    release.set()
    await writing


async def test_the_written_document_holds_the_rendered_bytes(tmp_path: Path) -> None:
    document = _document(tmp_path)
    await delivery.write_documents([(DocumentKind.CT04, document)])
    assert document.path.read_bytes() == document.content
