"""Codec server: lets the Temporal Web UI and the ``temporal`` CLI show decrypted payloads.

It speaks Temporal's remote codec protocol: ``POST /encode`` and ``POST /decode`` (also under a
``/{namespace}/`` prefix, which the CLI's ``--codec-endpoint`` may add) with a JSON body
``{"payloads": [...]}`` in protobuf JSON form. Whoever can reach it, and holds the token when one is set,
reads personal data in clear, so run it next to the key store, bind it to a private address and set
``CUTRU_CODEC_TOKEN``.

    python -m cutru.service.codec_server --port 8081 --host 127.0.0.1

Web UI: Settings → Data Encoder → ``http://127.0.0.1:8081``; CLI: ``temporal workflow show
--codec-endpoint http://127.0.0.1:8081 --codec-auth "Bearer $CUTRU_CODEC_TOKEN" ...``.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence

from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from cutru.platform.codec import EncryptionCodec, KeyConfigError, KeyRing, PayloadDecryptionError
from cutru.platform.logging import configure_logging

ENV_TOKEN = "CUTRU_CODEC_TOKEN"
ENV_ALLOWED_ORIGINS = "CUTRU_CODEC_ALLOWED_ORIGINS"
DEFAULT_ALLOWED_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")
ALLOWED_HEADERS = "content-type,x-namespace,authorization"

# Temporal accepts payloads up to 2 MiB each and a request may carry several; aiohttp's default is 1 MiB.
MAX_REQUEST_BYTES = 16 * 1024 * 1024

_OPEN_PATHS = frozenset({"/healthz"})

logger = logging.getLogger("cutru.service.codec_server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def build_app(
    keyring: KeyRing,
    allowed_origins: Iterable[str] = DEFAULT_ALLOWED_ORIGINS,
    token: str | None = None,
) -> web.Application:
    """The codec server application; ``token`` (if set) must arrive as ``Authorization: Bearer <token>``."""
    codec = EncryptionCodec(keyring)
    origins = frozenset(origin.rstrip("/") for origin in allowed_origins)
    expected_token = token.encode() if token else None

    def authorized(request: web.Request) -> bool:
        if expected_token is None or request.path in _OPEN_PATHS:
            return True
        scheme, _, credentials = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        # Constant-time comparison so response timing reveals nothing about the token.
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), expected_token
        )

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
        elif not authorized(request):
            response = _json_error(401, "missing or wrong bearer token")
            response.headers[hdrs.WWW_AUTHENTICATE] = "Bearer"
        else:
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

    async def decode(request: web.Request) -> web.Response:
        payloads = await read_payloads(request)
        try:
            decoded = await codec.decode(payloads.payloads)
        except PayloadDecryptionError as exc:
            logger.warning("decode failed: %s", exc)
            return _json_error(400, str(exc))
        return payloads_response(decoded)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(middlewares=[cors_and_auth], client_max_size=MAX_REQUEST_BYTES)
    app.router.add_post("/encode", encode)
    app.router.add_post("/decode", decode)
    # Keys are per deployment, not per namespace, so the namespace segment is accepted and ignored.
    app.router.add_post("/{namespace}/encode", encode)
    app.router.add_post("/{namespace}/decode", decode)
    app.router.add_get("/healthz", healthz)
    return app


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options, for ``python -m cutru.service.codec_server`` and ``cutru codec-server`` alike."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (default 8081)")
    parser.add_argument(
        "--allowed-origin",
        action="append",
        dest="allowed_origins",
        metavar="URL",
        help=f"Web UI origin allowed by CORS; repeatable (default: ${ENV_ALLOWED_ORIGINS}, "
        f"else {', '.join(DEFAULT_ALLOWED_ORIGINS)})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cutru.service.codec_server",
        description="Temporal codec server for the Web UI and CLI (decrypts cutru payloads).",
    )
    add_arguments(parser)
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

    origins: Sequence[str] = args.allowed_origins or [
        origin.strip() for origin in os.environ.get(ENV_ALLOWED_ORIGINS, "").split(",") if origin.strip()
    ]
    token = os.environ.get(ENV_TOKEN) or None
    if token is None:
        logger.warning("%s is not set: anyone who can reach this server can decrypt payloads", ENV_TOKEN)
    logger.info(
        "codec server on http://%s:%d, keys %s (active %s), CORS origins %s",
        args.host,
        args.port,
        ", ".join(keyring.key_ids),
        keyring.active_key_id,
        ", ".join(origins or DEFAULT_ALLOWED_ORIGINS),
    )
    web.run_app(
        build_app(keyring, origins or DEFAULT_ALLOWED_ORIGINS, token),
        host=args.host,
        port=args.port,
        print=None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
