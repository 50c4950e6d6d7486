"""What the payload keys (``cutru.platform.codec``) and the decision keys (``cutru.platform.signing``) share: where
a ring is read from (a variable, or a file another variable names) and the ``generate-key`` command that prints a
fresh ``keyid:base64key`` entry."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


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


def key_setting(environ: Mapping[str, str], inline_var: str, file_var: str,
                refused: type[Exception]) -> tuple[str, str] | None:
    """The text of a key ring and where it came from: the inline variable or the file the other names; None when
    neither is set. ``refused`` (the ring's own error type) when both are set or the file cannot be read."""
    inline = environ.get(inline_var, "").strip()
    path = environ.get(file_var, "").strip()
    if inline and path:
        raise refused(f"both {inline_var} and {file_var} are set; set only one of them.")
    if inline:
        return inline, inline_var
    if path:
        try:
            return Path(path).read_text(encoding="utf-8"), f"{file_var} {path}"
        except OSError as error:
            raise refused(
                f"{file_var}={path}: cannot read the key file ({error.strerror or type(error).__name__})."
            ) from None
    return None
