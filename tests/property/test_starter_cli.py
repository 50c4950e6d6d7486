"""Bad submission files through the real command line, ``python starter.py submit FILE`` (``cutru submit``).

Each must be refused with exit status 2 and a message on stderr (never a traceback), and nothing may be written:
no workflow started under the dossier's code, no row in the read model. The processes run concurrently; a few
files suffice here, the thousands of variants go through the same validation in ``test_submission_inputs.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from cutru.clients.client import SubmissionRejected, check_submission
from cutru.platform.config import PROJECT_ROOT, Settings
from domain.kinds import Procedure
from domain.procedures.catalogue import PROCEDURES
from tests.property.strategies import base_submission, mutated
from tests.property.tally import BadInputTally
from tests.property.workflow_inputs import draw


def _refused_by_check(raw: Any) -> bool:
    try:
        check_submission(raw)
    except SubmissionRejected:
        return True
    return False


async def _submit(file: Path, settings: Settings, state_dir: Path) -> tuple[int, str]:
    env = {**os.environ, "TEMPORAL_ADDRESS": settings.temporal_address, "TEMPORAL_NAMESPACE": settings.namespace,
           "CUTRU_TASK_QUEUE": settings.task_queue, "DATABASE_URL": settings.database_url,
           "CUTRU_STATE_DIR": str(state_dir)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(PROJECT_ROOT / "starter.py"), "submit", str(file), env=env, cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, stderr.decode(errors="replace")


async def test_bad_files_are_refused_by_the_starter_and_nothing_is_written(
        client: Client, settings: Settings, pool: asyncpg.Pool, tmp_path: Path, bad_inputs: BadInputTally) -> None:
    files: dict[str, tuple[Path, str]] = {}  # dossier code -> (file, what)
    procedures = sorted(PROCEDURES, key=lambda p: p.value)
    candidates = draw(mutated(base_submission(Procedure.PERMANENT_RESIDENCE_REGISTRATION)), 40)
    chosen = [(what, raw) for what, raw in candidates if _refused_by_check(raw)][:6]
    for procedure in procedures[:2]:
        raw = base_submission(procedure)
        raw["applicant"] = {**raw["applicant"], "personal_id": "001099000000"}  # contradicts birth year and sex
        chosen.append((f"{procedure.value} with an inconsistent personal ID", raw))
    for index, (what, raw) in enumerate(chosen):
        code = f"HS-CLI-{index:04d}-{os.getpid()}"
        if isinstance(raw, dict) and "dossier_code" in raw:
            raw["dossier_code"] = code
        file = tmp_path / f"{code}.json"
        file.write_text(json.dumps(raw, ensure_ascii=False, default=str), encoding="utf-8")
        files[code] = (file, what)
    garbage = {"HS-CLI-NOT-JSON": "{ this is not JSON", "HS-CLI-SURROGATE": '{"dossier_code": "HS-CLI-SURROGATE",'
               ' "procedure": "PermanentResidenceRegistration", "applicant": {"full_name": "\\ud800"}}'}
    for code, text in garbage.items():
        file = tmp_path / f"{code}.json"
        file.write_text(text, encoding="utf-8")
        files[code] = (file, f"file {text[:30]!r}")

    slots = asyncio.Semaphore(3)  # a few at a time: each is a whole Python process starting up

    async def submit(file: Path) -> tuple[int, str]:
        async with slots:
            return await _submit(file, settings, tmp_path / "state")

    results = await asyncio.gather(*(submit(file) for file, _ in files.values()))
    bad_inputs.tried("starter CLI", len(files))
    for (code, (_, what)), (status, stderr) in zip(files.items(), results, strict=True):
        if status != 2 or "Traceback" in stderr:
            bad_inputs.crashes.append(f"starter.py submit: {what}: exit {status}")
        assert status == 2, f"{what}: exit status {status}, stderr:\n{stderr[-800:]}"
        assert "Traceback" not in stderr, f"{what}: the starter crashed:\n{stderr[-800:]}"
        assert stderr.strip(), f"{what}: refused without a word"
        try:
            await client.get_workflow_handle(code).describe()
        except RPCError as error:
            assert error.status == RPCStatusCode.NOT_FOUND, error
        else:
            raise AssertionError(f"{what}: a workflow was started for {code}")
        assert await pool.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = $1", code) == 0
