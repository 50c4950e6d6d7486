"""Auditors: the decision trail comes from the history itself; replay proves the current code decides the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from cutru.clients.audit import decision_trail, replay
from cutru.clients.client import DossierClient
from cutru.platform.codec import data_converter
from cutru.platform.config import PROJECT_ROOT, Settings
from domain.models import DecisionKind, DossierState, OfficerDecision
from tests.factories import pay
from tests.integration.changed_workflow import ChangedRegistration
from tests.integration.test_permanent_registration import own_residence_dossier, wait_state

OFFICER = "CB-00070-02"


@pytest.fixture
async def completed_history(client, settings: Settings, worker, pool: asyncpg.Pool) -> WorkflowHistory:  # type: ignore[no-untyped-def]
    dossiers = DossierClient(client, settings.task_queue)
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    await dossiers.decide(code, OfficerDecision(officer_id=OFFICER, decision=DecisionKind.APPROVE))
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, code)
    assert (await dossiers.result(code)).state == DossierState.COMPLETED
    return await dossiers.handle(code).fetch_history()


def audit_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEMPORAL_ADDRESS": settings.temporal_address, "DATABASE_URL": settings.database_url}
    return subprocess.run([sys.executable, "-m", "cutru.clients.audit", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def test_trail_is_read_from_the_history(completed_history: WorkflowHistory):
    report = await replay(completed_history, data_converter(None))
    assert report.deterministic and report.failure is None
    actions = [(line.actor, line.action) for line in report.trail]
    assert actions[0] == ("citizen", "submitted")
    assert (OFFICER, "update_decide") in actions and (OFFICER, "approved") in actions
    assert ("payment-gateway", "payment_confirmed") in actions
    assert actions[-1] == ("system", "final: completed")
    first = report.trail[0].detail
    assert "Nguyễn Thị Ánh Tuyết" in first and "*******" in first  # the name for the auditor, the ID masked


def test_replay_cli_on_the_live_server_and_on_an_exported_file(
    completed_history: WorkflowHistory, settings: Settings, tmp_path: Path
):
    code = completed_history.workflow_id
    live = audit_cli(settings, "replay", code)
    assert live.returncode == 0, live.stderr
    assert "replay: deterministic" in live.stdout and OFFICER in live.stdout
    exported = audit_cli(settings, "export", code, "--dir", str(tmp_path))
    assert exported.returncode == 0, exported.stderr
    from_file = audit_cli(settings, "replay", "--file", str(tmp_path / f"{code}.json"))
    assert from_file.returncode == 0 and "final: completed" in from_file.stdout


def test_batch_replay_with_a_failing_history_exits_non_zero(
    completed_history: WorkflowHistory, settings: Settings, tmp_path: Path
):
    good = json.loads(completed_history.to_json())
    code = completed_history.workflow_id
    (tmp_path / f"{code}.json").write_text(json.dumps(good))
    tampered = json.loads(completed_history.to_json())
    for event in tampered["events"]:
        if "activityTaskScheduledEventAttributes" in event:
            event["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "something_else"
            break
    (tmp_path / f"{code}@tampered.json").write_text(json.dumps(tampered))
    batch = audit_cli(settings, "replay-all", "--dir", str(tmp_path))
    assert batch.returncode == 1
    assert "replayed 2, ok 1, non-deterministic 1, failed 0" in batch.stdout
    clean = audit_cli(settings, "replay-all", "--query", f'WorkflowId = "{completed_history.workflow_id}"')
    assert clean.returncode == 0 and "replayed 1, ok 1" in clean.stdout


async def test_an_incompatible_workflow_change_is_caught_by_replay(completed_history: WorkflowHistory):
    replayer = Replayer(workflows=[ChangedRegistration], data_converter=data_converter(None))
    result = await replayer.replay_workflow(completed_history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "Nondeterminism" in type(result.replay_failure).__name__ or "nondetermin" in str(result.replay_failure)


async def test_trail_of_decision_signals(completed_history: WorkflowHistory):
    trail = await decision_trail(completed_history, data_converter(None))
    assert [line.action for line in trail].count("update_decide") == 1
