"""The ``cutru`` command's shape: its subcommands, exit codes, ``--output`` anywhere, commands of other
distributions through the ``cutru.commands`` entry points, the replay progress line, and where a replayed history
came from."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Literal

import pytest

from cutru import cli
from cutru.clients.audit import BatchSummary, ReplayReport, print_report
from tests.cli import CUTRU

SUBCOMMANDS = ("worker", "submit", "status", "result", "supplement", "withdraw", "pay", "officer", "audit",
               "schemas", "migrate", "codec", "codec-server")


def add_commands(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """What a distribution's entry point names (cutru-local's stack, demo and seed are added so)."""
    hello = subcommands.add_parser("hello", help="a command from another distribution")
    hello.add_argument("name")
    hello.set_defaults(handler=_hello)


def _hello(args: argparse.Namespace) -> int:
    cli.emit(args, {"hello": args.name}, f"hello {args.name}")
    return 7


def test_the_console_script_lists_the_subcommands_and_the_exit_codes() -> None:
    done = subprocess.run([str(CUTRU), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for name in SUBCOMMANDS:
        assert f"\n    {name} " in done.stdout, name
    assert "exit codes:" in done.stdout
    for code in range(5):
        assert f"\n  {code}  " in done.stdout


@pytest.mark.parametrize("action", ["login", "queue", "show", "approve", "reject", "request-supplement",
                                    "escalations", "reassign", "sign-offs", "sign", "return"])
def test_the_officer_s_actions(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["officer", action, "--help"])
    assert done.value.code == 0 and f"cutru officer {action}" in capsys.readouterr().out


def test_the_officer_is_the_token_s_not_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        cli.main(["officer", "--officer", "CB-00070-01", "queue"])
    assert refused.value.code == cli.USAGE
    assert "invalid choice: 'CB-00070-01'" in capsys.readouterr().err


def test_one_vocabulary_the_officer_requests_the_citizen_supplies(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "the citizen supplies" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # the officer's old verb is gone, not a second meaning
        cli.main(["officer", "supplement", "HS-1", "--missing", "x"])
    assert refused.value.code == cli.USAGE
    assert "invalid choice: 'supplement'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["-o", "json", "codec", "generate-key", "--id", "k1"],
                                  ["codec", "generate-key", "--id", "k1", "--output", "json"],
                                  ["codec", "-o", "json", "generate-key", "--id", "k1"]])
def test_output_json_before_or_after_the_subcommand(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == cli.OK
    assert json.loads(capsys.readouterr().out)["key"].startswith("k1:")


def test_text_output_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["codec", "generate-key", "--id", "k1"]) == cli.OK
    assert capsys.readouterr().out.startswith("k1:")


def test_a_bad_value_is_a_usage_error_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["codec", "generate-key", "--id", "no spaces"]) == cli.USAGE
    err = capsys.readouterr().err
    assert err.startswith("cutru: ") and err.count("\n") == 1 and "invalid key id" in err


def test_commands_of_other_distributions_come_through_the_entry_points(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = [EntryPoint(name="hello", value="tests.unit.test_cli_parser:add_commands", group=cli.COMMANDS_GROUP),
             EntryPoint(name="broken", value="tests.unit.no_such_module:add_commands", group=cli.COMMANDS_GROUP)]
    monkeypatch.setattr(cli, "entry_points", lambda group: found if group == cli.COMMANDS_GROUP else [])
    assert cli.main(["hello", "Lan", "-o", "json"]) == 7  # the handler's exit code, and --output added to it
    out, err = capsys.readouterr()
    assert json.loads(out) == {"hello": "Lan"}
    assert "commands broken (tests.unit.no_such_module:add_commands) unavailable" in err  # the others still work


def test_the_progress_line_is_drawn_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    summary = BatchSummary(replayed=2, ok=1, non_deterministic=1, failed=0)
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = cli.Progress(5, stream)
        progress(None, summary)
        progress.done()
    assert terminal.getvalue() == "\r2/5 replayed 2, ok 1, non-deterministic 1, failed 0\r\033[K"
    assert pipe.getvalue() == ""


@pytest.mark.parametrize(("argv", "said"), [
    (["supplement", "HS-1", "--provided", ""], "invalid input: provided_items.0: String should have at least 1"),
    (["withdraw", "HS-1", "--reason", ""], "invalid input: reason: "),
])
def test_an_invalid_message_is_refused_in_one_line_before_connecting(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing listens there: a connection would say so
    assert cli.main(argv) == cli.USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"cutru: {said}") and err.count("\n") == 1, err


def test_a_file_that_is_not_json_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    assert cli.main(["submit", str(tmp_path / "bad.json")]) == cli.USAGE
    assert cli.main(["submit", str(tmp_path / "absent.json")]) == cli.USAGE
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("cutru: invalid input: Expecting property name")
    assert lines[1] == f"cutru: cannot read {tmp_path / 'absent.json'}: No such file or directory"


@pytest.mark.parametrize(("source", "said"), [("archive", "  (history: archive)"),
                                              ("temporal", "  (history: temporal)"), (None, "")])
def test_a_replay_says_where_its_history_came_from(source: Literal["temporal", "archive"] | None,
                                                   said: str) -> None:
    out = io.StringIO()
    print_report(ReplayReport(workflow_id="HS-1", workflow_type="ResidenceConfirmation", events=12,
                              deterministic=True, source=source), out)
    assert out.getvalue().splitlines()[0] == f"HS-1  ResidenceConfirmation  12 events  replay: deterministic{said}"


def test_a_call_the_server_dropped_or_rate_limited_is_unreachable_not_refused() -> None:
    """The Temporal frontend closes each connection at its maximum age: a call in flight on it ends CANCELLED and a
    second try goes through. A rate limit (RESOURCE_EXHAUSTED) passes too. Both are exit 4 with what to do, not a
    refusal."""
    from temporalio.service import RPCError, RPCStatusCode

    args = argparse.Namespace(code="HS-1")
    dropped = cli._failure(RPCError("operation was canceled", RPCStatusCode.CANCELLED, b""), args)
    assert dropped is not None and dropped.code == cli.UNREACHABLE and "run the command again" in str(dropped)
    busy = cli._failure(RPCError("namespace rate limit exceeded", RPCStatusCode.RESOURCE_EXHAUSTED, b""), args)
    assert busy is not None and busy.code == cli.UNREACHABLE and "run the command again later" in str(busy)
    refused = cli._failure(RPCError("bad request", RPCStatusCode.INVALID_ARGUMENT, b""), args)
    assert refused is not None and refused.code == cli.REFUSED
