"""The ``generate-key`` command that the payload keys (``cutru.platform.codec``) and the decision keys
(``cutru.platform.signing``) share: both print a fresh ``keyid:base64key`` entry for their variable."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def generate_key_main(argv: Sequence[str] | None, *, prog: str, description: str, id_default: str,
                      new_key_line: Callable[[str | None], str], refused: type[Exception]) -> int:
    """Print ``new_key_line(--id)``; a refused id is one line on stderr and exit code 2."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate-key", help="print a new keyid:base64key entry")
    generate.add_argument("--id", dest="key_id", help=f"key id (default: {id_default})")
    args = parser.parse_args(argv)
    try:
        print(new_key_line(args.key_id))
    except refused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
