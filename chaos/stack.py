"""The campaign's private processes: a file-backed Temporal dev server, a local PostgreSQL, worker processes.

Nothing here touches the machine's shared services (the development PostgreSQL on 5432, the local stack of
``make up``, other test runs): every port is free-chosen, every file lives in the campaign's own directory, and each
process can be killed and started again on the same durable state.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from cutru_local.postgres import LocalPostgres
from cutru_local.stack import dev_server_args, port_open, temporal_binary

from cutru.platform.config import PROJECT_ROOT

DATABASE = "cutru"
# fsync=off: the campaign kills processes, not the machine, so the OS page cache keeps every committed write;
# PostgreSQL's crash recovery after ``stop("immediate")`` still replays the WAL as after a real crash.
POSTGRES_SETTINGS = {"fsync": "off", "max_connections": "200"}


def private_postgres(directory: Path) -> LocalPostgres:
    """The campaign's own cluster (cutru_local.postgres), stopped and started by the fault injector."""
    return LocalPostgres(directory, POSTGRES_SETTINGS)


class StackError(RuntimeError):
    """A private process did not start; the message names its log file."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_started(process: subprocess.Popen[bytes], port: int, timeout: float, what: str, log_path: Path) -> None:
    """Until ``process`` listens on ``port``; StackError, with its log's tail, when it exits or ``timeout`` passes
    first."""
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise StackError(f"the {what} did not start; {log_path}:\n{_tail(log_path)}")
        time.sleep(0.05)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class PrivateTemporal:
    """``temporal server start-dev`` on a SQLite file (WAL): SIGKILL loses nothing that was acknowledged."""

    def __init__(self, directory: Path, namespace: str = "default") -> None:
        self.directory = directory
        self.namespace = namespace
        self.port = free_port()
        self.db_file = directory / "temporal.db"
        self.log_path = directory / "temporal.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in kill()
        args = dev_server_args(self.db_file, self.port, None, self.namespace)
        self._process = subprocess.Popen(
            [temporal_binary(), "server", "start-dev", *args],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killpg reaches the whole server
        )
        wait_started(self._process, self.port, timeout, "Temporal dev server", self.log_path)

    def kill(self) -> None:
        """SIGKILL, as a machine or container crash would: no shutdown, no flush beyond what SQLite committed."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class WorkerProcess:
    """cutru's worker (``chaos.worker``: its gateway confirms each order ``auto_confirm_seconds`` after it was
    created) with the campaign's environment, which a rolling restart may change; its log goes to a file of its
    own."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path, *, auto_confirm_seconds: float) -> None:
        self.name = name
        self.env = env
        self.log_path = log_path
        self.command = [sys.executable, "-m", "chaos.worker", "--auto-confirm-seconds", str(auto_confirm_seconds)]
        self.starts = 0
        self.pids: list[int] = []  # every process this worker has been: histories name workers by "pid@host"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def exited_by_itself(self) -> bool:
        """It was started and is gone without our kill (e.g. no database at start-up): the supervisor restarts it."""
        return self._process is not None and self._process.poll() is not None

    def start(self) -> None:
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed on the next start/kill
        self._process = subprocess.Popen(
            self.command, env=self.env, cwd=PROJECT_ROOT,
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.starts += 1
        self.pids.append(self._process.pid)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)
        self._process = None
        self._close_log()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM: the worker drains its tasks; SIGKILL if it does not stop in time."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
