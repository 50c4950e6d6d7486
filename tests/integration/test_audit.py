"""Auditors: the decision trail comes from the history itself; replay proves the current code decides the same."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from cutru.clients.audit import load_history, messages, replay
from cutru.clients.client import DossierClient
from cutru.platform.codec import replay_converter
from cutru.platform.config import Settings
from domain.models import DecisionKind, DossierState, DossierStatus, OfficerDecision, TrailAction
from tests.cli import closed_port, cutru_env, run_cutru, run_cutru_here
from tests.factories import PAYLOAD_KEYS, head_signs, pay
from tests.integration.changed_workflow import ChangedRegistration
from tests.integration.test_histories import HISTORY_DIR
from tests.integration.test_permanent_registration import own_residence_dossier, wait_state
from tests.oidc import OidcProvider, login_token

OFFICER, HEAD = "CB-00070-02", "CB-00070-00"


@pytest.fixture
async def completed(client, settings: Settings, worker, pool: asyncpg.Pool) -> tuple[WorkflowHistory, DossierStatus]:  # type: ignore[no-untyped-def]
    """A dossier approved, paid and completed: its history, and its ``status`` query after it closed."""
    dossiers = DossierClient(client, settings.task_queue)
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    await dossiers.decide(code, OfficerDecision(officer_id=OFFICER, decision=DecisionKind.APPROVE))
    await head_signs(dossiers, pool, code)
    await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
    await pay(dossiers, pool, code)
    assert (await dossiers.result(code)).state == DossierState.COMPLETED
    return await dossiers.handle(code).fetch_history(), await dossiers.status(code)


@pytest.fixture
def completed_history(completed: tuple[WorkflowHistory, DossierStatus]) -> WorkflowHistory:
    return completed[0]


def audit_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cutru(cutru_env(settings, Path(tempfile.mkdtemp())), "audit", *args)


def audit_here(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``audit_cli`` in this process (``run_cutru_here``), for the answers of a command whose process other tests
    start."""
    return run_cutru_here(cutru_env(settings, Path(tempfile.mkdtemp())), "audit", *args)


async def test_the_auditors_trail_is_the_workflows_own(completed: tuple[WorkflowHistory, DossierStatus]):
    """Replay rebuilds the very trail the workflow kept (and its ``status`` query showed): typed entries, not lines
    inferred from which activities ran, so renaming an activity cannot change what an auditor reads."""
    history, status = completed
    report = await replay(history, replay_converter(PAYLOAD_KEYS))
    assert report.deterministic and report.failure is None
    assert report.trail == status.trail
    assert [(e.actor, e.action) for e in report.trail] == [
        ("citizen", TrailAction.RECEIVED), ("system", TrailAction.ACCEPTED), (OFFICER, TrailAction.PROPOSED),
        (HEAD, TrailAction.SIGNED_OFF), ("payment-gateway", TrailAction.FEE_PAID), ("system", TrailAction.COMPLETED)]
    arrived = [(line.actor, line.action) for line in report.messages]
    assert arrived[0] == ("citizen", "submitted")
    assert (OFFICER, "update_decide") in arrived and (HEAD, "update_sign_off") in arrived
    assert ("payment-gateway", "payment_confirmed") in arrived
    first = report.messages[0].detail
    assert "Nguyễn Thị Ánh Tuyết" in first and "*******" in first  # the name for the auditor, the ID masked


async def test_a_recorded_history_gives_its_trail_up_to_where_it_ends():
    """A history recorded by older code (regular activities, the timings in the submission) and cut while the
    dossier waited for its officer: the trail as far as it went."""
    path = next(HISTORY_DIR.glob("*@PermanentResidenceRegistration-completed.json"))
    history = load_history(path)
    full = await replay(history, replay_converter(PAYLOAD_KEYS))
    assert full.deterministic and full.trail[0].action == TrailAction.RECEIVED
    assert full.trail[-1].action == TrailAction.COMPLETED
    waiting = next(i for i, e in enumerate(history.events) if e.HasField("timer_started_event_attributes"))
    cut = WorkflowHistory(history.workflow_id, history.events[:waiting + 1])
    partial = await replay(cut, replay_converter(PAYLOAD_KEYS))
    assert [e.action for e in partial.trail] == [TrailAction.RECEIVED, TrailAction.ACCEPTED]


def test_the_audit_command_through_the_api_and_on_an_exported_file(
    completed_history: WorkflowHistory, settings: Settings, tmp_path: Path, api_process: str,
    oidc_provider: OidcProvider,
):
    """Trail, replay and export go through the API with the auditor's token (Temporal and the database out of the
    command's reach); the exported file replays on the auditor's machine with the payload keys."""
    code = completed_history.workflow_id
    env = cutru_env(settings, tmp_path, CUTRU_API_URL=api_process,
                    CUTRU_API_TOKEN=login_token(oidc_provider, "KT-AUDITOR-01"),
                    TEMPORAL_ADDRESS=f"127.0.0.1:{closed_port()}",
                    DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/none")
    trail = run_cutru(env, "audit", "trail", code)
    assert trail.returncode == 0, trail.stderr
    assert trail.stdout.splitlines()[0].startswith(code) and f"{OFFICER:<16} proposed" in trail.stdout
    live = run_cutru(env, "audit", "replay", code)
    assert live.returncode == 0, live.stderr
    assert "replay: deterministic" in live.stdout and OFFICER in live.stdout
    exported = run_cutru(env, "audit", "export", code, "--dir", str(tmp_path / "archive"))
    assert exported.returncode == 0, exported.stderr
    from_file = audit_cli(settings, "replay", "--file", str(tmp_path / "archive" / f"{code}.json"))
    assert from_file.returncode == 0 and "completed" in from_file.stdout and "signed_off" in from_file.stdout


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
    batch = audit_here(settings, "replay-all", "--dir", str(tmp_path))
    assert batch.returncode == 1
    assert batch.stdout.strip().splitlines()[-1] == "replayed 2, ok 1, non-deterministic 1, failed 0"
    assert "NON-DETERMINISTIC" in batch.stdout  # the failing history's report, not the good one's
    (tmp_path / "notes.json").write_text("not a history")
    as_json = audit_here(settings, "replay-all", "--dir", str(tmp_path), "-o", "json")
    assert as_json.returncode == 1 and "notes.json: cannot read" in as_json.stderr
    result = json.loads(as_json.stdout)
    assert result["summary"] == {"replayed": 3, "ok": 1, "non_deterministic": 1, "failed": 1}
    assert [r["deterministic"] for r in result["reports"]] == [False]
    clean = audit_here(settings, "replay-all", "--query", f'WorkflowId = "{completed_history.workflow_id}"')
    assert clean.returncode == 0 and "replayed 1, ok 1" in clean.stdout


async def test_an_incompatible_workflow_change_is_caught_by_replay(completed_history: WorkflowHistory):
    replayer = Replayer(workflows=[ChangedRegistration], data_converter=replay_converter(PAYLOAD_KEYS))
    result = await replayer.replay_workflow(completed_history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "Nondeterminism" in type(result.replay_failure).__name__ or "nondetermin" in str(result.replay_failure)


async def test_trail_of_decision_signals(completed_history: WorkflowHistory):
    arrived = await messages(completed_history, replay_converter(PAYLOAD_KEYS))
    assert [line.action for line in arrived].count("update_decide") == 1
