"""cutru-local's subcommands of ``cutru``: ``stack up|down|status``, ``demo``, ``seed``.

The ``cutru`` command (``cutru.cli``) finds them through the entry-point group ``cutru.commands`` (registered in
local/pyproject.toml), so the runtime install, which lacks cutru-local, has none of them. ``python -m cutru_local``
runs them without the ``cutru`` command. Each handler returns the exit code and honours the root parser's
``--output text|json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cutru_local import seed, stack


def _print(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2) if getattr(args, "output", "text") == "json" else text)


def _stack_text(addresses: stack.StackAddresses) -> str:
    lines = []
    if addresses.api_url:
        lines.append(f"API           {addresses.api_url} (contract {addresses.api_url}/openapi.json)")
    if addresses.oidc_issuer:
        lines.append(f"OIDC issuer   {addresses.oidc_issuer} (accounts: the officers, KT-AUDITOR-01, VH-OPERATOR-01;"
                     " password CUTRU_LOCAL_PASSWORD)")
    if addresses.payment_gateway_url:
        lines.append(f"payments      {addresses.payment_gateway_url} (local gateway, VNPAY's protocol)")
    return "\n".join([
        *lines,
        f"Temporal      {addresses.temporal_address} (namespace {addresses.namespace})",
        f"Web UI        {addresses.temporal_ui}/namespaces/{addresses.namespace}/workflows",
        f"PostgreSQL    {addresses.database_url}" + (" (the stack's own)" if addresses.embedded_postgres else ""),
        f"environment   {stack.ENV_FILE} (sh: set -a; . {stack.ENV_FILE}; set +a)",
    ])


def _up(args: argparse.Namespace) -> int:
    addresses = stack.up()
    _print(args, {**addresses.model_dump(), "env_file": str(stack.ENV_FILE)}, _stack_text(addresses))
    return 0


def _down(args: argparse.Namespace) -> int:
    message = stack.down(delete=args.delete)
    _print(args, {"stopped": True, "deleted": args.delete, "message": message}, message)
    return 0


def _status(args: argparse.Namespace) -> int:
    addresses = stack.read_stack()
    if addresses is None:
        _print(args, {"running": False}, "the local stack is not running (start it with `cutru stack up`)")
        return 3  # as `systemctl status` and `pg_ctl status` say "not running"
    _print(args, {"running": True, **addresses.model_dump(), "env_file": str(stack.ENV_FILE)},
           _stack_text(addresses))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from cutru_local import demo  # imported here: it loads the workflows and the example files

    demo.main()
    return 0


def _seed(args: argparse.Namespace) -> int:
    stack.use_stack_environment()
    return seed.run(args)


def add_commands(subcommands: argparse._SubParsersAction) -> None:
    """Add cutru-local's parsers to the ``cutru`` command (the ``cutru.commands`` entry point)."""
    stack_parser = subcommands.add_parser("stack",
                                          help="the local stack: Temporal, PostgreSQL, OIDC, payments, the API",
                                          description=stack.__doc__,
                                          formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = stack_parser.add_subparsers(dest="stack_action", required=True, metavar="{up,down,status}")
    actions.add_parser("up", help="start what is not running, migrate, write .cutru/env").set_defaults(handler=_up)
    down = actions.add_parser("down", help="stop the stack (its data kept)")
    down.add_argument("--delete", action="store_true", help="delete the stack's data too")
    down.set_defaults(handler=_down)
    actions.add_parser("status", help="where the stack runs (exit 3: not running)").set_defaults(handler=_status)
    subcommands.add_parser("demo", help="the whole service on this machine, end to end").set_defaults(handler=_demo)
    seed_parser = subcommands.add_parser("seed", help="load a synthetic population into the stack's database",
                                         description=seed.SEED_DESCRIPTION)
    seed.add_arguments(seed_parser)
    seed_parser.set_defaults(handler=_seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cutru_local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", choices=["text", "json"], default="text")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
