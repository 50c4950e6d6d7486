"""The officer's command is a client of the API (``cutru api`` as a process, over real HTTP): it works with an access
token and nothing else (no Temporal, no database), acts as the officer the token names, signs in with the
authorization code flow and PKCE itself, and ends every refusal in one line and its exit code."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import asyncpg
import httpx
import jwt
import pytest
from temporalio.client import Client

from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from domain.models import DossierState
from tests.cli import CUTRU, closed_port, cutru, cutru_env, cutru_here
from tests.integration.test_api_desk import other_unit
from tests.integration.test_permanent_registration import own_residence_dossier, wait_state
from tests.oidc import OidcProvider, expired_token, login_token

OFFICER = "CB-00070-02"
Env = Callable[..., dict[str, str]]


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("cutru: "), stderr
    return lines[0]


@pytest.fixture
def desk_env(api_process: str, settings: Settings, oidc_provider: OidcProvider, tmp_path: Path) -> Env:
    """The command's environment for an account: the API's address and the account's token; Temporal and the
    database point at closed ports, so anything the command did without the API would fail."""
    def build(username: str | None = OFFICER, **overrides: str) -> dict[str, str]:
        env = cutru_env(settings, tmp_path, CUTRU_API_URL=api_process,
                        TEMPORAL_ADDRESS=f"127.0.0.1:{closed_port()}",
                        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/none")
        env = {k: v for k, v in env.items() if not k.startswith(("CUTRU_OIDC_", "CUTRU_CLIENT_"))}
        if username is not None:
            env["CUTRU_API_TOKEN"] = login_token(oidc_provider, username)
        return env | overrides
    return build


@pytest.fixture
async def waiting(client: Client, settings: Settings, pool: asyncpg.Pool, worker: Any) -> str:
    dossiers = DossierClient(client, settings.task_queue)
    submission = await own_residence_dossier(pool)
    code: str = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    return code


async def test_the_officers_work_through_the_api_alone(desk_env: Env, waiting: str, client: Client,
                                                       settings: Settings, pool: asyncpg.Pool):
    env = desk_env()
    queue = await cutru(env, "-o", "json", "officer", "queue")
    assert queue.returncode == 0, queue.stderr
    assert waiting in {item["dossier_code"] for item in json.loads(queue.stdout)}
    shown = await cutru(env, "officer", "show", waiting)
    assert shown.returncode == 0 and shown.stdout.startswith(f"{waiting}  PermanentResidenceRegistration"), shown
    personal_id = await pool.fetchval("SELECT applicant_id FROM dossiers WHERE dossier_code = $1", waiting)
    assert personal_id not in shown.stdout

    asked = await cutru(env, "officer", "request-supplement", waiting, "--missing", "Sổ đỏ",
                        "--idempotency-key", f"{waiting}-1")
    assert asked.returncode == 0 and asked.stdout.strip() == f"{waiting}: decision accepted (request-supplement)"
    again = await cutru(env, "officer", "request-supplement", waiting, "--missing", "Sổ đỏ",
                        "--idempotency-key", f"{waiting}-1")
    assert again.returncode == 0, again.stderr  # the first answer again, not a second decision
    dossiers = DossierClient(client, settings.task_queue)
    await wait_state(dossiers, waiting, DossierState.AWAITING_SUPPLEMENT)
    assert [(e.actor, e.action) for e in (await dossiers.status(waiting)).trail][-1] == (OFFICER,
                                                                                        "supplement_requested")

    refused = await cutru(env, "officer", "approve", waiting)
    assert refused.returncode == 1
    assert "not waiting for an officer's decision" in one_line_error(refused.stderr)
    await dossiers.handle(waiting).terminate("test over")


async def test_refusals_end_in_one_line_and_their_exit_code(desk_env: Env, waiting: str, pool: asyncpg.Pool,
                                                            oidc_provider: OidcProvider):
    _, stranger, _ = await other_unit(pool)
    cases: list[tuple[dict[str, str], tuple[str, ...], int, str]] = [
        (desk_env(stranger), ("officer", "show", waiting), 3, f"No dossier {waiting} is visible to you"),
        (desk_env(stranger, LANG="vi_VN.UTF-8"), ("officer", "show", waiting), 3,
         f"Không tìm thấy hồ sơ {waiting}"),  # a Vietnamese terminal gets the API's Vietnamese
        (desk_env(stranger), ("officer", "approve", waiting), 1, "does not cover police unit CA-00070"),
        (desk_env(), ("officer", "show", "HS-NO-SUCH-DOSSIER"), 3, "No dossier HS-NO-SUCH-DOSSIER"),
        (desk_env("KT-AUDITOR-01"), ("officer", "queue"), 1, "needs one of the roles"),
        (desk_env(CUTRU_API_TOKEN=expired_token(oidc_provider)), ("officer", "queue"), 2, "token rejected"),
        (desk_env(None), ("officer", "queue"), 2, "sign-in: no token: set CUTRU_API_TOKEN"),
        (desk_env(CUTRU_API_URL=f"http://127.0.0.1:{closed_port()}"), ("officer", "queue"), 4,
         "the cutru API at http://127.0.0.1:"),
        # The decision's own rule is checked before anything is sent.
        (desk_env(CUTRU_API_URL=f"http://127.0.0.1:{closed_port()}"), ("officer", "reject", waiting, "--reason", " "),
         2, "a rejection needs a reason"),
    ]
    # In this process (the process itself is what the test above and the login test run): nine refusals.
    for env, command, code, said in cases:
        done = await cutru_here(env, *command)
        assert done.returncode == code, (command, done.stderr)
        assert said in one_line_error(done.stderr), (command, done.stderr)


def _browser_signs_in(provider: OidcProvider, authorize_url: str, username: str) -> None:
    """What the officer does in the browser: the provider's login form, then the redirect back to the command."""
    with httpx.Client(follow_redirects=False, timeout=10.0) as browser:
        answer = browser.get(authorize_url)
        submitted = False
        while True:
            if answer.is_redirect:
                target = urljoin(str(answer.url), answer.headers["location"])
                if urlsplit(target).netloc == urlsplit(provider.issuer).netloc:
                    answer = browser.get(target)
                    continue
                assert browser.get(target).status_code == 200  # the command's loopback listener
                return
            assert answer.status_code == 200 and not submitted, answer.text[:300]
            answer = browser.post(urljoin(str(answer.url), urlsplit(str(answer.url)).path + "/login"),
                                  data={"username": username, "password": provider.password})
            submitted = True


async def test_login_by_code_and_pkce_prints_a_token_the_api_takes(desk_env: Env, oidc_provider: OidcProvider):
    env = desk_env(None, CUTRU_OIDC_ISSUER=oidc_provider.issuer, CUTRU_OIDC_AUDIENCE=oidc_provider.audience)
    process = subprocess.Popen([str(CUTRU), "officer", "login"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        prompt = await asyncio.to_thread(process.stderr.readline)
        assert "open this address in a browser" in prompt, prompt
        url = (await asyncio.to_thread(process.stderr.readline)).strip()
        assert "code_challenge_method=S256" in url and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url
        await asyncio.to_thread(_browser_signs_in, oidc_provider, url, OFFICER)
        out, err = await asyncio.to_thread(process.communicate, timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    token = out.strip()
    assert jwt.decode(token, options={"verify_signature": False})["officer_id"] == OFFICER
    queue = await cutru(desk_env(None, CUTRU_API_TOKEN=token), "officer", "queue")
    assert queue.returncode == 0, queue.stderr
