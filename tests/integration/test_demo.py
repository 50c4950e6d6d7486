"""The local stack and the demo on it, as a developer runs them (here as ``python -m cutru_local``), on one stack of
the module's own (a stack's start costs seconds, so the tests take turns on it, in order):

- ``cutru stack up|status``: the stack hands its addresses on through ``.cutru/env`` and a Temporal envconfig
  profile, which the product's processes and the ``temporal`` CLI read with nothing else set; its API serves the
  contract and refuses a write without a token;
- ``cutru demo``: every dossier goes through the API with tokens from the local provider, and each ends as its
  scenario says;
- ``cutru stack down --delete``: the stack goes and leaves nothing behind.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cutru_local.demo import EXAMPLE_SCENARIOS, load_examples
from cutru_local.postgres import LocalPostgres

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# What a shell that never heard of the stack has: none of the variables the stack hands on.
_STACK_VARIABLES = ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE",
                    "DATABASE_URL", "CUTRU_DOCUMENT_DIR", "CUTRU_STATE_DIR", "CUTRU_API_URL", "CUTRU_OIDC_ISSUER",
                    "CUTRU_PAYLOAD_KEYS", "CUTRU_DECISION_KEYS", "CUTRU_PAYMENT_GATEWAY_URL")
_ROW = re.compile(r"^(?P<code>HS-DEMO-[0-9A-F]{8}) .*? (?P<status>completed|refused|withdrawn|cancelled) +"
                  r"(?P<fee>[0-9,]+) (?P<documents>\S+) +(?P<seconds>[0-9.]+)$")
# The seeded scenarios' final status and documents; every example ends completed.
_SEEDED = {
    "own residence, approved, fee paid": ("completed", "CT04,CT08"),
    "joins a relative's household": ("completed", "CT04,CT08"),
    "supplement requested, then approved": ("completed", "CT04,CT05,CT08"),
    "rejected by the officer": ("refused", "CT04,CT06"),
    "withdrawn by the applicant": ("withdrawn", "CT04"),
    "refused: rental contract not certified": ("refused", "CT06"),
    "hotel notifies a guest (stay register)": ("completed", "-"),
}

pytestmark = pytest.mark.timeout(600)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bare_env(**extra: str) -> dict[str, str]:
    """This process's environment without the variables that point at a stack, plus ``extra``."""
    return {k: v for k, v in os.environ.items() if k not in _STACK_VARIABLES} | extra


def _local(state: Path, ports: dict[str, str], *args: str, timeout: float = 120,
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutru_local", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False, env=_bare_env(CUTRU_STATE_DIR=str(state), **ports))


@dataclass(frozen=True)
class Stack:
    state: Path
    ports: dict[str, str]
    up: subprocess.CompletedProcess[str]  # what `stack up` answered

    def local(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return _local(self.state, self.ports, *args, timeout=timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """``stack up`` on free ports in a state directory of the module's own; stopped at the end if a test has not
    stopped it."""
    state = tmp_path_factory.mktemp("local") / "state"
    ports = {name: str(_free_port()) for name in ("CUTRU_TEMPORAL_PORT", "CUTRU_UI_PORT", "CUTRU_OIDC_PORT",
                                                  "CUTRU_PAYMENT_GATEWAY_PORT", "CUTRU_API_PORT", "CUTRU_SMTP_PORT",
                                                  "CUTRU_SMS_PORT", "CUTRU_POSTAL_PORT")}
    up = _local(state, ports, "--output", "json", "stack", "up")
    try:
        yield Stack(state, ports, up)
    finally:
        if state.exists():
            _local(state, ports, "stack", "down", "--delete")


def test_the_stack_hands_its_addresses_on(stack: Stack) -> None:
    up, ports, state = stack.up, stack.ports, stack.state
    assert up.returncode == 0, up.stderr
    addresses = json.loads(up.stdout)
    assert addresses["embedded_postgres"] and addresses["temporal_address"].endswith(ports["CUTRU_TEMPORAL_PORT"])
    assert addresses["api_url"] == f"http://127.0.0.1:{ports['CUTRU_API_PORT']}"
    assert addresses["oidc_issuer"] == f"http://127.0.0.1:{ports['CUTRU_OIDC_PORT']}"
    assert addresses["payment_gateway_url"] == f"http://127.0.0.1:{ports['CUTRU_PAYMENT_GATEWAY_PORT']}"
    contract = httpx.get(f"{addresses['api_url']}/openapi.json", timeout=10)
    assert contract.status_code == 200 and contract.json()["openapi"].startswith("3.1")
    anonymous = httpx.post(f"{addresses['api_url']}/v1/dossiers", json={}, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert anonymous.json()["status"] == 401
    env_file = Path(addresses["env_file"])
    env_text = env_file.read_text()
    assert f"CUTRU_API_URL={addresses['api_url']}" in env_text and "CUTRU_PAYLOAD_KEYS=" in env_text
    assert f"CUTRU_SMTP_PORT={ports['CUTRU_SMTP_PORT']}" in env_text and "CUTRU_SMS_SECRET_KEY=" in env_text
    assert f"CUTRU_POSTAL_URL=http://127.0.0.1:{ports['CUTRU_POSTAL_PORT']}" in env_text
    # The product's worker, given nothing but what the env file says (as `make worker` runs it).
    check = subprocess.run(["sh", "-c", f'set -a && . "{env_file}" && set +a && exec "$0" worker.py --check',
                            sys.executable], cwd=PROJECT_ROOT, env=_bare_env(), capture_output=True, text=True,
                           timeout=60, check=False)
    assert (check.returncode, check.stdout.strip()) == (0, "healthy"), check.stderr
    # The temporal CLI, given nothing but the profile file.
    cli = subprocess.run([str(Path(sys.executable).parent / "temporal"), "workflow", "list", "--limit", "1"],
                         env=_bare_env(TEMPORAL_CONFIG_FILE=str(state / "temporal.toml")), capture_output=True,
                         text=True, timeout=60, check=False)
    assert cli.returncode == 0, cli.stderr
    status = stack.local("--output", "json", "stack", "status")
    assert status.returncode == 0 and json.loads(status.stdout)["running"] is True


def test_every_dossier_goes_through_the_api_to_its_end(stack: Stack) -> None:
    state, ports = stack.state, stack.ports
    assert stack.up.returncode == 0, stack.up.stderr
    demo = stack.local("demo", timeout=540)
    assert demo.returncode == 0, demo.stderr[-3000:]
    rows = _rows(demo.stdout)
    # Each fee was paid on the gateway's payment page, and the gateway's IPN acknowledged by the API.
    journal = [json.loads(line) for line in (state / "payment-gateway.jsonl").read_text().splitlines()]
    paid = {r["transaction"]["result"]["txn_ref"] for r in journal if r["event"] == "transaction"}
    acknowledged = {r["transaction_no"] for r in journal if r["event"] == "acknowledged"}
    assert paid == {f"PAY-{row['code']}" for row in rows.values() if row["fee"] != "0"}
    assert len(acknowledged) == len(paid)
    # Encrypted: the dossier's input is stored as binary/encrypted in Temporal's history.
    history = subprocess.run(
        [str(Path(sys.executable).parent / "temporal"), "workflow", "show", "--output", "json",
         "-w", rows["own residence, approved, fee paid"]["code"]],
        env=_bare_env(TEMPORAL_CONFIG_FILE=str(state / "temporal.toml")), capture_output=True, text=True,
        timeout=60, check=True)
    started = json.loads(history.stdout)["events"][0]["workflowExecutionStartedEventAttributes"]
    encoding = started["input"]["payloads"][0]["metadata"]["encoding"]
    assert base64.b64decode(encoding) == b"binary/encrypted"
    assert set(rows) == set(_SEEDED) | {EXAMPLE_SCENARIOS[p] for p in load_examples()}
    for scenario, (status, documents) in _SEEDED.items():
        assert (rows[scenario]["status"], rows[scenario]["documents"]) == (status, documents), scenario
    assert rows["own residence, approved, fee paid"]["fee"] == "10,000"
    for procedure in load_examples():
        assert rows[EXAMPLE_SCENARIOS[procedure]]["status"] == "completed", procedure
    api = f"http://127.0.0.1:{ports['CUTRU_API_PORT']}"
    assert f"through the API at {api} with tokens from http://127.0.0.1:{ports['CUTRU_OIDC_PORT']}" in demo.stdout


def test_the_stack_goes_and_leaves_nothing(stack: Stack) -> None:
    down = stack.local("stack", "down", "--delete")
    assert down.returncode == 0, down.stderr
    assert not stack.state.exists()
    assert not LocalPostgres(stack.state / "postgres").home.exists()
    gone = stack.local("--output", "json", "stack", "status")
    assert gone.returncode == 3 and json.loads(gone.stdout) == {"running": False}


def _rows(stdout: str) -> dict[str, dict[str, str]]:
    """The summary's rows by scenario."""
    rows = {}
    for line in stdout.splitlines():
        match = _ROW.match(line)
        if match:
            scenario = next(s for s in [*_SEEDED, *EXAMPLE_SCENARIOS.values()] if f" {s} " in line)
            rows[scenario] = match.groupdict()
    return rows
