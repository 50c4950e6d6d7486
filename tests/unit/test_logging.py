"""Logs never show a personal ID number, whichever logger writes them."""

from __future__ import annotations

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
    handlers, level = list(logging.getLogger().handlers), logging.getLogger().level
    yield
    structlog.reset_defaults()
    logging.getLogger().setLevel(level)
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


def test_standard_library_records_are_json_and_masked_too(capsys: pytest.CaptureFixture[str]):
    """The Temporal SDK logs activity failures through ``logging``, with the exception and its extra fields."""
    configure_logging("INFO")
    try:
        raise ValueError(f"person {PID} not found")
    except ValueError:
        logging.getLogger("temporalio.activity").exception(
            "Completing activity as failed for %s", PID, extra={"temporal_activity": {"activity_id": "1"}}
        )
    written = capsys.readouterr().err.strip().splitlines()
    assert PID not in "\n".join(written)
    event = json.loads(written[-1])
    assert event["event"] == "Completing activity as failed for 001*******67"
    assert event["level"] == "error" and event["logger"] == "temporalio.activity"
    assert event["temporal_activity"] == {"activity_id": "1"} and "timestamp" in event
    assert "ValueError: person 001*******67 not found" in event["exception"]


def test_standard_library_records_below_the_level_are_dropped(capsys: pytest.CaptureFixture[str]):
    configure_logging("WARNING")
    logging.getLogger("asyncpg.pool").info("connection %s opened", 1)
    logging.getLogger("asyncpg.pool").warning("pool %s exhausted", "p1")
    lines = capsys.readouterr().err.strip().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["pool p1 exhausted"]


def test_dossier_codes_and_short_numbers_are_left_alone(capsys: pytest.CaptureFixture[str]):
    configure_logging("INFO")
    get_logger().info("fee", amount_vnd=10000, dossier_code="HS-2026-000001", phone="0912345678901")
    event = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert event["amount_vnd"] == 10000 and event["dossier_code"] == "HS-2026-000001"
    assert event["phone"] == "0912345678901"  # 13 digits is not a personal ID number
