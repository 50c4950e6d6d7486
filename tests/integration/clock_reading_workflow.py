"""A workflow that breaks the rules: it reads the wall clock (``tests/integration/test_sandbox.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import workflow


@workflow.defn
class ClockReading:
    @workflow.run
    async def run(self) -> str:
        return datetime.now(UTC).isoformat()
