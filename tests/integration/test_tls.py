"""TLS and mTLS to Temporal with the variables the ``temporal`` CLI reads, against the session's dev server.

``temporal server start-dev`` (CLI 1.9.1) has no server-side TLS options: its ``--tls-*`` flags configure the
CLI as a client. So the dev server is put behind a TLS terminator that this test runs: it presents a server
certificate from a throw-away CA, requires (or not) a client certificate signed by that CA, negotiates HTTP/2
by ALPN like a TLS-enabled Temporal frontend, and passes the decrypted gRPC stream to the plain-text dev server.
The SDK client therefore performs a real TLS handshake with the configuration that ``load_settings`` reads through
``temporalio.envconfig`` from TEMPORAL_TLS_* and TEMPORAL_API_KEY.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cutru.platform.config import TEMPORAL_VARIABLES, Settings, load_settings
from cutru.platform.temporal import connect
from tests.tls_certs import SERVER_NAME, Authority, Issued
from worker import check

CLIENT_NAME = "cutru-worker"
# A refused handshake surfaces from the SDK's connect as a RuntimeError; bound it in case the client retried.
REFUSAL_TIMEOUT = 30


@dataclass(frozen=True)
class Pki:
    ca: Authority
    server: Issued
    client: Issued
    rogue_client: Issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = Authority.create(directory, "cutru")
    rogue = Authority.create(directory, "rogue")
    return Pki(
        ca=ca,
        server=ca.issue(SERVER_NAME, server=True),
        client=ca.issue(CLIENT_NAME, server=False),
        rogue_client=rogue.issue(CLIENT_NAME, server=False),
    )


class TlsTerminator:
    """A TLS front for a plain-text gRPC server; records the client certificate subjects it accepted."""

    def __init__(self, upstream: str, server: Issued, client_ca: Path | None) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(server.cert, server.key)
        self._context.set_alpn_protocols(["h2"])
        if client_ca is not None:
            self._context.verify_mode = ssl.CERT_REQUIRED
            self._context.load_verify_locations(client_ca)
        self.client_subjects: list[str] = []
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self._context)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        subject = dict(item for rdn in peer.get("subject", ()) for item in rdn)
        if subject:
            self.client_subjects.append(subject["commonName"])
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        pipes = {asyncio.create_task(self._pipe(reader, up_writer)), asyncio.create_task(self._pipe(up_reader, writer))}
        self._pipes |= pipes
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for task in pipes:
            task.cancel()
        for closing in (writer, up_writer):
            closing.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()


@contextlib.asynccontextmanager
async def terminator(
    settings: Settings, pki: Pki, *, require_client_cert: bool
) -> AsyncIterator[tuple[TlsTerminator, int]]:
    front = TlsTerminator(settings.temporal_address, pki.server, pki.ca.cert_path if require_client_cert else None)
    port = await front.start()
    try:
        yield front, port
    finally:
        await front.stop()


@pytest.fixture
def tls_settings(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, tmp_path: Path
) -> Callable[..., Settings]:
    """Settings read from the environment, pointed at the TLS front, with the given TEMPORAL_* variables."""

    def read(port: int, **variables: str | None) -> Settings:
        for var in TEMPORAL_VARIABLES:
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "no-such-temporal.toml"))
        monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{port}")
        monkeypatch.setenv("TEMPORAL_NAMESPACE", settings.namespace)
        monkeypatch.setenv("DATABASE_URL", settings.database_url)
        for var, value in variables.items():
            if value is not None:
                monkeypatch.setenv(var, value)
        return load_settings()

    return read


async def test_mtls_with_client_certificate_ca_and_server_name(
    settings: Settings, pki: Pki, tls_settings: Callable[..., Settings]
) -> None:
    async with terminator(settings, pki, require_client_cert=True) as (front, port):
        mtls = tls_settings(
            port,
            TEMPORAL_TLS_CLIENT_CERT_PATH=str(pki.client.cert), TEMPORAL_TLS_CLIENT_KEY_PATH=str(pki.client.key),
            TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(pki.ca.cert_path), TEMPORAL_TLS_SERVER_NAME=SERVER_NAME,
        )
        client = await connect(mtls)
        assert await client.service_client.check_health()
        assert (await client.count_workflows("WorkflowId = 'no-such-dossier'")).count == 0
        # The health command of the container runs the same connection (and the database check).
        await check(mtls)
    assert front.client_subjects and set(front.client_subjects) == {CLIENT_NAME}


async def test_server_certificate_checked_against_the_address_without_a_server_name(
    settings: Settings, pki: Pki, tls_settings: Callable[..., Settings]
) -> None:
    # The server certificate also names 127.0.0.1, so no TEMPORAL_TLS_SERVER_NAME override is needed.
    async with terminator(settings, pki, require_client_cert=True) as (_, port):
        client = await connect(tls_settings(
            port,
            TEMPORAL_TLS_CLIENT_CERT_PATH=str(pki.client.cert), TEMPORAL_TLS_CLIENT_KEY_PATH=str(pki.client.key),
            TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(pki.ca.cert_path),
        ))
        assert await client.service_client.check_health()


async def test_api_key_turns_tls_on_without_a_client_certificate(
    settings: Settings, pki: Pki, tls_settings: Callable[..., Settings]
) -> None:
    """Temporal Cloud with an API key: TLS with a server CA, no client certificate. (The dev server behind the
    front ignores the key; what is checked is that the key brings TLS with it.)"""
    async with terminator(settings, pki, require_client_cert=False) as (front, port):
        client = await connect(tls_settings(
            port, TEMPORAL_API_KEY="test-api-key",
            TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(pki.ca.cert_path), TEMPORAL_TLS_SERVER_NAME=SERVER_NAME,
        ))
        assert await client.service_client.check_health()
    assert front.client_subjects == []


# Why each connection fails, as the SDK reports it: the client rejects the server certificate itself, or the
# server (the front) drops the connection during the handshake and the client's first call finds it closed
# (reported as a transport error or a cancelled call, depending on timing).
_DROPPED_BY_SERVER = "call error after connection"
REFUSALS = {
    "no client certificate": _DROPPED_BY_SERVER,
    "client certificate of another CA": _DROPPED_BY_SERVER,
    "wrong server name": "InvalidCertificate.*NotValidForName",
    "server CA not trusted": "InvalidCertificate.*UnknownIssuer",
    "plain text to a TLS port": _DROPPED_BY_SERVER,
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_misconfigured_tls_is_refused(
    settings: Settings, pki: Pki, tls_settings: Callable[..., Settings], case: str
) -> None:
    good: dict[str, str | None] = {
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.client.cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki.client.key),
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.ca.cert_path),
        "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
    }
    changes: dict[str, dict[str, str | None]] = {
        "no client certificate": {"TEMPORAL_TLS_CLIENT_CERT_PATH": None, "TEMPORAL_TLS_CLIENT_KEY_PATH": None},
        "client certificate of another CA": {
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.rogue_client.cert),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki.rogue_client.key),
        },
        "wrong server name": {"TEMPORAL_TLS_SERVER_NAME": "frontend.elsewhere.test"},
        "server CA not trusted": {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": None},
        "plain text to a TLS port": dict.fromkeys(good),
    }
    async with terminator(settings, pki, require_client_cert=True) as (front, port):
        with pytest.raises(RuntimeError, match=REFUSALS[case]):
            async with asyncio.timeout(REFUSAL_TIMEOUT):
                client = await connect(tls_settings(port, **{**good, **changes[case]}))
                # With TLS 1.3 a rejected client certificate is reported after the handshake, on first use.
                await client.service_client.check_health()
    assert front.client_subjects == []
