"""Administrative units (đơn vị hành chính) since 2025-07-01: 34 provinces and about 3,321 communes.

Local government has two levels (chính quyền địa phương hai cấp): province (tỉnh / thành phố trung ương) and
commune (xã / phường / đặc khu). The data comes from the ``vietnam-provinces`` package; this module only turns
its integer codes into the zero-padded strings used everywhere else: province ``"01"``, commune ``"00070"``.

Every commune has a police station (Công an cấp xã), the authority for the residence procedures there.

Pure lookups: the package's tables load on first use and are indexed once. When used inside workflow code, pass
``vietnam_provinces`` and this module through the sandbox so the tables are not reloaded for every run.
"""

from __future__ import annotations

from functools import cache
from typing import Literal, NamedTuple, cast

from pydantic import BaseModel

DivisionType = Literal["xã", "phường", "đặc khu"]
ProvinceType = Literal["tỉnh", "thành phố trung ương"]


class Province(BaseModel, frozen=True):
    code: str  # 2 digits, e.g. "01"
    name: str  # e.g. "Thành phố Hà Nội"
    division_type: ProvinceType


class Commune(BaseModel, frozen=True):
    """A commune-level unit (đơn vị hành chính cấp xã)."""

    code: str  # 5 digits, e.g. "00070"
    name: str  # with its type, e.g. "Phường Hoàn Kiếm"
    province_code: str
    province_name: str
    division_type: DivisionType


class _Index(NamedTuple):
    provinces: dict[str, Province]
    communes: dict[str, Commune]
    by_province: dict[str, list[Commune]]


@cache
def _index() -> _Index:
    # Imported here, not at module top: the package builds thousands of objects at import.
    from vietnam_provinces.lookup import PROVINCE_MAPPING, WARD_MAPPING

    provinces = {
        f"{p.code:02d}": Province(
            code=f"{p.code:02d}", name=p.name, division_type=cast(ProvinceType, p.division_type.value)
        )
        for p in sorted(PROVINCE_MAPPING.values(), key=lambda p: int(p.code))
    }
    communes: dict[str, Commune] = {}
    by_province: dict[str, list[Commune]] = {code: [] for code in provinces}
    for w in sorted(WARD_MAPPING.values(), key=lambda w: int(w.code)):
        province_code = f"{w.province_code:02d}"
        c = Commune(
            code=f"{w.code:05d}",
            name=w.name,
            province_code=province_code,
            province_name=provinces[province_code].name,
            division_type=cast(DivisionType, w.division_type.value),
        )
        communes[c.code] = c
        by_province[province_code].append(c)
    return _Index(provinces, communes, by_province)


def all_provinces() -> list[Province]:
    """The 34 provinces, by code."""
    return list(_index().provinces.values())


def province_name(code: str) -> str | None:
    p = _index().provinces.get(code)
    return p.name if p else None


def commune(code: str) -> Commune | None:
    return _index().communes.get(code)


def communes_of(province_code: str) -> list[Commune]:
    """Communes of a province by code; empty for an unknown province."""
    return list(_index().by_province.get(province_code, ()))


def _known(commune_code: str) -> Commune:
    c = commune(commune_code)
    if c is None:
        raise ValueError(f"unknown commune code {commune_code!r} (expected 5 digits, e.g. '00070')")
    return c


def police_unit_code(commune_code: str) -> str:
    """The commune police unit (Công an cấp xã): ``"00070"`` → ``"CA-00070"``."""
    return "CA-" + _known(commune_code).code


def police_unit_name(commune_code: str) -> str:
    """``"00070"`` → ``"Công an Phường Hoàn Kiếm"``."""
    return "Công an " + _known(commune_code).name


def commune_of_unit(unit_code: str) -> Commune | None:
    """Inverse of :func:`police_unit_code`; None for anything that is not a known unit code."""
    return commune(unit_code[3:]) if unit_code.startswith("CA-") else None


def format_address(province_code: str, commune_code: str, address_line: str) -> str:
    """An address as the forms print it: the line, the commune's name, the province's name."""
    unit = commune(commune_code)
    return ", ".join(part for part in (address_line, unit.name if unit else commune_code,
                                       province_name(province_code)) if part)
