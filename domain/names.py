"""Realistic Vietnamese full names (họ và tên) for the synthetic population.

A name is family name (họ) + middle name (tên đệm) + given name (tên). Family names follow their published
population shares (Nguyễn about 38 %, then Trần, Lê, Phạm …). The middle names "Văn" (men) and "Thị" (women)
were near-universal for people born before 1980 and are much rarer among children, so the middle name depends on
the birth year when it is known. All strings are NFC, as the national population database stores them.
"""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect
from itertools import accumulate

from domain.identity import Sex

# (family name, share in %). Hoàng/Huỳnh and Vũ/Võ are one name written the northern/southern way.
FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.4), ("Trần", 12.1), ("Lê", 9.5), ("Phạm", 7.0), ("Hoàng", 3.0), ("Huỳnh", 2.1),
    ("Phan", 4.5), ("Vũ", 2.0), ("Võ", 1.9), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3),
    ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Đinh", 0.8), ("Trương", 0.7), ("Đoàn", 0.6), ("Lâm", 0.5),
    ("Mai", 0.5), ("Trịnh", 0.5), ("Cao", 0.4), ("Lương", 0.4), ("Hà", 0.4), ("Tạ", 0.3), ("Lưu", 0.3),
    ("Chu", 0.3), ("Châu", 0.3), ("Thái", 0.3), ("Tô", 0.3), ("Kiều", 0.2), ("Quách", 0.2), ("Triệu", 0.2),
    ("Phùng", 0.2), ("Vương", 0.2), ("Tăng", 0.2), ("Lại", 0.2), ("Nông", 0.2), ("Lò", 0.1), ("Hứa", 0.1),
    ("La", 0.1), ("Khổng", 0.1), ("Giang", 0.1), ("Mạc", 0.1),
)  # fmt: skip

# Middle names by sex for three birth cohorts; each entry is (name, weight).
_MIDDLE: dict[Sex, tuple[tuple[tuple[str, int], ...], ...]] = {
    "male": (
        # born before 1980
        (("Văn", 60), ("Hữu", 8), ("Đức", 8), ("Minh", 5), ("Quang", 5), ("Xuân", 4), ("Đình", 4),
         ("Công", 3), ("Ngọc", 3)),
        # 1980–1999
        (("Văn", 35), ("Minh", 10), ("Đức", 10), ("Quang", 8), ("Hữu", 6), ("Thanh", 6), ("Tuấn", 5),
         ("Hoàng", 5), ("Quốc", 5), ("Duy", 5), ("Công", 5)),
        # 2000 and later
        (("Văn", 12), ("Minh", 15), ("Gia", 12), ("Đức", 10), ("Hoàng", 8), ("Quốc", 8), ("Bảo", 8),
         ("Anh", 7), ("Duy", 6), ("Nhật", 6), ("Trung", 4), ("Đăng", 4)),
    ),
    "female": (
        (("Thị", 75), ("Ngọc", 6), ("Thu", 5), ("Thanh", 5), ("Kim", 4), ("Hồng", 3), ("Xuân", 2)),
        (("Thị", 45), ("Ngọc", 10), ("Thu", 8), ("Thanh", 8), ("Thùy", 7), ("Phương", 6), ("Hồng", 6),
         ("Minh", 5), ("Kim", 5)),
        (("Thị", 15), ("Ngọc", 12), ("Bảo", 10), ("Khánh", 10), ("Minh", 10), ("Phương", 8), ("Gia", 8),
         ("Thảo", 7), ("Hà", 6), ("Quỳnh", 7), ("Tường", 7)),
    ),
}  # fmt: skip

# A second middle name, as in "Trần Thị Thu Hương" or "Lê Minh Đức Anh".
_SECOND_MIDDLE: dict[Sex, tuple[str, ...]] = {
    "male": ("Đức", "Minh", "Hoàng", "Gia", "Bảo", "Anh", "Nhật", "Quốc", "Thanh"),
    "female": ("Thu", "Ngọc", "Bảo", "Khánh", "Minh", "Phương", "Thảo", "Kim", "Hồng"),
}

GIVEN_NAMES: dict[Sex, tuple[str, ...]] = {
    "male": (
        "Anh", "Hùng", "Dũng", "Tuấn", "Minh", "Nam", "Hải", "Long", "Thắng", "Cường", "Huy", "Khang", "Phúc",
        "Bảo", "Đức", "Trung", "Sơn", "Hiếu", "Quân", "Tùng", "Thành", "Vinh", "Hoàng", "Lâm", "Khoa", "Kiên",
        "Toàn", "Tài", "Phong", "Việt", "Đạt", "Thịnh", "Hưng", "Quang", "Tú", "Nghĩa", "Lộc", "Tâm", "Bình",
        "An", "Khôi", "Nhân", "Hào", "Thiện", "Đông", "Tiến", "Trí", "Hậu", "Lợi", "Phát", "Duy", "Khải",
    ),
    "female": (
        "Linh", "Trang", "Hương", "Lan", "Hoa", "Mai", "Ngọc", "Hà", "Thảo", "Anh", "Nhung", "Hằng", "Yến",
        "Phương", "Thủy", "Nga", "Hạnh", "Loan", "Dung", "Vân", "Huyền", "Nhi", "Vy", "Thư", "Hân", "Chi",
        "Ngân", "Quỳnh", "Diệp", "Oanh", "Trinh", "My", "Tâm", "Uyên", "Giang", "Hồng", "Liên", "Xuân", "Thúy",
        "Hiền", "Khánh", "An", "Châu", "Lý", "Trâm", "Nhàn", "Tuyết", "Duyên",
    ),
}  # fmt: skip


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _table(pairs: tuple[tuple[str, float], ...] | tuple[tuple[str, int], ...]) -> tuple[tuple[str, ...], list[float]]:
    names = tuple(_nfc(n) for n, _ in pairs)
    return names, list(accumulate(float(w) for _, w in pairs))


_FAMILY = _table(FAMILY_NAMES)
_MIDDLE_TABLES = {sex: tuple(_table(cohort) for cohort in cohorts) for sex, cohorts in _MIDDLE.items()}
_GIVEN = {sex: tuple(_nfc(n) for n in names) for sex, names in GIVEN_NAMES.items()}
_SECOND = {sex: tuple(_nfc(n) for n in names) for sex, names in _SECOND_MIDDLE.items()}


def _pick(rng: random.Random, table: tuple[tuple[str, ...], list[float]]) -> str:
    names, cum = table
    return names[bisect(cum, rng.random() * cum[-1])]


def random_family_name(rng: random.Random) -> str:
    return _pick(rng, _FAMILY)


def _cohort(birth_year: int | None) -> int:
    if birth_year is None:
        return 1
    return 0 if birth_year < 1980 else 1 if birth_year < 2000 else 2


def random_full_name(
    rng: random.Random, sex: Sex, *, family_name: str | None = None, birth_year: int | None = None
) -> str:
    """E.g. "Nguyễn Văn Hùng", "Trần Thị Thu Hương". Pass ``family_name`` to keep a father's name for a child."""
    family = family_name or random_family_name(rng)
    middle = _pick(rng, _MIDDLE_TABLES[sex][_cohort(birth_year)])
    given = rng.choice(_GIVEN[sex])
    while given == middle:
        given = rng.choice(_GIVEN[sex])
    # About one name in eight carries a second middle name.
    if rng.random() < 0.125:
        extra = rng.choice(_SECOND[sex])
        if extra not in (middle, given):
            return f"{family} {middle} {extra} {given}"
    return f"{family} {middle} {given}"
