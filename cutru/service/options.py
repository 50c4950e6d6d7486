"""The service processes' options, shared by their own entry points (``python -m cutru.service.worker``,
``python -m cutru.service.codec_server``) and the ``cutru worker`` and ``cutru codec-server`` commands.

Apart from the processes so that `cutru` builds its parser, for every command, without importing them."""

from __future__ import annotations

import argparse

ENV_ALLOWED_ORIGINS = "CUTRU_CODEC_ALLOWED_ORIGINS"
DEFAULT_ALLOWED_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")


def worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="exit 0 when Temporal and PostgreSQL are reachable")
    parser.add_argument("--set-current", action="store_true",
                        help="once polling, make this worker's version (CUTRU_DEPLOYMENT_NAME, CUTRU_BUILD_ID) its "
                             "deployment's current one: new dossiers and auto-upgrade workflows move to it")


def codec_server_arguments(parser: argparse.ArgumentParser) -> None:
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
