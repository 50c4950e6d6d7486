"""Files that must outlive a power cut once their writer returns: the forms (``activities.delivery``) and the
attachments' file store (``cutru.platform.storage``).

A file's bytes are durable once the file is flushed; its name, after a rename, only once the directory holding it is
flushed, and a new directory's own name once its parent is (POSIX leaves both to the caller). The writers rename
first and flush after: readers see the whole file from the rename on, and a journalling file system (ext4, XFS)
commits the bytes and the new names together at the file's flush, so the directories' flushes find them committed
and cost next to nothing (docs/reliability.md has the measurement).
"""

from __future__ import annotations

import os
from pathlib import Path


def make_directories(directory: Path) -> Path:
    """Make ``directory`` and its missing parents; return the deepest of them that existed already, the last
    directory whose entries the new ones changed (``directory`` itself when nothing was made)."""
    existing = directory
    while not existing.is_dir():
        existing = existing.parent
    if existing != directory:
        directory.mkdir(parents=True, exist_ok=True)
    return existing


def _flush(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_durable(target: Path, existed: Path, fd: int | None = None) -> None:
    """Flush ``target`` (through ``fd`` when its writer holds it open), then every directory from its own up to
    ``existed`` (``make_directories``' answer), so that its bytes and its name survive a power cut."""
    if fd is None:
        _flush(target, os.O_RDONLY)
    else:
        os.fsync(fd)
    directory = target.parent
    while True:
        _flush(directory, os.O_RDONLY | os.O_DIRECTORY)
        if directory == existed or directory == directory.parent:
            return
        directory = directory.parent
