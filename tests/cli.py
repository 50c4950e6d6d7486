"""Running the ``cutru`` console command as a user would, against the session's Temporal and database."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

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


def closed_port() -> int:
    """A port nothing listens on (bound for a moment by this process, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
