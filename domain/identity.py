"""Personal ID numbers (số định danh cá nhân): 12 digits that must agree with birth year and sex.

Layout (see "Cross-cutting facts" in the product specification):

- digits 1–3: code of the province (or country) where the birth was registered, e.g. ``001`` Hà Nội;
- digit 4: century of birth and sex — 1900s male 0 / female 1, 2000s 2/3, 2100s 4/5, 2200s 6/7, 2300s 8/9;
- digits 5–6: the last two digits of the birth year;
- digits 7–12: random.

Pure functions, no I/O: safe inside workflow code.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Literal

Sex = Literal["male", "female"]

FIRST_CENTURY = 1900
LAST_CENTURY = 2300

# Province codes of birth registration. Numbers issued before the 2025-07-01 merger keep the code of one of the
# 63 former provinces (e.g. 036 Nam Định), so validation accepts all of them; every code of the 34 current
# provinces reuses one of these numbers (e.g. 015 now means Lào Cai, formerly Yên Bái), so the union is this set.
# Codes of births registered abroad (country codes) are not modelled: their list is not published with the spec.
FORMER_PROVINCE_CODES: dict[str, str] = {
    "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn", "008": "Tuyên Quang",
    "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu", "014": "Sơn La", "015": "Yên Bái",
    "017": "Hòa Bình", "019": "Thái Nguyên", "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang",
    "025": "Phú Thọ", "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
    "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định", "037": "Ninh Bình",
    "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh", "044": "Quảng Bình", "045": "Quảng Trị",
    "046": "Thừa Thiên Huế", "048": "Đà Nẵng", "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định",
    "054": "Phú Yên", "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
    "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng", "070": "Bình Phước",
    "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai", "077": "Bà Rịa - Vũng Tàu",
    "079": "Hồ Chí Minh", "080": "Long An", "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh",
    "086": "Vĩnh Long", "087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ",
    "093": "Hậu Giang", "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
}  # fmt: skip

_SEXES = ("male", "female")


def birth_registration_code(province_code: str) -> str:
    """The 3-digit ID prefix of a 2-digit province code: ``"01"`` → ``"001"``."""
    if len(province_code) != 2 or not province_code.isdigit():
        raise ValueError(f"province code must be 2 digits, got {province_code!r}")
    return "0" + province_code


def century_sex_digit(birth_year: int, sex: Sex) -> int:
    """Digit 4: even for men, odd for women, one pair per century from 1900."""
    if not FIRST_CENTURY <= birth_year < LAST_CENTURY + 100:
        raise ValueError(f"birth year {birth_year} is outside 1900–2399, which digit 4 cannot encode")
    if sex not in _SEXES:
        raise ValueError(f"sex must be 'male' or 'female', got {sex!r}")
    return (birth_year // 100 - 19) * 2 + (1 if sex == "female" else 0)


def _describe_digit4(digit: int) -> tuple[int, Sex]:
    century = FIRST_CENTURY + (digit // 2) * 100
    return century, ("female" if digit % 2 else "male")


def personal_id_problems(personal_id: str, birth_date: date, sex: Sex) -> list[str]:
    """Why ``personal_id`` disagrees with the stated birth date and sex; empty when it is consistent.

    Messages name the digits at fault and what they encode so a clerk or citizen can tell which datum is wrong.
    """
    if len(personal_id) != 12:
        return [f"must be exactly 12 digits, got {len(personal_id)} characters"]
    if not (personal_id.isascii() and personal_id.isdigit()):
        return ["must contain only the digits 0–9"]

    problems: list[str] = []
    prefix = personal_id[:3]
    if prefix not in FORMER_PROVINCE_CODES:
        problems.append(f"digits 1–3 are {prefix}: unknown province code {prefix} of birth registration")

    if sex not in _SEXES:
        problems.append(f"the stated sex must be 'male' or 'female', got {sex!r}")
        return problems

    digit4 = int(personal_id[3])
    id_century, id_sex = _describe_digit4(digit4)
    says = f"digit 4 is {digit4}: {id_sex} born in the {id_century}s"
    if id_sex != sex:
        problems.append(f"{says}, but the stated sex is {sex}")
    birth_century = birth_date.year // 100 * 100
    if not FIRST_CENTURY <= birth_date.year < LAST_CENTURY + 100:
        problems.append(f"the birth date {birth_date.isoformat()} is outside 1900–2399, which digit 4 cannot encode")
    elif id_century != birth_century:
        problems.append(f"{says}, but the birth date {birth_date.isoformat()} is in the {birth_century}s")

    yy = personal_id[4:6]
    if yy != f"{birth_date.year % 100:02d}":
        problems.append(
            f"digits 5–6 are {yy} (born in ..{yy}), but the birth date {birth_date.isoformat()}"
            f" says ..{birth_date.year % 100:02d}"
        )
    return problems


def mask_personal_id(personal_id: str) -> str:
    """Log-safe form: the province prefix and the last two digits, e.g. ``001*******67``.

    Five digits are enough to tell a handful of dossiers apart in a log, never enough to identify a person.
    Anything that is not a 12-character ID is fully masked, so a malformed value cannot leak either.
    """
    if len(personal_id) != 12:
        return "*" * len(personal_id)
    return personal_id[:3] + "*" * 7 + personal_id[-2:]


def generate_personal_id(rng: random.Random, province_code: str, birth_date: date, sex: Sex) -> str:
    """A number consistent with ``birth_date`` and ``sex``, registered in the 2-digit ``province_code``.

    Uniqueness is the caller's job (draw again on collision): six random digits give a million per prefix.
    """
    prefix = birth_registration_code(province_code)
    if prefix not in FORMER_PROVINCE_CODES:
        raise ValueError(f"unknown province code {province_code}")
    digit4 = century_sex_digit(birth_date.year, sex)
    return f"{prefix}{digit4}{birth_date.year % 100:02d}{rng.randrange(1_000_000):06d}"
