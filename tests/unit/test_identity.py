"""Personal ID numbers (số định danh cá nhân): layout rules, actionable messages, generation, masking."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.admin_units import all_provinces
from domain.identity import generate_personal_id, mask_personal_id, personal_id_problems

CENTURY_SEX_DIGITS = [
    (1900, "male", "0"),
    (1999, "female", "1"),
    (2000, "male", "2"),
    (2025, "female", "3"),
    (2100, "male", "4"),
    (2199, "female", "5"),
    (2200, "male", "6"),
    (2250, "female", "7"),
    (2300, "male", "8"),
    (2399, "female", "9"),
]


@pytest.mark.parametrize(("year", "sex", "digit"), CENTURY_SEX_DIGITS)
def test_every_century_and_sex_has_its_digit(year: int, sex: str, digit: str) -> None:
    born = date(year, 6, 15)
    pid = generate_personal_id(random.Random(year), "01", born, sex)  # type: ignore[arg-type]
    assert pid[3] == digit
    assert pid[4:6] == f"{year % 100:02d}"
    assert personal_id_problems(pid, born, sex) == []  # type: ignore[arg-type]
    other = "female" if sex == "male" else "male"
    assert personal_id_problems(pid, born, other)  # type: ignore[arg-type]


def test_consistent_number_has_no_problems() -> None:
    assert personal_id_problems("001203012345", date(2003, 4, 5), "male") == []
    assert personal_id_problems("001198012345", date(1998, 12, 31), "female") == []


def test_sex_mismatch_names_digit_4_and_what_it_says() -> None:
    problems = personal_id_problems("001303012345", date(2003, 4, 5), "male")
    assert problems == ["digit 4 is 3: female born in the 2000s, but the stated sex is male"]


def test_century_mismatch_names_the_birth_date() -> None:
    problems = personal_id_problems("001298012345", date(1998, 4, 5), "male")
    assert problems == ["digit 4 is 2: male born in the 2000s, but the birth date 1998-04-05 is in the 1900s"]


def test_year_mismatch_names_digits_5_and_6() -> None:
    problems = personal_id_problems("001003012345", date(1998, 4, 5), "male")
    assert problems == ["digits 5–6 are 03 (born in ..03), but the birth date 1998-04-05 says ..98"]


def test_several_mismatches_are_all_reported() -> None:
    problems = personal_id_problems("999303012345", date(1998, 4, 5), "male")
    assert len(problems) == 4
    assert problems[0] == "digits 1–3 are 999: unknown province code 999 of birth registration"
    assert any("stated sex is male" in p for p in problems)
    assert any("is in the 1900s" in p for p in problems)
    assert any(p.startswith("digits 5–6") for p in problems)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("00120301234", "must be exactly 12 digits, got 11 characters"),
        ("0012030123456", "must be exactly 12 digits, got 13 characters"),
        ("", "must be exactly 12 digits, got 0 characters"),
        ("00120301234A", "must contain only the digits 0–9"),
        ("001 03012345", "must contain only the digits 0–9"),
        ("００１２０３０１２３４５", "must contain only the digits 0–9"),  # full-width digits are not ASCII
    ],
)
def test_format_problems(value: str, message: str) -> None:
    assert personal_id_problems(value, date(2003, 4, 5), "male") == [message]


def test_former_province_codes_stay_valid() -> None:
    # Nam Định (036) merged into Ninh Bình in 2025, but numbers issued before keep their code.
    assert personal_id_problems("036085012345", date(1985, 1, 1), "male") == []
    assert personal_id_problems("003085012345", date(1985, 1, 1), "male") == [
        "digits 1–3 are 003: unknown province code 003 of birth registration"
    ]


def test_birth_year_outside_the_encodable_range() -> None:
    problems = personal_id_problems("001099012345", date(1899, 1, 1), "male")
    assert any("outside 1900–2399" in p for p in problems)
    with pytest.raises(ValueError, match="outside 1900–2399"):
        generate_personal_id(random.Random(1), "01", date(1899, 1, 1), "male")


def test_generation_refuses_unknown_province() -> None:
    with pytest.raises(ValueError, match="unknown province code 99"):
        generate_personal_id(random.Random(1), "99", date(2000, 1, 1), "male")
    with pytest.raises(ValueError, match="2 digits"):
        generate_personal_id(random.Random(1), "1", date(2000, 1, 1), "male")


def test_generation_is_deterministic_per_rng_state() -> None:
    a = [generate_personal_id(random.Random(42), "79", date(1990, 5, 1), "female") for _ in range(3)]
    assert len(set(a)) == 1


PROVINCES = [p.code for p in all_provinces()]


@settings(max_examples=500, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    province=st.sampled_from(PROVINCES),
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2399, 12, 31)),
    sex=st.sampled_from(["male", "female"]),
)
def test_generate_then_validate_round_trip(seed: int, province: str, born: date, sex: str) -> None:
    pid = generate_personal_id(random.Random(seed), province, born, sex)  # type: ignore[arg-type]
    assert re.fullmatch(r"[0-9]{12}", pid)
    assert pid.startswith("0" + province)
    assert personal_id_problems(pid, born, sex) == []  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), province=st.sampled_from(PROVINCES))
def test_masking_never_reveals_the_whole_number(seed: int, province: str) -> None:
    pid = generate_personal_id(random.Random(seed), province, date(1990, 1, 1), "male")
    masked = mask_personal_id(pid)
    assert masked == pid[:3] + "*******" + pid[-2:]
    assert pid not in masked
    assert sum(ch.isdigit() for ch in masked) == 5


@pytest.mark.parametrize("value", ["", "1", "12345", "00120301234", "0012030123456", "0012030123456789"])
def test_masking_hides_malformed_values_entirely(value: str) -> None:
    assert mask_personal_id(value) == "*" * len(value)


def test_mask_example() -> None:
    assert mask_personal_id("001203012367") == "001*******67"
