"""Codec server: lets the Temporal Web UI and the ``temporal`` CLI show decrypted payloads.

It speaks Temporal's remote codec protocol: ``POST /encode`` and ``POST /decode`` (also under a
``/{namespace}/`` prefix, which the CLI's ``--codec-endpoint`` may add) with a JSON body
``{"payloads": [...]}`` in protobuf JSON form. Every call needs a bearer token of the OIDC issuer
(``CUTRU_OIDC_ISSUER``, ``CUTRU_OIDC_AUDIENCE``: cutru.platform.oidc) whose holder is an operator or an auditor;
without an issuer configured the server does not start.

Each decode is a read of personal data, recorded in ``personal_data_reads`` (``cutru.platform.reads``; the
database of ``DATABASE_URL``, as the append-only role ``cutru_codec``) before the payloads are answered: a decode
that cannot be recorded is not served. The codec protocol names no workflow, so the record names the dossiers the
decoded payloads themselves name (their ``dossier_code`` fields: a submission, a trail entry), or none; it always
says who decoded how many payloads, in which namespace, and when. The same record is a JSON log line
(``payloads decoded``) for the log pipeline.

    python -m cutru.service.codec_server --port 8081 --host 127.0.0.1

Web UI: Settings → Data Encoder → ``http://127.0.0.1:8081`` with "pass the user access token" (the UI's sign-in
must issue tokens for cutru's audience); CLI: ``temporal workflow show --codec-endpoint http://127.0.0.1:8081
--codec-auth "Bearer $TOKEN" ...`` with an operator's or auditor's access token.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import asyncpg
import structlog
from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from cutru.platform.codec import EncryptionCodec, KeyConfigError, KeyRing, PayloadDecryptionError
from cutru.platform.config import ConfigError, load_settings
from cutru.platform.logging import configure_logging
from cutru.platform.oidc import IssuerUnavailable, Principal, Role, TokenRejected, TokenVerifier, oidc_settings_from_env
from cutru.platform.reads import Channel, Executor, record_reads
from cutru.service.options import DEFAULT_ALLOWED_ORIGINS, ENV_ALLOWED_ORIGINS, codec_server_arguments
from cutru.service.worker import database_pool

ALLOWED_HEADERS = "content-type,x-namespace,authorization"

# Temporal accepts payloads up to 2 MiB each and a request may carry several; aiohttp's default is 1 MiB.
MAX_REQUEST_BYTES = 16 * 1024 * 1024

_OPEN_PATHS = frozenset({"/healthz"})
MAX_CODES = 100  # dossiers named in one record: a decode request carries one history page at most
ALLOWED_ROLES = frozenset({Role.OPERATOR, Role.AUDITOR})
_PRINCIPAL = web.RequestKey("principal", Principal)

logger = logging.getLogger("cutru.service.codec_server")
audit_log = structlog.get_logger("cutru.service.codec_server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _bearer(request: web.Request) -> str | None:
    scheme, _, credentials = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def _unauthorized(message: str) -> web.Response:
    response = _json_error(401, message)
    response.headers[hdrs.WWW_AUTHENTICATE] = 'Bearer error="invalid_token"'
    return response


def dossier_codes(payloads: Sequence[Payload]) -> list[str]:
    """The dossier codes that decoded JSON payloads name (``dossier_code`` fields at any depth), sorted."""
    found: set[str] = set()
    for payload in payloads:
        if payload.metadata.get("encoding") != b"json/plain":
            continue
        try:
            pending: list[Any] = [json.loads(payload.data)]
        except ValueError:
            continue
        while pending:
            value = pending.pop()
            if isinstance(value, dict):
                code = value.get("dossier_code")
                if isinstance(code, str) and 0 < len(code) <= 64:
                    found.add(code)
                pending.extend(value.values())
            elif isinstance(value, list):
                pending.extend(value)
    return sorted(found)[:MAX_CODES]


def build_app(
    keyring: KeyRing,
    verifier: TokenVerifier,
    reads: Executor,
    allowed_origins: Iterable[str] = DEFAULT_ALLOWED_ORIGINS,
) -> web.Application:
    """The codec server application: operators' and auditors' bearer tokens, verified by ``verifier``; each decode
    recorded through ``reads`` (the database) and in the log."""
    # It only shows payloads: histories recorded in clear before encryption became mandatory are shown as they are.
    codec = EncryptionCodec(keyring, plaintext="pass")
    origins = frozenset(origin.rstrip("/") for origin in allowed_origins)

    async def authenticate(request: web.Request) -> web.StreamResponse | Principal:
        token = _bearer(request)
        if token is None:
            return _unauthorized("a bearer token is required (an operator's or auditor's access token)")
        try:
            principal = await verifier.verify(token)
        except IssuerUnavailable as exc:
            logger.warning("token not checked: %s", exc)
            return _json_error(503, "the token issuer is unreachable; try again shortly")
        except TokenRejected as exc:
            return _unauthorized(str(exc))
        if not principal.roles & ALLOWED_ROLES:
            return _json_error(403, "only operators and auditors may use the codec server")
        return principal

    def add_cors(request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get(hdrs.ORIGIN)
        response.headers[hdrs.VARY] = "Origin"
        if origin is not None and origin in origins:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            # The UI's "include cross-origin credentials" option needs this to send the token.
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"

    @web.middleware
    async def cors_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        response: web.StreamResponse
        if request.method == hdrs.METH_OPTIONS:
            # Browsers send the preflight without credentials, so it is answered before the token check.
            response = web.Response(status=204)
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "POST, OPTIONS"
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = ALLOWED_HEADERS
            response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = "600"
        elif request.path in _OPEN_PATHS:
            response = await handler(request)
        else:
            outcome = await authenticate(request)
            if isinstance(outcome, web.StreamResponse):
                response = outcome
            else:
                request[_PRINCIPAL] = outcome
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    response = _json_error(exc.status, exc.reason)
        # CORS headers on errors too, or the browser reports a CORS failure instead of the real status.
        add_cors(request, response)
        return response

    async def read_payloads(request: web.Request) -> Payloads:
        body = await request.read()
        try:
            return json_format.Parse(body, Payloads())
        except (json_format.ParseError, UnicodeDecodeError):
            raise web.HTTPBadRequest(
                reason='body must be {"payloads": [...]} in protobuf JSON form'
            ) from None

    def payloads_response(payloads: Sequence[Payload]) -> web.Response:
        # Built per payload so an empty list still answers {"payloads": []}, which clients expect.
        return web.json_response({"payloads": [json_format.MessageToDict(p) for p in payloads]})

    async def encode(request: web.Request) -> web.Response:
        payloads = await read_payloads(request)
        return payloads_response(await codec.encode(payloads.payloads))

    async def record_decode(request: web.Request, decoded: Sequence[Payload]) -> None:
        principal = request[_PRINCIPAL]
        namespace = request.match_info.get("namespace") or request.headers.get("X-Namespace") or ""
        codes = dossier_codes(decoded)
        await record_reads(reads, principal, codes or [None], Channel.CODEC, "decode", namespace=namespace,
                           payloads=len(decoded))
        audit_log.info(
            "payloads decoded", subject=principal.subject, client_id=principal.client_id,
            roles=sorted(principal.roles), token_id=principal.token_id, payloads=len(decoded), namespace=namespace,
            dossiers=codes,
        )

    async def decode(request: web.Request) -> web.Response:
        payloads = await read_payloads(request)
        try:
            decoded = await codec.decode(payloads.payloads)
        except PayloadDecryptionError as exc:
            logger.warning("decode failed: %s", exc)
            return _json_error(400, str(exc))
        if decoded:
            try:
                await record_decode(request, decoded)
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                # Unrecorded, the payloads are not shown.
                logger.warning("decode not recorded: %s", exc)
                return _json_error(503, "the decode could not be recorded; try again shortly")
        return payloads_response(decoded)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[cors_and_auth], client_max_size=MAX_REQUEST_BYTES)
    app.router.add_post("/encode", encode)
    app.router.add_post("/decode", decode)
    # Keys are per deployment, not per namespace: the namespace segment only goes into the decode record.
    app.router.add_post("/{namespace}/encode", encode)
    app.router.add_post("/{namespace}/decode", decode)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cutru.service.codec_server",
        description="Temporal codec server for the Web UI and CLI (decrypts cutru payloads).",
    )
    codec_server_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging("INFO")  # JSON lines, as the worker's

    try:
        keyring = KeyRing.from_env()
    except KeyConfigError as exc:
        parser.error(str(exc))
    if keyring is None:
        parser.error(
            "no payload keys configured: set CUTRU_PAYLOAD_KEYS or CUTRU_PAYLOAD_KEY_FILE "
            "(generate a key with `python -m cutru.platform.codec generate-key`)."
        )

    try:
        oidc = oidc_settings_from_env()
    except ConfigError as exc:
        parser.error(str(exc))
    if oidc is None:
        parser.error(
            "no token issuer configured: set CUTRU_OIDC_ISSUER and CUTRU_OIDC_AUDIENCE (the codec server decrypts "
            "for operators and auditors signed in with the same OpenID Connect provider as the API)."
        )
    origins: Sequence[str] = args.allowed_origins or [
        origin.strip() for origin in os.environ.get(ENV_ALLOWED_ORIGINS, "").split(",") if origin.strip()
    ]

    try:
        settings = load_settings()
    except ConfigError as exc:
        parser.error(str(exc))

    async def application() -> web.Application:
        verifier = await TokenVerifier.discover(oidc)
        pool = await database_pool(settings.database_url, 2, settings.database)
        app = build_app(keyring, verifier, pool, origins or DEFAULT_ALLOWED_ORIGINS)

        async def close(_: web.Application) -> None:
            await verifier.aclose()
            await pool.close()

        app.on_cleanup.append(close)
        logger.info(
            "codec server on http://%s:%d, keys %s (active %s), issuer %s, CORS origins %s",
            args.host, args.port, ", ".join(keyring.key_ids), keyring.active_key_id, oidc.issuer,
            ", ".join(origins or DEFAULT_ALLOWED_ORIGINS),
        )
        return app

    try:
        web.run_app(application(), host=args.host, port=args.port, print=None)
    except IssuerUnavailable as exc:
        parser.exit(4, f"{parser.prog}: the token issuer is unreachable: {exc}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
