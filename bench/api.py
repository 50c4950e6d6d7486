"""The bench's phases through the HTTP API: ``cutru api`` as its own process (uvicorn, as in production), tokens
from the local OIDC provider (the real ``oidc-provider``, client credentials of the portal), payloads encrypted.

- ``ApiStack``: the provider for the whole run (its accounts: the run's officers), one API process per phase on the
  phase's task queue, and the portal's bearer token.
- Submitters: one dossier as ``POST /v1/dossiers``; one establishment's guests as ``POST /v1/batches``, which the API
  sends to the establishment's register as one ``notify_batch`` signal.
- ``recorded_once``: every code of a burst in the read model, and no stay recorded twice.

The phases themselves run in ``bench.run`` (``Bench.api_dossier_phase``, ``Bench.api_stay_phase``), with the same
driver, officer and meters as the direct client's, so that both are measured alike in one run.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
from cutru_local.oidc import PORTAL_CLIENT, LocalOidc, stop_process

from bench.population import Applicant, stay_notification
from bench.stack import WorkerProcesses

API_STARTUP = 60.0  # seconds for the API process to answer /readyz (it reaches Temporal, PostgreSQL, the issuer)
HTTP_CONNECTIONS = 256  # the driver's connection pool towards the API: at a fixed rate only a stall fills it
HTTP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ApiStack:
    """The OIDC provider (for the run) and the portal's token from it."""

    oidc: LocalOidc
    provider_pid: int
    directory: Path

    @classmethod
    @asynccontextmanager
    async def running(cls, directory: Path, database_url: str) -> AsyncIterator[ApiStack]:
        oidc = LocalOidc(directory / "oidc", port=free_port())
        (directory / "oidc").mkdir(parents=True, exist_ok=True)
        await oidc.refresh_accounts(database_url)
        process = oidc.start()
        try:
            yield cls(oidc=oidc, provider_pid=process.pid, directory=directory)
        finally:
            stop_process(process.pid)

    def environment(self) -> dict[str, str]:
        return self.oidc.environment()

    async def portal_token(self) -> str:
        """A client-credentials access token of the portal (role portal, every unit and procedure)."""
        secret = self.oidc.secrets().client_secrets[PORTAL_CLIENT]
        async with httpx.AsyncClient(timeout=10.0) as http:
            response = await http.post(f"{self.oidc.issuer}/token", data={"grant_type": "client_credentials"},
                                       auth=(PORTAL_CLIENT, secret))
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def start_api(self, name: str, env: Mapping[str, str]) -> ApiProcess:
        """``python -m cutru.api`` (what ``cutru api`` runs) with ``env`` (the phase's task queue, keys, database)
        and this provider's settings; waits until it is ready."""
        port = free_port()
        process = WorkerProcesses(name=f"{name}-api", command=[sys.executable, "-m", "cutru.api", "--port", str(port)],
                                  env={**env, **self.environment()}, count=1, directory=self.directory,
                                  cwd=Path(__file__).resolve().parents[1])
        process.start()
        api = ApiProcess(process=process, base_url=f"http://127.0.0.1:{port}")
        try:
            api.wait_ready()
        except BaseException:
            process.stop()
            raise
        return api


@dataclass
class ApiProcess:
    process: WorkerProcesses
    base_url: str

    @property
    def pids(self) -> list[int]:
        return self.process.pids

    def wait_ready(self) -> None:
        deadline = time.monotonic() + API_STARTUP
        while True:
            self.process.check_alive()
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the API at {self.base_url} was not ready in {API_STARTUP:.0f} s")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.stop()

    def client(self, token: str) -> aiohttp.ClientSession:
        """The portal's connections for a phase. aiohttp, not httpx: the driver shares the machine with what it
        measures, and httpx's pool cost it several times aiohttp's CPU a request (docs/benchmarks.md)."""
        return aiohttp.ClientSession(self.base_url, headers={"Authorization": f"Bearer {token}"},
                                     connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS),
                                     timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT))


class ApiRefused(RuntimeError):
    """The API answered a write with an error (a RuntimeError: the driver counts it as a failed submission)."""


async def _post(http: aiohttp.ClientSession, path: str, body: Any, status: int) -> Any:
    """The API's JSON answer to ``body``, or ApiRefused for a transport error or any other status."""
    try:
        async with http.post(path, json=body) as response:
            if response.status != status:
                raise ApiRefused(f"{response.status} {(await response.text())[:80]}")
            return await response.json()
    except (aiohttp.ClientError, TimeoutError) as error:
        raise ApiRefused(f"{type(error).__name__}") from error


def dossier_submitter(http: aiohttp.ClientSession, submission: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
    async def call() -> Any:
        return await _post(http, "/v1/dossiers", submission, 201)
    return call


def batch_submitter(http: aiohttp.ClientSession, submissions: Sequence[dict[str, Any]]
                    ) -> Callable[[], Awaitable[Any]]:
    async def call() -> Any:
        result = await _post(http, "/v1/batches", {"items": list(submissions)}, 200)
        if result["accepted"] != len(submissions):
            raise ApiRefused(f"{result['accepted']} of {len(submissions)} accepted: {result['items'][:1]}")
        return result
    return call


def stay_batches(hosts: Sequence[Applicant], guests: Sequence[Applicant], batch: int,
                 code: Callable[[int], str]) -> list[tuple[list[str], list[dict[str, Any]]]]:
    """The guests in batches of ``batch``, each batch one establishment's (the hosts in turn): (codes, submissions)."""
    batches = []
    for number, start in enumerate(range(0, len(guests), batch)):
        host = hosts[number % len(hosts)]
        items = [stay_notification(host, guest, code(start + offset))
                 for offset, guest in enumerate(guests[start:start + batch])]
        batches.append(([item["dossier_code"] for item in items], items))
    return batches


@dataclass(frozen=True)
class Recorded:
    codes: int
    in_read_model: int
    stays: int
    recorded_twice: int  # codes with more than one stay_notifications row (there must be none)

    @property
    def once_each(self) -> bool:
        return self.in_read_model == self.codes == self.stays and self.recorded_twice == 0

    def __str__(self) -> str:
        if self.once_each:
            return f"each of {self.codes} recorded once"
        return (f"{self.in_read_model} of {self.codes} in the read model, {self.stays} in stay_notifications, "
                f"{self.recorded_twice} recorded twice")


async def recorded_once(database_url: str, codes: Sequence[str]) -> Recorded:
    conn = await asyncpg.connect(database_url)
    try:
        in_model = await conn.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code = ANY($1::text[])",
                                       list(codes))
        rows = await conn.fetch("SELECT dossier_code, count(*) AS n FROM stay_notifications"
                                " WHERE dossier_code = ANY($1::text[]) GROUP BY dossier_code", list(codes))
    finally:
        await conn.close()
    return Recorded(codes=len(codes), in_read_model=in_model, stays=len(rows),
                    recorded_twice=sum(1 for row in rows if row["n"] > 1))


async def wait_recorded(database_url: str, prefix: str, codes: Sequence[str], timeout: float
                        ) -> tuple[dict[str, Any], bool]:
    """Wait until the read model holds every code (those starting with ``prefix``, counted once a second by a scan
    that costs PostgreSQL little however many there are); returns each code's row write time and status, and
    whether every code was there in time."""
    deadline = time.monotonic() + timeout
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            count = await conn.fetchval("SELECT count(*) FROM dossiers WHERE dossier_code LIKE $1", f"{prefix}%")
            if count >= len(codes) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        rows = await conn.fetch("SELECT dossier_code, status, updated_at FROM dossiers"
                                " WHERE dossier_code = ANY($1::text[])", list(codes))
    finally:
        await conn.close()
    return {row["dossier_code"]: (row["updated_at"], row["status"]) for row in rows}, len(rows) >= len(codes)
