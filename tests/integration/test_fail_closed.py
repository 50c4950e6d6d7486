"""Encryption fails closed: no worker without keys, and nothing that arrives in clear is processed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from cutru_local.stack import temporal_binary
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cutru.clients.client import DossierClient
from cutru.platform.codec import KeyConfigError
from cutru.platform.config import Settings
from domain.models import DossierState, TrailAction
from tests.factories import head_signs, worker_env
from tests.integration.test_permanent_registration import approve, own_residence_dossier, wait_state
from worker import build_worker
from workflows.lifecycle import UNENCRYPTED

WORKER = str(Path(__file__).resolve().parents[2] / "worker.py")


async def temporal_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """In a thread: the test's worker runs on this event loop and must go on working meanwhile."""
    return await asyncio.to_thread(subprocess.run, [temporal_binary(), *args], capture_output=True, text=True,
                                   timeout=60, check=False)


async def test_a_dossier_started_in_clear_is_refused_at_once(client: Client, settings: Settings, worker: object,
                                                             pool: asyncpg.Pool, tmp_path: Path):
    """``temporal workflow start --input-file``: the JSON reaches the server in clear, and the worker refuses it as
    an invalid dossier instead of processing it."""
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    (tmp_path / "submission.json").write_text(json.dumps(submission))
    started = await temporal_cli(
        "workflow", "start", "--address", settings.temporal_address, "--namespace", settings.namespace,
        "--type", submission["procedure"], "--task-queue", settings.task_queue, "--workflow-id", code,
        "--input-file", str(tmp_path / "submission.json"))
    assert started.returncode == 0, started.stderr
    outcome = await DossierClient(client, settings.task_queue).result(code)
    assert outcome.state == DossierState.REFUSED
    assert [(r.code, r.message) for r in outcome.refusals] == [("invalid_submission", UNENCRYPTED)]
    assert "unencrypted" in UNENCRYPTED
    # Refused before any check: the applicant was never looked up, nothing of it entered the read model.
    assert await pool.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = $1", code) == 0


async def test_a_signal_or_update_in_clear_changes_nothing_and_fails_no_task(
        client: Client, settings: Settings, worker: object, pool: asyncpg.Pool):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    dossiers = DossierClient(client, settings.task_queue)
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    applicant = submission["applicant"]["personal_id"]
    signalled = await temporal_cli(
        "workflow", "signal", "--address", settings.temporal_address, "--namespace", settings.namespace,
        "--workflow-id", code, "--name", "withdraw", "--input", json.dumps({"reason": "x", "applicant_id": applicant}))
    assert signalled.returncode == 0, signalled.stderr  # the server takes it; the worker drops it
    plain = await Client.connect(settings.temporal_address, namespace=settings.namespace,
                                 data_converter=pydantic_data_converter)
    with pytest.raises(Exception, match="update failed"):
        await plain.get_workflow_handle(code).execute_update("decide", approve().model_dump(mode="json"))

    await dossiers.decide(code, approve())  # the dossier goes on: signed, encrypted
    await head_signs(dossiers, pool, code)
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    history = (await dossiers.handle(code).fetch_history()).events
    assert not any(e.HasField("workflow_task_failed_event_attributes") for e in history)
    assert TrailAction.WITHDRAWN not in [e.action for e in (await dossiers.status(code)).trail]


async def test_the_worker_needs_an_encrypting_client(settings: Settings, pool: asyncpg.Pool):
    plain = await Client.connect(settings.temporal_address, namespace=settings.namespace,
                                 data_converter=pydantic_data_converter)
    with pytest.raises(KeyConfigError, match="does not encrypt"):
        build_worker(plain, settings, pool)


@pytest.mark.parametrize("missing", ["CUTRU_PAYLOAD_KEYS", "CUTRU_DECISION_KEYS"])
@pytest.mark.parametrize("check", [False, True])
def test_the_worker_does_not_start_without_keys(settings: Settings, missing: str, check: bool):
    env = {name: value for name, value in worker_env(settings).items() if name != missing}
    done = subprocess.run([sys.executable, WORKER, *(["--check"] if check else [])], env=env, capture_output=True,
                          text=True, timeout=60, check=False, cwd=os.getcwd())
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert missing in lines[0] and "generate-key" in lines[0]
    assert lines[0].startswith("unhealthy: " if check else "cutru worker: ")
