"""Serving the API with uvicorn (``cutru api``, ``python -m cutru.api``).

Before binding, the settings are checked (exit 2 with a one-line message: no OIDC issuer, no payload keys, a bad
variable) and Temporal, the database and the issuer are reached once (exit 4 with a one-line message), so that a
misconfigured API fails at once and says why instead of logging a traceback from its lifespan.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

# The API's modules are imported when it is served: `cutru` builds its parser, with these options, for every command.
if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import Message, Scope

    from cutru.api.settings import ApiSettings

USAGE, UNREACHABLE = 2, 4


class Unreachable(Exception):
    pass


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


async def preflight(settings: ApiSettings) -> None:
    import asyncpg

    from cutru.platform.oidc import TokenRejected, TokenVerifier
    from cutru.platform.temporal import connect

    core = settings.core
    try:
        client = await connect(core)
        await client.service_client.check_health()
    except RuntimeError as error:
        raise Unreachable(f"Temporal at {core.temporal_address} is unreachable: {_one_line(error)}") from error
    try:
        connection = await asyncpg.connect(core.database_url, timeout=10)
        await connection.close()
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise Unreachable(f"the database is unreachable: {_one_line(error)}") from error
    assert settings.oidc is not None  # load_api_settings refuses to go on without
    try:
        verifier = await TokenVerifier.discover(settings.oidc)
    except TokenRejected as error:
        raise Unreachable(f"the OIDC issuer {settings.oidc.issuer} is unreachable: {_one_line(error)}") from error
    await verifier.aclose()


async def route_everything(app: FastAPI) -> int:
    """Send one request that no route matches straight to ``app``'s router (past the middleware, so the metrics do
    not count it); returns its status, 404. FastAPI builds an included router's routes (their dependants and
    validators) at the first request that reaches the router, and a request reaches every router before it is
    found to match none: so they are all built now, not while a fresh process's first requests wait (a few hundred
    milliseconds, docs/benchmarks.md)."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                    "scheme": "http", "path": "/.well-known/cutru-warm-up", "raw_path": b"/.well-known/cutru-warm-up",
                    "root_path": "", "query_string": b"", "headers": [], "server": ("127.0.0.1", 0),
                    "client": ("127.0.0.1", 0)}
    await app.router(scope, receive, send)
    status: int = sent[0]["status"]
    return status


def serve(host: str | None = None, port: int | None = None) -> int:
    import uvicorn

    from cutru.api.app import create_app
    from cutru.api.settings import load_api_settings
    from cutru.platform.codec import KeyConfigError
    from cutru.platform.config import ConfigError
    from cutru.platform.logging import configure_logging, forward_core_logs
    from cutru.platform.signing import DecisionKeyError
    from cutru.platform.warm import warm_up

    try:
        settings = load_api_settings()
    except (ConfigError, KeyConfigError, DecisionKeyError) as error:
        print(f"cutru api: configuration: {_one_line(error)}", file=sys.stderr)
        return USAGE
    settings = settings.model_copy(update={"host": host or settings.host,
                                           "port": settings.port if port is None else port})
    configure_logging(settings.core.log_level)
    forward_core_logs()
    try:
        asyncio.run(preflight(settings))
    except Unreachable as error:
        print(f"cutru api: {error}", file=sys.stderr)
        return UNREACHABLE
    app = create_app(settings)
    asyncio.run(route_everything(app))
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port,
                                           log_config=None, server_header=False, lifespan="on"))
    warm_up()
    server.run()
    return 0 if server.started else UNREACHABLE


def command(args: argparse.Namespace) -> int:
    """The ``cutru api`` handler."""
    return serve(args.host, args.port)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (default CUTRU_API_HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default CUTRU_API_PORT, else 8000)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cutru.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return command(parser.parse_args(argv))
