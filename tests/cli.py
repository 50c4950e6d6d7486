"""Running the ``cutru`` console command as a user would, against the session's Temporal and database."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from cutru import cli
from cutru.platform.config import TEMPORAL_VARIABLES, Settings

# The console script pip installed beside this interpreter ([project.scripts] in pyproject.toml).
CUTRU = Path(sys.executable).parent / "cutru"


def cutru_env(settings: Settings, state_dir: Path, **overrides: str) -> dict[str, str]:
    """The test's settings as environment variables; nothing of the developer's shell or profile file leaks in."""
    env = {k: v for k, v in os.environ.items() if k not in TEMPORAL_VARIABLES}
    env.update(TEMPORAL_ADDRESS=settings.temporal_address, TEMPORAL_NAMESPACE=settings.namespace,
               TEMPORAL_CONFIG_FILE=str(state_dir / "no-such-temporal.toml"), CUTRU_TASK_QUEUE=settings.task_queue,
               DATABASE_URL=settings.database_url, CUTRU_STATE_DIR=str(state_dir))
    env.update(overrides)
    return env


def run_cutru(env: dict[str, str], *args: str, program: tuple[str, ...] = (str(CUTRU),),
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*program, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


async def cutru(env: dict[str, str], *args: str, program: tuple[str, ...] = (str(CUTRU),),
                ) -> subprocess.CompletedProcess[str]:
    """Off the event loop: a worker under test runs on it and must answer while the command waits."""
    return await asyncio.to_thread(run_cutru, env, *args, program=program)


class _ThreadOutput(io.TextIOBase):
    """Stands in for stdout or stderr while a command runs in this process: what the command's thread writes is
    kept, what other threads write (a worker's logs) goes where it went."""

    def __init__(self, replaced: TextIO) -> None:
        self.replaced = replaced
        self.kept = io.StringIO()
        self.thread = threading.get_ident()

    def write(self, text: str) -> int:
        target = self.kept if threading.get_ident() == self.thread else self.replaced
        return target.write(text)

    def flush(self) -> None:
        self.replaced.flush()


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _main_here(env: dict[str, str], args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    out, err = _ThreadOutput(sys.stdout), _ThreadOutput(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        with _environment(env):
            try:
                code = cli.main(list(args))
            except SystemExit as usage:  # argparse's refusal of a command line
                code = usage.code if isinstance(usage.code, int) else 2
    finally:
        sys.stdout, sys.stderr = out.replaced, err.replaced
    return subprocess.CompletedProcess(["cutru", *args], code, out.kept.getvalue(), err.kept.getvalue())


def run_cutru_here(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command's ``main(args)`` in this process under ``env``, answered as ``run_cutru`` answers: for tests of
    what a command says and exits with where the process around it is not what they are about (each process start
    imports the command's modules again, seconds under load). In a thread of its own, whose event loop the
    command's ``asyncio.run`` makes and ends, not the caller's."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(_main_here, env, args).result()


async def cutru_here(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``run_cutru_here`` off the event loop, where a worker under test runs."""
    return await asyncio.to_thread(run_cutru_here, env, *args)


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port that refuses every connection while the block lasts: bound by this process and never listened on, so
    that no server started meanwhile (by this test or another running beside it) can take it, as it could take a
    ``closed_port`` between two of a dispatcher's retries."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (a ``refusing_port`` released at once): for an address tried at once, or one a
    server of the test's own is to take later."""
    with refusing_port() as port:
        return port
