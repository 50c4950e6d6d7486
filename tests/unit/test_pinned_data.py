"""The data that workflow code reads from packages is pinned: a change to it fails here, before it ships.

The working-day calendar reads the public holidays and swapped working days of the ``holidays`` package, and the
rules read the administrative units of ``vietnam-provinces``, both inside workflows. A new version of either can
move a running dossier's legal deadline or change a refusal, and so break the replay of its history. The digests
below are of what cutru reads, for every year the calendar covers and every unit; when a package upgrade changes
them, decide whether running dossiers may move (``workflow.patched`` where they may not), then record the new
digests and the new pinned version together.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import version

from domain import admin_units, calendar

# Package → (the version pinned in pyproject.toml, the digest of what cutru reads from it).
PINNED = {
    "holidays": ("0.109", "c2581d5aa90c537d059c3f31cc7e1aeb8e392e7bc080119ec3595238c0fa87fa"),
    "vietnam-provinces": ("2025.10.1", "c7f38a03dfce4bdf0587ac629b38d909fe0198957a7c1896644942d1bd958ade"),
}


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def holidays_digest() -> str:
    days_off = [f"off {day.isoformat()} {name}" for day, name in sorted(calendar._PACKAGE_HOLIDAYS.items())]
    worked = [f"worked {day.isoformat()}" for day in sorted(calendar._PACKAGE_SWAPPED_WORKING_DAYS)]
    return _digest(days_off + worked)


def units_digest() -> str:
    lines = []
    for province in admin_units.all_provinces():
        lines.append(f"{province.code} {province.division_type} {province.name}")
        lines += [f"{c.province_code} {c.code} {c.division_type} {c.name}"
                  for c in admin_units.communes_of(province.code)]
    return _digest(lines)


def test_the_holiday_calendar_is_the_pinned_one():
    pinned_version, digest = PINNED["holidays"]
    assert holidays_digest() == digest, (
        f"the holidays package (installed {version('holidays')}, pinned {pinned_version}) changed the public holidays "
        f"or swapped working days of {calendar.FIRST_YEAR}–{calendar.LAST_YEAR}: running dossiers' deadlines can move")


def test_the_administrative_units_are_the_pinned_ones():
    pinned_version, digest = PINNED["vietnam-provinces"]
    assert units_digest() == digest, (
        f"vietnam-provinces (installed {version('vietnam-provinces')}, pinned {pinned_version}) changed the "
        "administrative units the rules and the forms read")

