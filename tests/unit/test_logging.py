"""Logs never show a personal ID number, whichever logger writes them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from cutru.platform.logging import configure_logging, get_logger

PID = "001190004567"


@pytest.fixture(autouse=True)
def _unconfigured_afterwards() -> Iterator[None]:
    """configure_logging binds the stderr of the moment, here a capture that closes with the test: later tests
    (and the activities of a worker in the same session) must not write to it."""
    handlers = list(logging.getLogger().handlers)
    yield
    structlog.reset_defaults()
    for handler in logging.getLogger().handlers:
        if handler not in handlers:
            logging.getLogger().removeHandler(handler)


def test_structlog_events_mask_ids_in_every_field(capsys: pytest.CaptureFixture[str]):
    configure_logging("INFO")
    get_logger(dossier_code="HS-1").info(f"checked {PID}", applicant={"personal_id": PID}, ids=[PID])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert PID not in line
    event = json.loads(line)
    assert event["applicant"]["personal_id"] == "001*******67" and event["dossier_code"] == "HS-1"


def test_standard_library_records_are_masked_too():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        configure_logging("INFO")
        try:
            raise ValueError(f"person {PID} not found")
        except ValueError:
            logging.getLogger("temporalio.activity").exception("Completing activity as failed for %s", PID)
    finally:
        logging.getLogger().removeHandler(handler)
    written = stream.getvalue()
    assert "Completing activity as failed for 001*******67" in written and "ValueError: person 001" in written
    assert PID not in written


def test_dossier_codes_and_short_numbers_are_left_alone(capsys: pytest.CaptureFixture[str]):
    configure_logging("INFO")
    get_logger().info("fee", amount_vnd=10000, dossier_code="HS-2026-000001", phone="0912345678901")
    event = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert event["amount_vnd"] == 10000 and event["dossier_code"] == "HS-2026-000001"
    assert event["phone"] == "0912345678901"  # 13 digits is not a personal ID number
