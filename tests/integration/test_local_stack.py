"""``cutru stack up|status|down`` (here as ``python -m cutru_local``): the stack hands its addresses on through
``.cutru/env`` and a Temporal envconfig profile, which the product's processes and the ``temporal`` CLI read with
nothing else set; its API serves the contract and refuses a write without a token."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cutru_local.postgres import LocalPostgres

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# What a shell that never heard of the stack has: none of the variables the stack hands on.
_STACK_VARIABLES = ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE",
                    "DATABASE_URL", "CUTRU_DOCUMENT_DIR", "CUTRU_STATE_DIR")

pytestmark = pytest.mark.timeout(180)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bare_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STACK_VARIABLES}
    return {**env, **extra}


def _local(state: Path, ports: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutru_local", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120, check=False, env=_bare_env(CUTRU_STATE_DIR=str(state), **ports))


def test_the_stack_hands_its_addresses_on_and_goes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ports = {name: str(_free_port()) for name in ("CUTRU_TEMPORAL_PORT", "CUTRU_UI_PORT", "CUTRU_OIDC_PORT",
                                                  "CUTRU_PAYMENT_GATEWAY_PORT", "CUTRU_API_PORT", "CUTRU_SMTP_PORT",
                                                  "CUTRU_SMS_PORT", "CUTRU_POSTAL_PORT")}
    up = _local(state, ports, "--output", "json", "stack", "up")
    try:
        assert up.returncode == 0, up.stderr
        stack = json.loads(up.stdout)
        assert stack["embedded_postgres"] and stack["temporal_address"].endswith(ports["CUTRU_TEMPORAL_PORT"])
        assert stack["api_url"] == f"http://127.0.0.1:{ports['CUTRU_API_PORT']}"
        assert stack["oidc_issuer"] == f"http://127.0.0.1:{ports['CUTRU_OIDC_PORT']}"
        assert stack["payment_gateway_url"] == f"http://127.0.0.1:{ports['CUTRU_PAYMENT_GATEWAY_PORT']}"
        contract = httpx.get(f"{stack['api_url']}/openapi.json", timeout=10)
        assert contract.status_code == 200 and contract.json()["openapi"].startswith("3.1")
        anonymous = httpx.post(f"{stack['api_url']}/v1/dossiers", json={}, timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        assert anonymous.json()["status"] == 401
        env_file = Path(stack["env_file"])
        env_text = env_file.read_text()
        assert f"CUTRU_API_URL={stack['api_url']}" in env_text and "CUTRU_PAYLOAD_KEYS=" in env_text
        assert f"CUTRU_SMTP_PORT={ports['CUTRU_SMTP_PORT']}" in env_text and "CUTRU_SMS_SECRET_KEY=" in env_text
        assert f"CUTRU_POSTAL_URL=http://127.0.0.1:{ports['CUTRU_POSTAL_PORT']}" in env_text
        # The product's worker, given nothing but what the env file says (as `make worker` runs it).
        check = subprocess.run(["sh", "-c", f'set -a && . "{env_file}" && set +a && exec "$0" worker.py --check',
                                sys.executable], cwd=PROJECT_ROOT, env=_bare_env(), capture_output=True, text=True,
                               timeout=60, check=False)
        assert (check.returncode, check.stdout.strip()) == (0, "healthy"), check.stderr
        # The temporal CLI, given nothing but the profile file.
        profile = state / "temporal.toml"
        cli = subprocess.run([str(Path(sys.executable).parent / "temporal"), "workflow", "list", "--limit", "1"],
                             env=_bare_env(TEMPORAL_CONFIG_FILE=str(profile)), capture_output=True, text=True,
                             timeout=60, check=False)
        assert cli.returncode == 0, cli.stderr
        status = _local(state, ports, "--output", "json", "stack", "status")
        assert status.returncode == 0 and json.loads(status.stdout)["running"] is True
    finally:
        down = _local(state, ports, "stack", "down", "--delete")
    assert down.returncode == 0, down.stderr
    assert not state.exists()
    assert not LocalPostgres(state / "postgres").home.exists()
    gone = _local(state, ports, "--output", "json", "stack", "status")
    assert gone.returncode == 3 and json.loads(gone.stdout) == {"running": False}
