"""Administrative units since 2025-07-01 (34 provinces, two-level local government) and commune police units."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.admin_units import (
    Commune,
    all_provinces,
    commune,
    commune_of_unit,
    communes_of,
    police_unit_code,
    police_unit_name,
    province_name,
)


def test_thirty_four_provinces_with_two_digit_codes() -> None:
    provinces = all_provinces()
    assert len(provinces) == 34
    assert [p.code for p in provinces] == sorted(p.code for p in provinces)
    assert all(len(p.code) == 2 and p.code.isdigit() for p in provinces)
    assert provinces[0].code == "01" and provinces[0].name == "Thành phố Hà Nội"
    assert sum(p.division_type == "thành phố trung ương" for p in provinces) == 6


def test_province_names() -> None:
    assert province_name("01") == "Thành phố Hà Nội"
    assert province_name("79") == "Thành phố Hồ Chí Minh"
    assert province_name("33") == "Hưng Yên"


def test_known_commune() -> None:
    c = commune("00070")
    assert c == Commune(
        code="00070",
        name="Phường Hoàn Kiếm",
        province_code="01",
        province_name="Thành phố Hà Nội",
        division_type="phường",
    )


def test_communes_of_a_province_are_sorted_and_belong_to_it() -> None:
    hanoi = communes_of("01")
    assert len(hanoi) == 126
    assert all(c.province_code == "01" for c in hanoi)
    assert [c.code for c in hanoi] == sorted(c.code for c in hanoi)
    assert commune("00070") in hanoi


def test_all_communes_and_their_types() -> None:
    everything = [c for p in all_provinces() for c in communes_of(p.code)]
    assert len(everything) == 3321
    assert len({c.code for c in everything}) == 3321
    assert all(len(c.code) == 5 and c.code.isdigit() for c in everything)
    assert {c.division_type for c in everything} == {"xã", "phường", "đặc khu"}


@pytest.mark.parametrize("code", ["99999", "70", "0070", "000070", "", "CA-00070"])
def test_unknown_commune_is_none(code: str) -> None:
    assert commune(code) is None


@pytest.mark.parametrize("code", ["99", "1", "001", ""])
def test_unknown_province(code: str) -> None:
    assert province_name(code) is None
    assert communes_of(code) == []


def test_police_units() -> None:
    assert police_unit_code("00070") == "CA-00070"
    assert police_unit_name("00070") == "Công an Phường Hoàn Kiếm"
    assert commune_of_unit("CA-00070") == commune("00070")
    assert commune_of_unit("CA-99999") is None
    assert commune_of_unit("00070") is None
    with pytest.raises(ValueError, match="unknown commune code"):
        police_unit_code("99999")
    with pytest.raises(ValueError, match="unknown commune code"):
        police_unit_name("70")


def test_communes_are_immutable() -> None:
    c = commune("00070")
    assert c is not None
    with pytest.raises(ValidationError):
        c.name = "x"  # type: ignore[misc]
