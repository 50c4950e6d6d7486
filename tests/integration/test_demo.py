"""``cutru demo`` (here as ``python -m cutru_local demo``) on a stack of its own: every dossier goes through the API
with tokens from the local provider, and each ends as its scenario says."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cutru_local.demo import EXAMPLE_SCENARIOS, load_examples

PROJECT_ROOT = Path(__file__).resolve().parents[2]
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


def _local(state: Path, ports: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutru_local", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=540, check=False, env=_bare_env(CUTRU_STATE_DIR=str(state), **ports))


def test_every_dossier_goes_through_the_api_to_its_end(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ports = {name: str(_free_port()) for name in ("CUTRU_TEMPORAL_PORT", "CUTRU_UI_PORT", "CUTRU_OIDC_PORT",
                                                  "CUTRU_PAYMENT_GATEWAY_PORT", "CUTRU_API_PORT")}
    try:
        demo = _local(state, ports, "demo")
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
    finally:
        down = _local(state, ports, "stack", "down", "--delete")
    assert down.returncode == 0, down.stderr
    assert set(rows) == set(_SEEDED) | {EXAMPLE_SCENARIOS[p] for p in load_examples()}
    for scenario, (status, documents) in _SEEDED.items():
        assert (rows[scenario]["status"], rows[scenario]["documents"]) == (status, documents), scenario
    assert rows["own residence, approved, fee paid"]["fee"] == "10,000"
    for procedure in load_examples():
        assert rows[EXAMPLE_SCENARIOS[procedure]]["status"] == "completed", procedure
    api = f"http://127.0.0.1:{ports['CUTRU_API_PORT']}"
    assert f"through the API at {api} with tokens from http://127.0.0.1:{ports['CUTRU_OIDC_PORT']}" in demo.stdout


def _rows(stdout: str) -> dict[str, dict[str, str]]:
    """The summary's rows by scenario."""
    rows = {}
    for line in stdout.splitlines():
        match = _ROW.match(line)
        if match:
            scenario = next(s for s in [*_SEEDED, *EXAMPLE_SCENARIOS.values()] if f" {s} " in line)
            rows[scenario] = match.groupdict()
    return rows
