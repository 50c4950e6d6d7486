"""The order of a round's phases (``bench.run.comparison_round``): alternated between rounds, so that the dev
server's growth over a run is not charged to whichever workload always runs last. No stack: the phases are
recorded by a stand-in for the bench's runner."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bench.floor import FloorPlan
from bench.run import Budget, comparison_round


class Recorder:
    """Records which phase ran, in order, and the time each one left for the phases after it."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.options = SimpleNamespace(encrypt=True)
        self.plain = self.coded = object()

    async def floor_phase(self, plan: FloorPlan, count: int, timeout: float, *, name: str = "floor",
                          round_number: int = 1) -> tuple[str, None]:
        self.ran.append("shaped" if plan.dossier_shape else "floor")
        return name, None

    async def dossier_phase(self, name: str, applicants: Any, *, rate: float | None, timeout: float,
                            round_number: int = 1) -> tuple[str, None]:
        self.ran.append(name)
        return name, None

    async def workload(self, phase: str, measured: None, **_: Any) -> Any:
        return SimpleNamespace(name=phase, phase=phase, run=SimpleNamespace(per_second=1.0))


@pytest.mark.parametrize(("number", "order"), [(1, ["floor", "shaped", "cutru"]), (2, ["cutru", "shaped", "floor"]),
                                               (3, ["floor", "shaped", "cutru"])])
async def test_rounds_alternate_the_order_and_return_each_workload_in_its_place(number: int, order: list[str]) -> None:
    runner = Recorder()
    results: Any = await comparison_round(runner, number, FloorPlan(before=3, after=3),  # type: ignore[arg-type]
                                                  ["applicant"] * 5, Budget(600), later=30)  # type: ignore[list-item]
    assert runner.ran == order
    assert [result.phase for result in results] == ["floor", "shaped", "cutru"]
