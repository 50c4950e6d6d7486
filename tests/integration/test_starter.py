"""starter.py: an invalid submission gets field-level errors and nothing is written anywhere."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from cutru.platform.config import PROJECT_ROOT, Settings
from tests.integration.test_permanent_registration import own_residence_dossier


async def starter(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEMPORAL_ADDRESS": settings.temporal_address, "TEMPORAL_NAMESPACE": settings.namespace,
           "CUTRU_TASK_QUEUE": settings.task_queue, "DATABASE_URL": settings.database_url}
    command = [sys.executable, str(PROJECT_ROOT / "starter.py"), *args]
    return await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=60)


async def test_invalid_submission_is_refused_before_anything_starts(
    client: Client, settings: Settings, pool: asyncpg.Pool, tmp_path: Path
):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    submission["applicant"]["sex"] = "male"  # the ID number says female
    submission["details"]["residence"]["commune_code"] = "99999"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(submission, ensure_ascii=False), encoding="utf-8")

    done = await starter(settings, "submit", str(path))

    assert done.returncode == 2
    assert "applicant: Value error, personal_id: digit 4" in done.stderr
    assert "details.residence: Value error, commune_code 99999 is not a commune or ward of Vietnam" in done.stderr
    with pytest.raises(RPCError, match="not found"):
        await client.get_workflow_handle(code).describe()
    for table in ("dossiers", "audit_events", "payments", "deliveries"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE dossier_code = $1", code) == 0


async def test_valid_submission_through_the_starter(settings: Settings, worker, pool: asyncpg.Pool, tmp_path: Path):  # type: ignore[no-untyped-def]
    submission = await own_residence_dossier(pool)
    path = tmp_path / "good.json"
    path.write_text(json.dumps(submission, ensure_ascii=False), encoding="utf-8")
    first = await starter(settings, "submit", str(path))
    again = await starter(settings, "submit", str(path))
    assert first.returncode == 0 and json.loads(first.stdout)["already_submitted"] is False
    assert again.returncode == 0 and json.loads(again.stdout)["already_submitted"] is True
    refused = await starter(settings, "decide", submission["dossier_code"], "--officer", "CB-00070-01", "reject")
    assert refused.returncode != 0 and "a rejection needs a reason" in refused.stderr
