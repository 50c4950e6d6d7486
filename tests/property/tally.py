"""The bad-input campaign's counters, shared by its tests and reported by ``tests/property/conftest.py``."""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

_EXPLORE = os.environ.get("CUTRU_FUZZ") == "explore"


def fuzz_settings(max_examples: int) -> settings:
    """Settings of one bad-input test: ``max_examples`` generated inputs (four times more when exploring).

    Derandomized unless ``CUTRU_FUZZ=explore``: a CI run is reproducible, an exploring run draws fresh inputs.
    Applied per test, never loaded as a global profile, so other tests' Hypothesis settings stay theirs.
    """
    return settings(
        max_examples=max_examples * (4 if _EXPLORE else 1), derandomize=not _EXPLORE, database=None,
        deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                               HealthCheck.function_scoped_fixture],
    )


class BadInputTally:
    """Inputs tried, by path (model, workflow, starter CLI), and the crashes and stuck workflows seen."""

    def __init__(self) -> None:
        self.inputs: Counter[str] = Counter()
        self.crashes: list[str] = []
        self.stuck: list[str] = []

    def tried(self, path: str, n: int = 1) -> None:
        self.inputs[path] += n

    @property
    def total(self) -> int:
        return sum(self.inputs.values())

    def line(self) -> str:
        parts = ", ".join(f"{name} {n:,}" for name, n in sorted(self.inputs.items()))
        return (f"bad-input campaign: {self.total:,} generated inputs ({parts}), "
                f"{len(self.crashes)} crashes, {len(self.stuck)} stuck")


TALLY = BadInputTally()
