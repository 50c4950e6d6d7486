"""``make fuzz-api`` in short: schemathesis against the committed OpenAPI document, on the API as a process over real
HTTP with tokens from the real OIDC provider and the payment gateway configured; no server error, no answer that
breaks the contract. And the fuzzer counts what it must: a broken API fails it."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from cutru_local.fuzz import OPENAPI_FILE, Credentials, fuzz
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.worker import Worker

from cutru.clients.client import DossierClient
from cutru.platform.config import Settings
from domain.models import DossierState
from tests.cli import closed_port, cutru_env
from tests.integration.test_permanent_registration import own_residence_dossier, wait_state
from tests.oidc import OidcProvider, free_port

MINIMUM = 400  # requests; make fuzz-api sends 5,000 and more


def _wait_until_serving(url: str, failed: Callable[[], str | None]) -> None:
    """Until ``url`` answers; ``failed()`` says why the server stopped, if it did."""
    deadline = time.monotonic() + 30
    while True:
        stopped = failed()
        assert stopped is None, stopped
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer in 30 s"
            time.sleep(0.1)


@pytest.fixture
def api_process(settings: Settings, oidc_provider: OidcProvider, tmp_path: Path) -> Iterator[str]:
    """``cutru api`` on a free port, its payment gateway configured (else the payment operations answer 503), on
    the test's own task queue (its worker's)."""
    port = free_port()
    env = cutru_env(settings, tmp_path, **oidc_provider.environment(),
                    CUTRU_PAYMENT_GATEWAY_URL=f"http://127.0.0.1:{closed_port()}/paymentv2/vpcpay.html",
                    CUTRU_PAYMENT_TMN_CODE="CUTRUFZ1", CUTRU_PAYMENT_HASH_SECRET=secrets.token_hex(32))
    log_path = tmp_path / "api.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "cutru.api", "--port", str(port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_serving(f"{base}/livez",
                                lambda: log_path.read_text() if process.poll() is not None else None)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture
async def waiting(client: Client, settings: Settings, pool: asyncpg.Pool, worker: Worker) -> AsyncIterator[str]:
    """A dossier of the demo unit waiting for a decision, on the API's task queue with a worker: the reads get its
    real answers. Terminated at the end."""
    dossiers = DossierClient(client, settings.task_queue)
    submission = await own_residence_dossier(pool)
    code: str = submission["dossier_code"]
    await dossiers.submit(submission)
    await wait_state(dossiers, code, DossierState.AWAITING_DECISION)
    yield code
    if (await dossiers.handle(code).describe()).close_time is None:
        await dossiers.handle(code).terminate("test over")


async def test_fuzzing_the_api_finds_no_server_error_and_no_schema_violation(api_process: str, waiting: str,
                                                                             oidc_provider: OidcProvider,
                                                                             pool: asyncpg.Pool):
    credentials = Credentials(oidc_provider.issuer, oidc_provider.client_secrets, oidc_provider.password)
    subscriptions = "SELECT subscription_id, active FROM subscriptions"
    before = dict(await pool.fetch(subscriptions))
    # Off the event loop: the worker runs on it.
    result = await asyncio.to_thread(fuzz, api_process, credentials.token_sources(), minimum=MINIMUM, seed=21,
                                     examples=15, coverage=False, codes=[waiting])
    report = "\n".join(result.report())
    assert result.passed(MINIMUM), report
    assert result.requests >= MINIMUM and result.server_errors == 0 and result.schema_violations == 0, report
    # Each operation behind a token was reached with its role's token: some answer other than 401.
    document = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    secured = {f"{method.upper()} {path}" for path, operations in document["paths"].items()
               for method, operation in operations.items() if operation.get("security")}
    unreached = sorted(operation for operation in secured if set(result.answers.get(operation, {})) <= {401})
    assert len(secured) > 15 and not unreached, unreached
    # And the reads of the waiting dossier answered it, not 404 only.
    assert result.answers["GET /v1/desk/dossiers/{code}"][200] > 0, result.answers
    # The subscriptions it made (to made-up addresses on the internet) are ended: later events go nowhere new.
    after = dict(await pool.fetch(subscriptions))
    made = after.keys() - before.keys()
    assert made and not any(after[subscription] for subscription in made), after
    assert {subscription: after[subscription] for subscription in before} == before  # the others left alone


class Item(BaseModel):
    name: str


def broken_app() -> FastAPI:
    """An API that breaks its own contract: odd numbers crash it, even ones get a body of the wrong shape."""
    app = FastAPI()

    @app.get("/items/{number}", response_model=None, responses={200: {"model": Item}})
    async def item(number: int) -> JSONResponse:
        if number % 2:
            raise RuntimeError("odd")
        return JSONResponse({"name": number})  # the document promises a string

    return app


@pytest.fixture
def broken_api(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    app = broken_app()
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(app.openapi()))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(f"{base}/items/0",
                            lambda: None if thread.is_alive() else "the broken API stopped")
        yield base, document
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_fuzzer_counts_server_errors_and_schema_violations(broken_api: tuple[str, Path]):
    base, document = broken_api
    result = fuzz(base, {}, minimum=20, seed=3, examples=20, coverage=False, schema_path=document)
    report = "\n".join(result.report())
    assert result.requests >= 20, report
    assert result.server_errors > 0 and result.schema_violations > 0, report
    assert not result.passed(20)
    assert report.splitlines()[-1] == (f"{result.requests} requests, {result.server_errors} server errors, "
                                       f"{result.schema_violations} schema violations")
