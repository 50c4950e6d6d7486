"""A dossier driven with nothing but the `temporal` CLI and JSON, as a service in another language would."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
from cutru_local.stack import temporal_binary

from activities.payment import LocalPaymentGateway
from cutru.platform.config import Settings
from tests.integration.test_permanent_registration import own_residence_dossier


async def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Off the event loop: the worker under test runs on it and must answer while the CLI waits."""
    command = [temporal_binary(), *args, "--address", settings.temporal_address, "--namespace", settings.namespace]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)


async def temporal(settings: Settings, *args: str) -> str:
    done = await run_cli(settings, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def state_of(settings: Settings, code: str) -> str:
    out = await temporal(settings, "workflow", "query", "--workflow-id", code, "--name", "status",
                                  "--output", "json")
    result: dict[str, Any] = json.loads(out)
    return str(result["queryResult"][0]["state"])


async def wait_state(settings: Settings, code: str, state: str) -> None:
    for _ in range(100):
        if await state_of(settings, code) == state:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{code} never reached {state}")


async def test_dossier_with_only_the_temporal_cli(settings: Settings, worker, pool: asyncpg.Pool, tmp_path: Path):  # type: ignore[no-untyped-def]
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    input_file = tmp_path / "dossier.json"
    input_file.write_text(json.dumps(submission, ensure_ascii=False), encoding="utf-8")

    await temporal(settings, "workflow", "start", "--type", "PermanentResidenceRegistration", "--task-queue",
             settings.task_queue, "--workflow-id", code, "--input-file", str(input_file))
    await wait_state(settings, code, "awaiting_decision")
    update = await temporal(settings, "workflow", "update", "execute", "--workflow-id", code, "--name", "decide",
                            "--output", "json",
                      "--input", json.dumps({"officer_id": "CB-00070-01", "decision": "approve"}))
    assert json.loads(update)["result"]["accepted"] is True
    await wait_state(settings, code, "awaiting_payment")
    order = await LocalPaymentGateway(pool).pay(code)  # the payment portal
    await temporal(settings, "workflow", "signal", "--workflow-id", code, "--name", "payment_confirmed",
             "--input", json.dumps({"order_id": order.order_id, "amount_vnd": order.amount_vnd}))
    result = json.loads(await temporal(settings, "workflow", "result", "--workflow-id", code, "--output", "json"))
    outcome = result["result"]
    assert outcome["state"] == "completed" and outcome["fee_paid_vnd"] == 10_000


async def test_refused_update_from_the_cli_leaves_no_trace(settings: Settings, worker, pool: asyncpg.Pool,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    input_file = tmp_path / "dossier.json"
    input_file.write_text(json.dumps(submission, ensure_ascii=False), encoding="utf-8")
    await temporal(settings, "workflow", "start", "--type", "PermanentResidenceRegistration", "--task-queue",
             settings.task_queue, "--workflow-id", code, "--input-file", str(input_file))
    await wait_state(settings, code, "awaiting_decision")
    done = await run_cli(settings, "workflow", "update", "execute", "--workflow-id", code, "--name", "decide",
                         "--input", json.dumps({"officer_id": "CB-00070-01", "decision": "reject"}))
    assert done.returncode != 0 and "a rejection needs a reason" in done.stderr + done.stdout
    assert await state_of(settings, code) == "awaiting_decision"
    await temporal(settings, "workflow", "terminate", "--workflow-id", code, "--reason", "test over")
