"""The ``cutru`` command against the real Temporal server and PostgreSQL of the session: what it prints, and that a
fault (an invalid file, an unknown dossier, a server or database that is down) ends in one line and its exit code,
never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.service import RPCError

from cutru.clients.client import DossierClient
from cutru.platform.config import PROJECT_ROOT, Settings
from domain.models import DecisionKind, DossierState, OfficerDecision
from tests.cli import closed_port, cutru, cutru_env, cutru_here
from tests.integration.test_permanent_registration import own_residence_dossier, wait_state
from tests.oidc import OidcProvider, login_token

OFFICER = "CB-00070-01"


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("cutru: "), stderr
    return lines[0]


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return cutru_env(settings, tmp_path)


async def test_invalid_submission_is_refused_before_anything_starts(
    client: Client, env: dict[str, str], pool: asyncpg.Pool, tmp_path: Path
):
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    submission["applicant"]["sex"] = "male"  # the ID number says female
    submission["details"]["residence"]["commune_code"] = "99999"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(submission, ensure_ascii=False), encoding="utf-8")

    done = await cutru(env, "submit", str(path))

    assert done.returncode == 2
    assert "applicant: Value error, personal_id: digit 4" in done.stderr
    assert "details.residence: Value error, commune_code 99999 is not a commune or ward of Vietnam" in done.stderr
    with pytest.raises(RPCError, match="not found"):
        await client.get_workflow_handle(code).describe()
    for table in ("dossiers", "audit_events", "payments", "deliveries"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE dossier_code = $1", code) == 0


async def test_a_dossier_through_the_command_in_one_vocabulary(  # type: ignore[no-untyped-def]
    env: dict[str, str], worker, client: Client, settings: Settings, pool: asyncpg.Pool, tmp_path: Path,
    api_process: str, oidc_provider: OidcProvider,
):
    """The officer requests a supplement (through the API), the citizen supplies it; starter.py is the same
    command."""
    submission = await own_residence_dossier(pool)
    code = submission["dossier_code"]
    path = tmp_path / "good.json"
    path.write_text(json.dumps(submission, ensure_ascii=False), encoding="utf-8")
    starter = (sys.executable, str(PROJECT_ROOT / "starter.py"))
    first = await cutru(env, "submit", str(path), "--output", "json", program=starter)
    again = await cutru(env, "-o", "json", "submit", str(path))
    assert first.returncode == 0 and json.loads(first.stdout)["already_submitted"] is False, first.stderr
    assert again.returncode == 0 and json.loads(again.stdout)["already_submitted"] is True, again.stderr
    assert (await cutru(env, "submit", str(path))).stdout.strip() == f"{code}: already submitted"
    dossiers = DossierClient(client, settings.task_queue)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)

    desk = env | {"CUTRU_API_URL": api_process, "CUTRU_API_TOKEN": login_token(oidc_provider, OFFICER)}
    asked = await cutru(desk, "officer", "request-supplement", code, "--missing", "Sổ đỏ")
    assert asked.returncode == 0 and asked.stdout.strip() == f"{code}: decision accepted (request-supplement)", asked
    status = json.loads((await cutru(env, "status", code, "-o", "json")).stdout)
    assert status["state"] == "awaiting_supplement"
    supplied = await cutru(env, "supplement", code, "--provided", "Sổ đỏ")
    assert supplied.returncode == 0 and supplied.stdout.strip() == f"{code}: supplement sent", supplied
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)

    text = await cutru(desk, "officer", "show", code)
    assert text.returncode == 0 and text.stdout.startswith(f"{code}  PermanentResidenceRegistration")
    assert submission["applicant"]["personal_id"] not in text.stdout  # masked on the officer's screen
    queue = json.loads((await cutru(desk, "-o", "json", "officer", "queue")).stdout)
    assert code in {item["dossier_code"] for item in queue}
    await dossiers.handle(code).terminate("test over")


async def waiting_for_decision(client: Client, settings: Settings, pool: asyncpg.Pool) -> tuple[DossierClient, str]:
    """A dossier of the demo unit, submitted and waiting for its officer."""
    submission = await own_residence_dossier(pool)
    code: str = submission["dossier_code"]
    dossiers = DossierClient(client, settings.task_queue)
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    return dossiers, code


async def test_a_refused_decision_exits_1_with_the_reason(  # type: ignore[no-untyped-def]
    env: dict[str, str], worker, client: Client, settings: Settings, pool: asyncpg.Pool, tmp_path: Path,
    api_process: str, oidc_provider: OidcProvider,
):
    dossiers, code = await waiting_for_decision(client, settings, pool)
    await dossiers.decide(code, OfficerDecision(officer_id=OFFICER, decision=DecisionKind.REQUEST_SUPPLEMENT,
                                                missing_items=("Sổ đỏ",)))
    await wait_state(dossiers, code, DossierState.AWAITING_SUPPLEMENT)
    desk = env | {"CUTRU_API_URL": api_process, "CUTRU_API_TOKEN": login_token(oidc_provider, OFFICER)}
    refused = await cutru(desk, "officer", "approve", code)
    assert refused.returncode == 1
    assert "not waiting for an officer's decision" in one_line_error(refused.stderr)
    await dossiers.handle(code).terminate("test over")
    closed = await cutru(desk, "officer", "approve", code)
    assert closed.returncode == 1
    assert one_line_error(closed.stderr) == f"cutru: Dossier {code} is closed and takes no decision."


async def test_an_operator_closes_a_dossier_with_a_reason(  # type: ignore[no-untyped-def]
    env: dict[str, str], worker, client: Client, settings: Settings, pool: asyncpg.Pool,
    api_process: str, oidc_provider: OidcProvider,  # noqa: F811
):
    _, code = await waiting_for_decision(client, settings, pool)
    operations = env | {"CUTRU_API_URL": api_process, "CUTRU_API_TOKEN": login_token(oidc_provider, "VH-OPERATOR-01")}
    closed = await cutru(operations, "close", code, "--reason", "Nộp nhầm đơn vị", "-o", "json")
    assert closed.returncode == 0, closed.stderr
    assert json.loads(closed.stdout) == {"dossier_code": code, "state": "cancelled", "closed_by": "VH-OPERATOR-01",
                                         "reason": "Nộp nhầm đơn vị"}
    again = await cutru(operations, "close", code, "--reason", "Nộp nhầm đơn vị")
    assert again.returncode == 1
    assert one_line_error(again.stderr) == f"cutru: Dossier {code} is closed and takes no decision."


async def test_an_unknown_dossier_code_is_not_found(env: dict[str, str]):
    for command in (("status", "HS-NO-SUCH-DOSSIER"), ("result", "HS-NO-SUCH-DOSSIER"),
                    ("supplement", "HS-NO-SUCH-DOSSIER", "--provided", "x"),
                    ("withdraw", "HS-NO-SUCH-DOSSIER", "--reason", "x")):
        done = await cutru_here(env, *command)  # in this process: the commands' answers are the point
        assert done.returncode == 3, (command, done.stderr)
        assert one_line_error(done.stderr) == "cutru: no dossier HS-NO-SUCH-DOSSIER", command


async def test_an_unknown_dossier_through_the_api_is_not_found(env: dict[str, str], api_process: str,
                                                               oidc_provider: OidcProvider):
    for username, command in ((OFFICER, ("officer", "show", "HS-NO-SUCH-DOSSIER")),
                              ("KT-AUDITOR-01", ("audit", "replay", "HS-NO-SUCH-DOSSIER"))):
        desk = env | {"CUTRU_API_URL": api_process, "CUTRU_API_TOKEN": login_token(oidc_provider, username)}
        done = await cutru_here(desk, *command)
        assert done.returncode == 3, (command, done.stderr)
        assert one_line_error(done.stderr) == ("cutru: No dossier HS-NO-SUCH-DOSSIER is visible to you: check the "
                                               "code."), command


async def test_an_unreachable_temporal_server(settings: Settings, tmp_path: Path):
    port = closed_port()
    env = cutru_env(settings, tmp_path, TEMPORAL_ADDRESS=f"127.0.0.1:{port}")
    for command in (("status", "HS-1"), ("audit", "replay-all"), ("worker", "--check")):
        done = await cutru(env, *command)
        assert done.returncode == 4, (command, done.stderr)
        assert one_line_error(done.stderr).startswith(f"cutru: Temporal at 127.0.0.1:{port} is unreachable: ")


async def test_a_database_that_is_down(settings: Settings, tmp_path: Path):
    port = closed_port()
    env = cutru_env(settings, tmp_path, DATABASE_URL=f"postgresql://cutru:s3cret@127.0.0.1:{port}/cutru")
    for command in (("migrate",), ("worker", "--check")):
        done = await cutru(env, *command)
        assert done.returncode == 4, (command, done.stderr)
        line = one_line_error(done.stderr)
        assert line.startswith(f"cutru: the database at 127.0.0.1:{port}/cutru is unreachable: "), line
        assert "s3cret" not in line, line


async def test_a_configuration_fault_is_a_usage_error(settings: Settings, tmp_path: Path):
    env = cutru_env(settings, tmp_path, TEMPORAL_PROFILE="staging")
    done = await cutru(env, "status", "HS-1")
    assert done.returncode == 2
    assert "Profile 'staging' not found" in one_line_error(done.stderr)
