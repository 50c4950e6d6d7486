"""Inputs the OpenAPI document types strictly are refused when only pydantic's lax reading would take them (found by
`make fuzz-api`'s negative-data check: `until=0` read as a Unix time, `"5"` or `true` as a sequence number)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import TypeAdapter, ValidationError

from cutru.api.events import ReplayRequest
from cutru.api.views import Day

DAY = TypeAdapter(Day)


def test_a_day_is_an_iso_date_and_nothing_else() -> None:
    assert DAY.validate_python("2026-01-31") == date(2026, 1, 31)
    assert DAY.validate_python(date(2026, 1, 31)) == date(2026, 1, 31)
    for wrong in ("0", 0, "1700000000", "20260131", "2026-01-31T00:00:00", "31/01/2026", ""):
        with pytest.raises(ValidationError):
            DAY.validate_python(wrong)


def test_a_replay_takes_a_json_integer_only() -> None:
    assert ReplayRequest.model_validate({"from_sequence": 5}).from_sequence == 5
    for wrong in ("5", 5.0, True, None):
        with pytest.raises(ValidationError):
            ReplayRequest.model_validate({"from_sequence": wrong})
