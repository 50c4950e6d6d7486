"""Fuzzing the API: schemathesis against the committed OpenAPI document, each operation with its role's token.

    python -m cutru_local.fuzz [--requests 5000] [--seed 0] [--workers 1]     # `make fuzz-api`

It fuzzes the API of the running local stack (``CUTRU_API_URL``, the provider and secrets of ``.cutru/env``) with
``schemas/openapi.json``, the contract integrators read, not the server's own copy. As ``make demo`` does, it seeds
the stack's database when it is empty and runs a worker for the time of the run (an API without workers answers
503 where it asks a dossier's workflow); half of the reads of a dossier get the code of one the API lists, so that
real answers, not only 404s, are checked against the document. Each operation that declares
bearer security gets a token of the role it is for, chosen by its tag (:data:`TAG_ROLES`): portal backends' and
the payment link's operations a portal client's, the desk's a supervisor's (officer and supervisor roles), the
auditors' an auditor's, the metrics an operator's; tokens are fetched from the OIDC provider and renewed before they
expire. Every schemathesis check runs but ``positive_data_acceptance``: the API rightly refuses some requests that
JSON Schema cannot tell from good ones (docs/api-fuzzing.md).

It prints each distinct failure, then one last line, ``N requests, M server errors, K schema violations``, and
exits 0 only when M and K are 0 and N reached ``--requests``. A server error is an answer 5xx or no answer at all;
a schema violation is any other failed check (status, content type, headers or body not as documented; an invalid
request accepted; an operation answering without its token). The first round runs every phase (examples, coverage,
fuzzing, stateful); rounds of fuzzing with the next seeds follow until the requests reach the minimum.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import schemathesis
from hypothesis import strategies as st
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder

from cutru.platform.config import load_settings
from cutru.platform.temporal import connect, task_queue_pollers
from cutru_local.demo import DEMO_PEOPLE
from cutru_local.oidc import AUDITOR_ACCOUNT, OPERATOR_CLIENT, PORTAL_CLIENT
from cutru_local.seed import DEMO_SUPERVISOR_ID, seed
from cutru_local.stack import (
    PROJECT_ROOT,
    STATE_DIR,
    refresh_oidc_accounts,
    stack_environment,
    use_stack_environment,
)
from cutru_local.tokens import client_credentials_token, login_token

OPENAPI_FILE = PROJECT_ROOT / "schemas" / "openapi.json"
DEFAULT_REQUESTS = 5_000
# The operations' tags and the role whose token each gets (cutru.api.security's table).
TAG_ROLES: dict[str, str] = {
    "portal": "portal",
    "payments": "portal",  # the payment link is read by portals; the gateway's callbacks carry no token
    "officers": "supervisor",  # a supervisor holds both desk roles: reassignment and escalations too
    "auditors": "auditor",
    "operators": "operator",
}
SERVER_ERROR_CHECK = "not_a_server_error"
# Requests the API refuses for rules of the domain a JSON Schema cannot state (a name of letters only, a commune
# that exists, a dossier that exists): schema-valid, yet rightly 4xx.
EXCLUDED_CHECKS = ("positive_data_acceptance", "use_after_free")
TOKEN_REFRESH_SECONDS = 240  # the local provider's tokens live 600 s
MAX_ROUNDS = 10
FIRST_ROUND_EXAMPLES = 25  # per operation, in the fuzzing phase

# Raw-file bodies of the API (uploads, a result to verify) that schemathesis has no serializer of its own for:
# sent as the bytes generated, as application/octet-stream bodies are.
BINARY_MEDIA_TYPES = ("application/pdf", "image/heic")
for _media_type in BINARY_MEDIA_TYPES:
    schemathesis.serializer.alias(_media_type, "application/octet-stream")

TokenSource = Callable[[], str]


@dataclass(frozen=True)
class Credentials:
    """Where tokens come from: the OIDC issuer, the confidential clients' secrets and the accounts' password."""

    issuer: str
    client_secrets: Mapping[str, str]
    password: str

    def token_sources(self) -> dict[str, TokenSource]:
        """A way to get a fresh token for each role of :data:`TAG_ROLES`."""
        return {
            "portal": lambda: client_credentials_token(self.issuer, PORTAL_CLIENT,
                                                       self.client_secrets[PORTAL_CLIENT]),
            "operator": lambda: client_credentials_token(self.issuer, OPERATOR_CLIENT,
                                                         self.client_secrets[OPERATOR_CLIENT]),
            "supervisor": lambda: login_token(self.issuer, DEMO_SUPERVISOR_ID, self.password),
            "auditor": lambda: login_token(self.issuer, AUDITOR_ACCOUNT, self.password),
        }


@dataclass
class FuzzResult:
    requests: int = 0
    server_errors: int = 0
    schema_violations: int = 0
    # One line per distinct (check, operation, title): what failed, with one request that shows it.
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # Errors of the run itself (a token that could not be fetched, an operation schemathesis could not test).
    errors: list[str] = field(default_factory=list)
    # The statuses each operation answered ("GET /v1/dossiers": {200: 12, 422: 80, ...}); 0 for no answer.
    answers: dict[str, Counter[int]] = field(default_factory=dict)

    def line(self) -> str:
        return (f"{self.requests} requests, {self.server_errors} server errors, "
                f"{self.schema_violations} schema violations")

    def passed(self, minimum: int) -> bool:
        return (self.server_errors == 0 and self.schema_violations == 0 and not self.errors
                and self.requests >= minimum)

    def record(self, recorder: ScenarioRecorder) -> None:
        failed: set[tuple[str, str]] = set()
        for case_id, interaction in recorder.interactions.items():
            self.requests += 1
            response = interaction.response
            case = recorder.cases.get(case_id)
            operation = case.value.operation.label if case is not None else recorder.label
            self.answers.setdefault(operation, Counter())[0 if response is None else response.status_code] += 1
            if response is None or response.status_code >= 500:
                self.server_errors += 1
                status = "no answer" if response is None else str(response.status_code)
                self._note("server error", operation, status,
                           f"{interaction.request.method} {interaction.request.uri} -> {status}")
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.failure_info is None or check.name == SERVER_ERROR_CHECK:
                    continue
                if (case_id, check.name) in failed:
                    continue
                failed.add((case_id, check.name))
                self.schema_violations += 1
                failure = check.failure_info.failure
                sent = recorder.interactions.get(case_id)
                shown = "" if sent is None else (
                    f"{sent.request.method} {sent.request.uri}"
                    + (f" -> {sent.response.status_code}" if sent.response is not None else ""))
                detail = " | ".join(line for line in failure.message.splitlines() if line.strip())[:400]
                self._note(check.name, recorder.label, failure.title, f"{shown}: {detail}")

    def _note(self, check: str, operation: str, title: str, example: str) -> None:
        self.failures.setdefault((check, operation, title), example)

    def report(self) -> Iterable[str]:
        for (check, operation, title), example in sorted(self.failures.items()):
            yield f"FAIL {check} {operation}: {title}; e.g. {example}"
        for error in self.errors:
            yield f"ERROR {error}"
        yield self.line()


def _role(operation: Any) -> str | None:
    """The role whose token ``operation`` gets; None for operations without bearer security."""
    if not operation.definition.raw.get("security"):
        return None
    for tag in operation.tags or ():
        if tag in TAG_ROLES:
            return TAG_ROLES[tag]
    return None


def _register_auth(schema: Any, tokens: Mapping[str, TokenSource]) -> None:
    for role, fetch in tokens.items():
        def matches(context: Any, role: str = role) -> bool:
            return _role(context.operation) == role

        class Bearer:
            def get(self, case: Any, context: Any, fetch: TokenSource = fetch) -> str:
                return fetch()

            def set(self, case: Any, data: str, context: Any) -> None:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

        Bearer.__name__ = f"Bearer_{role}"
        schema.auth(refresh_interval=TOKEN_REFRESH_SECONDS).apply_to(matches)(Bearer)


def known_dossiers(base_url: str, tokens: Mapping[str, TokenSource], limit: int = 100) -> list[str]:
    """Codes of dossiers the API holds (a page of the portal's list), for the reads to find some."""
    fetch = tokens.get("portal")
    if fetch is None:
        return []
    response = httpx.get(f"{base_url}/v1/dossiers", params={"limit": limit},
                         headers={"Authorization": f"Bearer {fetch()}"}, timeout=30)
    response.raise_for_status()
    return [item["dossier_code"] for item in response.json()["items"]]


def _read_known_dossiers(schema: Any, codes: list[str]) -> None:
    """Half of the reads of a dossier (``GET …/{code}…``) get the code of one that exists, so that its answers,
    not only 404, are checked against the document. Writes keep random codes: the fuzzer leaves dossiers alone."""
    if not codes:
        return

    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
        if context.operation is None or context.operation.method.upper() != "GET" \
                or not path_parameters or "code" not in path_parameters:
            return st.just(path_parameters)
        existing = st.sampled_from(codes).map(lambda code: {**path_parameters, "code": code})
        return st.one_of(st.just(path_parameters), existing)

    schema.hook(flatmap_path_parameters)


def _schema(base_url: str, tokens: Mapping[str, TokenSource], *, seed: int, workers: int, examples: int,
            phases: Iterable[str], schema_path: Path, codes: list[str]) -> Any:
    all_phases = ("examples", "coverage", "fuzzing", "stateful")
    config = schemathesis.Config.from_dict({
        "base-url": base_url,
        "workers": workers,
        "seed": seed,
        "request-timeout": 30,
        "continue-on-failure": True,  # every case of an operation runs after its first failure: the counts are whole
        "suppress-health-check": ["all"],
        "cache": {"enabled": False},  # no .schemathesis/ in the tree; a run depends on its seed alone
        "generation": {"max-examples": examples},
        "phases": {phase: {"enabled": phase in set(phases)} for phase in all_phases},
        "checks": {name: {"enabled": False} for name in EXCLUDED_CHECKS},
    })
    schema = schemathesis.openapi.from_path(str(schema_path), config=config)
    _register_auth(schema, tokens)
    _read_known_dossiers(schema, codes)
    return schema


def _operator(tokens: Mapping[str, TokenSource]) -> dict[str, str] | None:
    """An operator's authorization header, fresh (a long run outlives a token); None without an operator."""
    fetch = tokens.get("operator")
    return None if fetch is None else {"Authorization": f"Bearer {fetch()}"}


def active_subscriptions(base_url: str, headers: Mapping[str, str] | None) -> set[str]:
    """The ids of the event subscriptions in force (none known without an operator's header)."""
    if headers is None:
        return set()
    response = httpx.get(f"{base_url}/v1/subscriptions", headers=headers, timeout=30)
    response.raise_for_status()
    return {item["subscription_id"] for item in response.json() if item["active"]}


def end_subscriptions(base_url: str, tokens: Mapping[str, TokenSource], kept: set[str]) -> None:
    """End every subscription in force but ``kept``. What the fuzzer subscribes has made-up addresses
    (``https://0.com/``): left in force, every later event of the stack would be posted there, to the internet
    where there is one."""
    headers = _operator(tokens)
    if headers is None:
        return
    for subscription_id in active_subscriptions(base_url, headers) - kept:
        httpx.delete(f"{base_url}/v1/subscriptions/{subscription_id}", headers=headers, timeout=30).raise_for_status()


def fuzz(base_url: str, tokens: Mapping[str, TokenSource], *, minimum: int, seed: int = 0, workers: int = 1,
         examples: int = FIRST_ROUND_EXAMPLES, coverage: bool = True, codes: Sequence[str] = (),
         schema_path: Path = OPENAPI_FILE, progress: Callable[[str], None] | None = None) -> FuzzResult:
    """Fuzz the API at ``base_url`` until at least ``minimum`` requests went out (or :data:`MAX_ROUNDS`); the
    reads of a dossier are given ``codes`` (of dossiers that exist) half of the time. The event subscriptions the
    run made are ended at its end (``end_subscriptions``)."""
    kept = active_subscriptions(base_url, _operator(tokens))
    try:
        return _fuzz_rounds(base_url, tokens, minimum=minimum, seed=seed, workers=workers, examples=examples,
                            coverage=coverage, codes=codes, schema_path=schema_path, progress=progress)
    finally:
        end_subscriptions(base_url, tokens, kept)


def _fuzz_rounds(base_url: str, tokens: Mapping[str, TokenSource], *, minimum: int, seed: int, workers: int,
                 examples: int, coverage: bool, codes: Sequence[str], schema_path: Path,
                 progress: Callable[[str], None] | None) -> FuzzResult:
    result = FuzzResult()
    phases: tuple[str, ...] = ("examples", "coverage", "fuzzing", "stateful") if coverage else ("fuzzing",)
    for round_number in range(MAX_ROUNDS):
        schema = _schema(base_url, tokens, seed=seed + round_number, workers=workers, examples=examples,
                         phases=phases, schema_path=schema_path, codes=list(codes))
        operations = max(1, sum(1 for _ in schema.get_all_operations()))
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
                result.record(event.recorder)
            elif isinstance(event, events.NonFatalError | events.FatalError):
                result.errors.append(_describe(event))
        if progress is not None:
            progress(f"round {round_number + 1}: {result.line()}")
        if result.requests >= minimum or result.errors:
            break
        # The next rounds fuzz only, with as many examples per operation as the shortfall asks (and a margin:
        # an operation with few distinct inputs gives fewer than asked).
        phases = ("fuzzing",)
        examples = max(10, math.ceil(1.5 * (minimum - result.requests) / operations))
    return result


def _describe(event: events.NonFatalError | events.FatalError) -> str:
    if isinstance(event, events.NonFatalError):
        return f"{event.label}: {type(event.value).__name__}: {event.value}"
    return f"fatal: {type(event.exception).__name__}: {event.exception}"


def stack_target(environ: Mapping[str, str]) -> tuple[str, Credentials]:
    """The running stack's API address and credentials, from the environment, else ``.cutru/env``."""
    values = {**stack_environment(), **{name: value for name, value in environ.items() if value}}
    needed = ("CUTRU_API_URL", "CUTRU_OIDC_ISSUER", "CUTRU_PORTAL_CLIENT_SECRET", "CUTRU_OPERATOR_CLIENT_SECRET",
              "CUTRU_LOCAL_PASSWORD")
    missing = [name for name in needed if not values.get(name)]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not set: start the local stack first (`make up`).")
    return values["CUTRU_API_URL"], Credentials(
        issuer=values["CUTRU_OIDC_ISSUER"],
        client_secrets={PORTAL_CLIENT: values["CUTRU_PORTAL_CLIENT_SECRET"],
                        OPERATOR_CLIENT: values["CUTRU_OPERATOR_CLIENT_SECRET"]},
        password=values["CUTRU_LOCAL_PASSWORD"])


async def _ensure_seeded(database_url: str) -> None:
    """A stack never demoed has no population and no officers, and the desk's token is an officer's: the demo's
    seed, as ``make demo`` would plant it."""
    connection = await asyncpg.connect(database_url)
    try:
        empty = not await connection.fetchval("SELECT count(*) FROM people")
    finally:
        await connection.close()
    if empty:
        await seed(database_url, people=DEMO_PEOPLE, seed=1, progress=True)
        await refresh_oidc_accounts(database_url)  # the seeded officers can sign in


def _start_worker() -> subprocess.Popen[bytes]:
    """The product's worker, as the API always has one: without it reads that query a dossier answer 503."""
    log = (STATE_DIR / "worker.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "cutru.service.worker"], stdout=log, stderr=log,
                            cwd=PROJECT_ROOT, env={**os.environ, "CUTRU_LOG_LEVEL": "WARNING"})


async def _wait_for_worker(worker: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    settings = load_settings()
    client = await connect(settings)
    deadline = time.monotonic() + timeout
    while not await task_queue_pollers(client, settings.task_queue):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start polling {settings.task_queue}: see {STATE_DIR}/worker.log")
        await asyncio.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cutru_local.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="the fewest requests to send")
    parser.add_argument("--seed", type=int, default=0, help="the first round's seed (the next rounds: +1 each)")
    # One: schemathesis's worker threads race on Hypothesis's deferred imports at their first use (an ImportError
    # of a half-imported module, now and then), and on two cores a second thread sends no more requests.
    parser.add_argument("--workers", type=int, default=1, help="concurrent schemathesis workers")
    parser.add_argument("--schema", type=Path, default=OPENAPI_FILE, help="the OpenAPI document")
    args = parser.parse_args(argv)
    base_url, credentials = stack_target(os.environ)
    use_stack_environment()  # the worker's and this process's keys and addresses
    asyncio.run(_ensure_seeded(os.environ["DATABASE_URL"]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped run stops its worker too (finally)
    worker = _start_worker()
    try:
        asyncio.run(_wait_for_worker(worker))
        tokens = credentials.token_sources()
        codes = known_dossiers(base_url, tokens)
        print(f"fuzzing {base_url} with {args.schema.name}: at least {args.requests} requests; the reads also get "
              f"{len(codes)} dossiers that exist", flush=True)
        result = fuzz(base_url, tokens, minimum=args.requests, seed=args.seed, workers=args.workers, codes=codes,
                      schema_path=args.schema, progress=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    for line in result.report():
        print(line, flush=True)
    return 0 if result.passed(args.requests) else 1


if __name__ == "__main__":
    sys.exit(main())
