"""The bench's own stack in a temporary directory, its worker processes, and what each process costs.

Nothing here touches the project's ``.cutru/`` stack: the dev server listens on a free port with its SQLite file in
the temporary directory, the database is created for this run (and dropped after it), and every process started
here is stopped by its own pid.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil
from cutru_local.postgres import LocalPostgres, server_url, with_database
from cutru_local.stack import dev_server_args, temporal_binary, wait_for_port

NAMESPACE = "default"
SAMPLE_INTERVAL = 0.2  # seconds between RSS samples: short phases still get a dozen samples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ---- Temporal ----------------------------------------------------------------------------------------------------


@dataclass
class TemporalServer:
    """``temporal server start-dev`` on a SQLite file with the WAL pragmas, exactly as ``make up`` runs it."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls, directory: Path) -> TemporalServer:
        port = free_port()
        log = directory / "temporal.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [temporal_binary(), "server", "start-dev",
                 *dev_server_args(directory / "temporal.db", port, None, NAMESPACE)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        try:
            wait_for_port(port, timeout=60)
        except SystemExit:
            process.kill()
            raise SystemExit(f"the Temporal dev server did not start:\n{_tail(log)}") from None
        return cls(process=process, port=port, log=log)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def cli_version() -> str:
    result = subprocess.run([temporal_binary(), "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip() or "temporal (version unknown)"


# ---- PostgreSQL --------------------------------------------------------------------------------------------------


@dataclass
class Database:
    """A database of its own on DATABASE_URL's server, 127.0.0.1:5432 when reachable, else a local cluster."""

    server_url: str
    url: str
    name: str
    source: str
    embedded: LocalPostgres | None = None  # the local cluster, when neither server was there: removed at ``drop``

    @classmethod
    async def create(cls, directory: Path, name: str) -> Database:
        # The same choice as the test suite (tests/conftest.py): a running server first, the local cluster last.
        server, source, embedded = server_url(directory / "postgres")
        admin = await asyncpg.connect(server)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        return cls(server_url=server, url=with_database(server, name), name=name,
                   source=source, embedded=embedded)

    async def drop(self) -> None:
        try:
            admin = await asyncpg.connect(self.server_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            finally:
                await admin.close()
        finally:
            if self.embedded is not None:
                self.embedded.remove()

    async def backend_ports(self) -> dict[int, int | None]:
        """Server processes serving this database's connections (the workers' pools, the driver's own), each with
        its client's TCP port (None for a Unix socket)."""
        conn = await asyncpg.connect(self.url)
        try:
            rows = await conn.fetch(
                "SELECT pid, client_port FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                self.name,
            )
        finally:
            await conn.close()
        return {int(r["pid"]): r["client_port"] for r in rows}


# ---- worker processes --------------------------------------------------------------------------------------------


@dataclass
class WorkerProcesses:
    """``count`` copies of one worker command, each with its own log file; with several ``roles``
    (``CUTRU_WORKER_ROLE``), ``count`` copies for each role."""

    name: str
    command: Sequence[str]
    env: Mapping[str, str]
    count: int
    directory: Path
    cwd: Path
    roles: Sequence[str] = ("all",)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self) -> None:
        for index in range(self.count * len(self.roles)):
            log = self.directory / f"{self.name}-{index}.log"
            env = {**self.env, "CUTRU_WORKER_ROLE": self.roles[index % len(self.roles)]}
            with log.open("ab") as out:
                self.processes.append(subprocess.Popen(
                    list(self.command), env=env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                ))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def check_alive(self) -> None:
        for index, process in enumerate(self.processes):
            if process.poll() is not None:
                log = self.directory / f"{self.name}-{index}.log"
                raise SystemExit(f"worker {self.name}-{index} exited with {process.returncode}:\n{_tail(log)}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


# ---- accounting --------------------------------------------------------------------------------------------------


def local_ports(pids: Iterable[int]) -> set[int]:
    """The local TCP ports of these processes' connections: what a database backend sees as its client's port."""
    ports: set[int] = set()
    for pid in pids:
        try:
            ports.update(c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp") if c.raddr)
        except psutil.Error:
            continue
    return ports


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process; 0 when it is gone (its CPU is then lost, which the caller avoids)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0
    return float(times.user + times.system)


def rss_bytes(pid: int) -> int:
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def peak_rss_bytes(pid: int) -> int:
    """The kernel's high-water mark of resident memory over the process's life (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds spent by the whole machine outside idle and I/O wait, summed over all CPUs."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
                 + getattr(t, "steal", 0.0))


@dataclass
class GroupUsage:
    cpu_seconds: float
    peak_rss_bytes: int  # the largest single process, sampled and from VmHWM
    processes: int


class PhaseMeter:
    """CPU and peak memory of process groups over one phase, and how busy the rest of the machine was.

    CPU is read at the start and the end of the phase (per pid, so a pid that appears during the phase counts from
    zero). Resident memory is sampled every ``SAMPLE_INTERVAL`` seconds; for processes that live only during the
    phase, the kernel's high-water mark (VmHWM) is used as well, since it misses no spike.
    """

    def __init__(self, groups: Mapping[str, Iterable[int]], *, phase_only: Iterable[str] = ()) -> None:
        self._groups = {name: list(pids) for name, pids in groups.items()}
        self._phase_only = set(phase_only)
        self._cpu_start: dict[int, float] = {}
        self._peak: dict[int, int] = {}
        self._busy_start = 0.0
        self._started = 0.0
        self._sampler: asyncio.Task[None] | None = None

    def add(self, group: str, pids: Iterable[int]) -> None:
        self._groups.setdefault(group, []).extend(pids)

    def start(self) -> None:
        self._busy_start = machine_busy_seconds()
        self._started = time.monotonic()
        for pids in self._groups.values():
            for pid in pids:
                self._cpu_start[pid] = cpu_seconds(pid)
        self._sampler = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            for pids in self._groups.values():
                for pid in pids:
                    self._peak[pid] = max(self._peak.get(pid, 0), rss_bytes(pid))
            await asyncio.sleep(SAMPLE_INTERVAL)

    async def stop(self) -> tuple[dict[str, GroupUsage], float]:
        """Usage per group, and the CPU seconds the rest of the machine used meanwhile."""
        if self._sampler is not None:
            self._sampler.cancel()
            try:
                await self._sampler
            except asyncio.CancelledError:
                pass
        busy = machine_busy_seconds() - self._busy_start
        # Per process, once: a process may be in two groups (a worker's database backends are in "postgres" too),
        # and the rest of the machine is what none of them used.
        used = {pid: max(cpu_seconds(pid) - self._cpu_start.get(pid, 0.0), 0.0)
                for pid in {pid for pids in self._groups.values() for pid in pids}}
        usage: dict[str, GroupUsage] = {}
        for name, pids in self._groups.items():
            peaks = [self._peak.get(pid, 0) for pid in pids]
            if name in self._phase_only:
                peaks += [peak_rss_bytes(pid) for pid in pids]
            usage[name] = GroupUsage(cpu_seconds=sum(used[pid] for pid in pids), peak_rss_bytes=max(peaks, default=0),
                                     processes=len(pids))
        return usage, max(busy - sum(used.values()), 0.0)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started
