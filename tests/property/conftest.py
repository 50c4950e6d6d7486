"""The bad-input campaign's report: every test counts the generated inputs it tried (``bad_inputs``), and the
session ends with one line in the terminal summary, whatever ``-s`` or ``-q`` say, plus a JSON report under
pytest's temporary directory:

    bad-input campaign: 2,431 generated inputs (model 2,100, starter CLI 10, workflow 321), 0 crashes, 0 stuck
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.property.tally import TALLY, BadInputTally

_REPORT_KEY = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def bad_inputs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BadInputTally]:
    yield TALLY
    report = tmp_path_factory.getbasetemp() / "bad-inputs.json"
    report.write_text(json.dumps({"inputs": dict(TALLY.inputs), "total": TALLY.total, "crashes": TALLY.crashes,
                                  "stuck": TALLY.stuck}, indent=2, ensure_ascii=False))
    request.config.stash[_REPORT_KEY] = report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    if TALLY.total:
        terminalreporter.write_sep("-", "bad-input campaign")
        terminalreporter.write_line(TALLY.line())
        report = config.stash.get(_REPORT_KEY, None)
        if report is not None:
            terminalreporter.write_line(f"report: {report}")
