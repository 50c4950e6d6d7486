"""cutru-local's subcommands reach the `cutru` command through the entry-point group ``cutru.commands``."""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from cutru_local import commands


def _root_parser() -> argparse.ArgumentParser:
    """A root parser as the `cutru` command builds one: `--output` global, the group's parsers added."""
    parser = argparse.ArgumentParser(prog="cutru")
    parser.add_argument("--output", choices=["text", "json"], default="text")
    subcommands = parser.add_subparsers(dest="command", required=True)
    for entry in metadata.entry_points(group="cutru.commands"):
        entry.load()(subcommands)
    return parser


def test_the_entry_point_names_add_commands() -> None:
    (entry,) = [e for e in metadata.entry_points(group="cutru.commands") if e.value.startswith("cutru_local.")]
    assert entry.load() is commands.add_commands


@pytest.mark.parametrize(
    ("argv", "handler"),
    [
        (["stack", "up"], "_up"),
        (["--output", "json", "stack", "status"], "_status"),
        (["stack", "down", "--delete"], "_down"),
        (["demo"], "_demo"),
        (["seed", "--people", "10", "--no-progress"], "_seed"),
    ],
)
def test_each_subcommand_sets_its_handler(argv: list[str], handler: str) -> None:
    args = _root_parser().parse_args(argv)
    assert args.handler is getattr(commands, handler)


def test_the_seed_takes_its_own_options() -> None:
    args = _root_parser().parse_args(["seed", "--people", "10", "--provinces", "01,79"])
    assert (args.people, args.provinces) == (10, "01,79")


def test_stack_needs_an_action() -> None:
    with pytest.raises(SystemExit):
        _root_parser().parse_args(["stack"])


def test_the_cutru_command_lists_the_local_subcommands() -> None:
    """`cutru --help` (the console script of the install) shows cutru-local's commands beside the product's."""
    cutru = Path(sys.executable).parent / "cutru"
    result = subprocess.run([str(cutru), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ") and line.split()}
    assert {"stack", "demo", "seed", "worker", "submit"} <= listed, result.stdout

