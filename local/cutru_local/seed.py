"""Synthetic population (dân cư giả lập) standing in for the national population database (CSDLQG về dân cư).

``python -m cutru_local.seed --people 100000 --seed 1 [--reset]`` fills the residence tables of a migrated database:
police units and officers for a sample of communes, people with valid personal ID numbers, legal residences,
households with their members, permanent residence records for every member, and some temporary residences.

Deterministic: one ``random.Random(seed)`` drives everything, collections are iterated in a fixed order and no
clock is read, so the same seed, size and reference date give identical rows on any machine. Ages and validity
dates are relative to ``reference_date`` (default 2026-11-01); pass today's date to have temporary residences
that expire "within the next 15 days" from now.

Fast: rows are built as tuples in Python and loaded with ``COPY`` (asyncpg ``copy_records_to_table``) in one
transaction, then the id sequences are moved past the explicit ids used here.

What the data contains, so demos and tests can rely on it:

- Communes: ``communes_per_province`` per province (one ward, the others at random), plus the demo commune
  Phường Hoàn Kiếm ``00070`` in Hà Nội ``01``, which is always seeded and three times as populous as the others.
- Police units ``CA-<commune>``; officers ``CB-<commune>-01`` … with role ``officer`` and the supervisor
  ``CB-<commune>-00``, who is also the unit's head (position ``head``) and signs its results; each with the work
  address ``cb-<commune>-NN@congan.example`` that reminders and escalations are e-mailed to.
- Households: one head each; relations ``head``, ``spouse``, ``child``, ``parent``, ``sibling``,
  ``child_in_law`` (con dâu/con rể), ``grandchild``; minors always live with a parent.
- People: about 0.5 % dead (half still registered, awaiting deletion under Điều 24, half with a ``deleted``
  record and no household), about 0.3 % adults without full civil capacity (``full_civil_capacity`` records a
  court decision; minority is read from the birth date), about 2.5 % with a ``fee_exemption`` code from
  :data:`FEE_EXEMPTION_REASONS`, and 0.5 % with no permanent residence at all (Điều 19 declaration candidates).
  Heads of households are always alive adults with full capacity.
- Residences: one per household plus rental stock per commune owned by local residents; about 1 % carry a
  ``barred_reason`` (Điều 23); a few are owned by organisations (``owner_id`` NULL).
- Temporary residences: about 2.5 % of people hold an active one in another commune, 15 % of those ending within
  15 days of the reference date (extension window, Điều 28 khoản 3); some ended ones as history.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

import asyncpg
from pydantic import BaseModel, computed_field
from tqdm import tqdm

from domain import admin_units
from domain.identity import Sex, generate_personal_id
from domain.names import random_family_name, random_full_name

REFERENCE_DATE = date(2026, 11, 1)
DEMO_PROVINCE_CODE = "01"
DEMO_COMMUNE_CODE = "00070"  # Phường Hoàn Kiếm, Thành phố Hà Nội
DEMO_UNIT_CODE = "CA-00070"
DEMO_SUPERVISOR_ID = "CB-00070-00"
DEMO_OFFICER_ID = "CB-00070-01"
OFFICER_MAIL_DOMAIN = "congan.example"  # a reserved name: the local stack's mail server takes any
EXPIRING_WINDOW_DAYS = 15  # Điều 28 khoản 3: extend within the 15 days before the term ends

# Fee exemption reason codes (Thông tư 75/2022/TT-BTC Điều 4; the list is UNCONFIRMED). Children and the elderly
# are exempt by age, which the fee rule reads from the birth date, so no code is stored for them.
FEE_EXEMPTION_REASONS: dict[str, str] = {
    "nguoi_co_cong": "Người có công với cách mạng, thân nhân của người có công",
    "khuyet_tat": "Người khuyết tật",
    "ho_ngheo": "Công dân thuộc hộ nghèo",
    "dtts_xa_dbkk": "Đồng bào dân tộc thiểu số ở xã có điều kiện kinh tế - xã hội đặc biệt khó khăn",
}

# Điều 23 Luật Cư trú: places where no new residence may be registered.
BARRED_REASONS: tuple[str, ...] = (
    "khu vực cấm xây dựng",
    "lấn, chiếm hành lang bảo vệ đê điều",
    "khu vực đã được cảnh báo nguy cơ lở đất, lũ quét",
    "đất lấn, chiếm trái phép",
    "đất đã có quyết định thu hồi",
    "nhà ở đang có tranh chấp quyền sở hữu",
    "nhà ở bị tịch thu",
    "nhà ở đã có quyết định phá dỡ",
)

# Tables this module fills, in load order; the rest of the schema is the dossier read model.
SEEDED_TABLES: tuple[str, ...] = (
    "police_units",
    "officers",
    "people",
    "residences",
    "households",
    "household_members",
    "permanent_residences",
    "temporary_residences",
)
DOSSIER_TABLES: tuple[str, ...] = (
    "dossiers",
    "payments",
    "residence_changes",
    "documents",
    "deliveries",
    "audit_events",
    "audit_superseded",
    # What the procedures record per dossier (0002): stays and confirmations have no key to people, so a
    # reset must name them or they would outlive the population they describe.
    "residence_deletions",
    "temporary_residence_extensions",
    "residence_declarations",
    "residence_confirmations",
    "stay_notifications",
    "absence_declarations",
)
COLUMNS: dict[str, tuple[str, ...]] = {
    "police_units": ("unit_code", "name", "province_code", "commune_code"),
    "officers": ("officer_id", "full_name", "unit_code", "role", "active", "position", "email"),
    "people": (
        "personal_id", "full_name", "birth_date", "sex", "status", "nationality", "full_civil_capacity",
        "fee_exemption",
    ),
    "residences": (
        "residence_id", "province_code", "commune_code", "address_line", "floor_area_m2", "owner_id",
        "barred_reason",
    ),
    "households": ("household_id", "residence_id", "head_id"),
    "household_members": ("personal_id", "household_id", "relation_to_head"),
    "permanent_residences": ("record_id", "personal_id", "residence_id", "valid_from", "valid_to", "status"),
    "temporary_residences": ("record_id", "personal_id", "residence_id", "valid_from", "valid_to", "status"),
}  # fmt: skip
_SEQUENCES = {
    "residences": "residence_id",
    "households": "household_id",
    "permanent_residences": "record_id",
    "temporary_residences": "record_id",
}
_BATCH = 10_000


class SeedRefused(RuntimeError):
    """The database already holds a population and no reset was asked for."""


class SeedReport(BaseModel):
    seed: int
    reference_date: date
    communes: int
    police_units: int
    officers: int
    people: int
    dead: int
    without_full_capacity: int
    fee_exempt: int
    without_permanent_residence: int
    residences: int
    barred_residences: int
    households: int
    household_members: int
    permanent_residences: int
    permanent_active: int
    temporary_residences: int
    temporary_active: int
    temporary_expiring_soon: int
    demo_commune_code: str = DEMO_COMMUNE_CODE
    demo_unit_code: str = DEMO_UNIT_CODE
    demo_supervisor_id: str = DEMO_SUPERVISOR_ID
    demo_officer_id: str = DEMO_OFFICER_ID
    generate_seconds: float
    load_seconds: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_seconds(self) -> float:
        return round(self.generate_seconds + self.load_seconds, 2)


# --- address vocabulary -------------------------------------------------------------------------------------------

_STREETS = (
    "Trần Hưng Đạo", "Lê Lợi", "Lê Duẩn", "Nguyễn Trãi", "Hai Bà Trưng", "Lý Thường Kiệt", "Quang Trung",
    "Nguyễn Huệ", "Phan Chu Trinh", "Phan Bội Châu", "Hùng Vương", "Điện Biên Phủ", "Trần Phú", "Nguyễn Du",
    "Lê Thánh Tông", "Bà Triệu", "Ngô Quyền", "Trần Quang Khải", "Nguyễn Thị Minh Khai", "Võ Thị Sáu",
    "Lê Hồng Phong", "Tôn Đức Thắng", "Nguyễn Văn Cừ", "Hoàng Diệu", "Lạc Long Quân", "Âu Cơ",
    "Đinh Tiên Hoàng", "Lý Thái Tổ", "Nguyễn Chí Thanh", "Cách Mạng Tháng Tám", "Nguyễn Đình Chiểu",
    "Trường Chinh", "Võ Nguyên Giáp", "Phạm Văn Đồng", "Nguyễn Văn Linh", "Lê Quý Đôn", "Chu Văn An",
)  # fmt: skip
_HOAN_KIEM_STREETS = (
    "Hàng Bài", "Hàng Bạc", "Hàng Gai", "Hàng Đào", "Hàng Bông", "Hàng Trống", "Hàng Buồm", "Hàng Khay",
    "Tràng Tiền", "Lý Thái Tổ", "Đinh Tiên Hoàng", "Bà Triệu", "Hai Bà Trưng", "Lò Sũ", "Mã Mây",
)  # fmt: skip
_BUILDINGS = ("An Bình", "Hòa Bình", "Thăng Long", "Sông Hồng", "Phú Mỹ", "Tân Phú", "Bình Minh", "Hoàng Anh")
_HAMLETS = (
    "Đông", "Tây", "Trung", "Thượng", "Hạ", "Đoài", "An Lạc", "Phú Mỹ", "Tân Lập", "Bình Minh", "Quyết Tiến",
    "Đồng Tâm", "Yên Bình", "Phú Xuân", "Tân Hòa", "Mỹ Phước", "Long Thạnh", "Bình Hòa", "Hòa Bình",
)  # fmt: skip
_VILLAGES = ("Nà Lừa", "Huổi Hốc", "Pá Khoang", "Co Mư", "Noong Bua", "Hua Pe", "Phiêng Ban", "Nà Tấu")
# Where the hamlet is a "bản" (north-western mountains) or an "ấp" (the south); elsewhere a "thôn".
_BAN_PROVINCES = frozenset({"11", "12", "14"})
_AP_PROVINCES = frozenset({"75", "79", "80", "82", "86", "91", "92", "96"})
# Alleys are "hẻm" in the south, "kiệt" in Huế and Đà Nẵng, "ngõ" in the north.
_KIET_PROVINCES = frozenset({"46", "48"})
_CITIES_WITH_APARTMENTS = frozenset({"01", "31", "48", "79", "92"})
# Provinces with many communes in especially difficult areas (xã đặc biệt khó khăn), for the fee exemption.
_HIGHLAND_PROVINCES = frozenset({"04", "08", "11", "12", "14", "15", "20", "52", "66", "68"})
_UNINHABITED = frozenset({"Đặc khu Hoàng Sa", "Đặc khu Trường Sa"})


# --- generation ---------------------------------------------------------------------------------------------------


@dataclass
class _Commune:
    code: str
    province_code: str
    urban: bool
    landlords: list[str] = field(default_factory=list)  # alive adult residents who may own rental housing
    rentals: list[int] = field(default_factory=list)  # residence ids without a household
    addresses: set[str] = field(default_factory=set)  # only for membership tests: never iterated
    households: int = 0


@dataclass
class _Member:
    relation: str
    sex: Sex
    birth: date
    family: str | None = None


@dataclass
class _Placed:
    """A generated household member."""

    personal_id: str
    spec: _Member
    alive: bool
    capable: bool
    registered: bool  # holds an active permanent residence here (False: dead and already deleted)


@dataclass
class _Resident:
    """An alive, registered member: candidate for a temporary residence elsewhere."""

    personal_id: str
    commune: int
    birth: date
    valid_from: date


_YEAR = 365.2425

# Household shapes and their shares (%): single, couple, nuclear, single parent, with the head's parents,
# elderly head with a married child and grandchildren, adult siblings.
_KINDS = ("single", "couple", "nuclear", "single_parent", "with_parents", "three_generations", "siblings")
_KIND_CUM = list(accumulate((11, 9, 47, 6, 12, 11, 4)))
_CHILDREN_CUM = list(accumulate((22, 44, 24, 10)))


class _Generator:
    def __init__(
        self,
        rng: random.Random,
        people: int,
        reference_date: date,
        communes: list[admin_units.Commune],
        bar: tqdm[Any],
    ) -> None:
        self.rng = rng
        self.target = people
        # People with no permanent residence anywhere, generated after the households.
        self.unregistered_target = people // 200
        self.ref = reference_date
        self.bar = bar
        self.communes = [_Commune(c.code, c.province_code, c.division_type != "xã") for c in communes]
        weights = [3 if c.code == DEMO_COMMUNE_CODE else 1 for c in communes]
        self.commune_cum = list(accumulate(weights))
        self.province_codes = [p.code for p in admin_units.all_provinces()]
        self.ids: set[str] = set()  # membership only
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in SEEDED_TABLES}
        self.residents: list[_Resident] = []
        self.dead = self.incapable = self.exempt = self.unregistered = 0
        self.barred = self.temporary_active = self.expiring = self.permanent_active = 0

    # dates ------------------------------------------------------------------------------------------------------

    def _born(self, lo: float, hi: float) -> date:
        """A birth date for an age uniformly in [lo, hi) years at the reference date."""
        days = self.rng.randrange(max(1, int(lo * _YEAR)), max(2, int(hi * _YEAR)))
        return self.ref - timedelta(days=days)

    def _age(self, birth: date) -> float:
        return (self.ref - birth).days / _YEAR

    def _plus_years(self, d: date, years: float) -> date:
        return d + timedelta(days=int(years * _YEAR))

    def _between(self, lo: date, hi: date) -> date:
        return lo + timedelta(days=self.rng.randrange(max(1, (hi - lo).days + 1)))

    # people -----------------------------------------------------------------------------------------------------

    def _person(
        self,
        m: _Member,
        province_code: str,
        *,
        status: str = "alive",
        capacity: bool = True,
        fee: str | None = None,
    ) -> tuple[str, str]:
        rng = self.rng
        # Most people were born (and their birth registered) in the province they live in.
        birth_province = province_code if rng.random() < 0.8 else rng.choice(self.province_codes)
        pid = generate_personal_id(rng, birth_province, m.birth, m.sex)
        while pid in self.ids:
            pid = generate_personal_id(rng, birth_province, m.birth, m.sex)
        self.ids.add(pid)
        name = random_full_name(rng, m.sex, family_name=m.family, birth_year=m.birth.year)
        self.rows["people"].append((pid, name, m.birth, m.sex, status, "VN", capacity, fee))
        self.dead += status == "dead"
        self.incapable += not capacity
        self.exempt += fee is not None
        return pid, name

    def _sex(self, p_male: float = 0.51) -> Sex:
        return "male" if self.rng.random() < p_male else "female"

    @staticmethod
    def _other(sex: Sex) -> Sex:
        return "female" if sex == "male" else "male"

    def _spouse(self, head: _Member) -> _Member:
        gap = self.rng.uniform(0, 6)
        years = -gap if head.sex == "male" else gap  # husbands tend to be a few years older
        birth = self._plus_years(head.birth, years)
        birth = min(birth, self._plus_years(self.ref, -20))
        birth = max(birth, self._plus_years(self.ref, -95))
        return _Member("spouse", self._other(head.sex), birth)

    def _children(self, mother_birth: date, family: str, relation: str = "child") -> list[_Member]:
        rng = self.rng
        n = bisect(_CHILDREN_CUM, rng.random() * _CHILDREN_CUM[-1]) + 1
        at = rng.uniform(19, 32)
        kids: list[_Member] = []
        for _ in range(n):
            birth = self._plus_years(mother_birth, at) + timedelta(days=rng.randrange(365))
            at += rng.uniform(1.5, 6)
            if birth >= self.ref:
                break
            if self._age(birth) > 28 and rng.random() < 0.6:
                continue  # grown-up children have mostly moved out
            kids.append(_Member(relation, self._sex(0.52), birth, family))
        return kids

    def _compose(self) -> list[_Member]:
        """One household's members, head first; parents always come before their children."""
        rng = self.rng
        kind = _KINDS[bisect(_KIND_CUM, rng.random() * _KIND_CUM[-1])]
        if kind == "single":
            r = rng.random()
            birth = self._born(19, 35) if r < 0.35 else self._born(35, 60) if r < 0.6 else self._born(60, 95)
            return [_Member("head", self._sex(0.5 if r < 0.6 else 0.35), birth)]
        if kind == "couple":
            birth = self._born(22, 35) if rng.random() < 0.5 else self._born(55, 88)
            head = _Member("head", self._sex(0.78), birth)
            return [head, self._spouse(head)]
        # Children carry their father's family name (họ).
        if kind == "nuclear":
            head = _Member("head", self._sex(0.78), self._born(25, 62))
            spouse = self._spouse(head)
            father, mother = (head, spouse) if head.sex == "male" else (spouse, head)
            family = father.family = random_family_name(rng)
            return [head, spouse, *self._children(mother.birth, family)]
        if kind == "single_parent":
            family = random_family_name(rng)
            head = _Member("head", self._sex(0.25), self._born(24, 58), family)
            mother_birth = head.birth if head.sex == "female" else self._plus_years(head.birth, 2)
            if head.sex == "female" and rng.random() < 0.5:
                family = random_family_name(rng)  # the absent father's
            return [head, *self._children(mother_birth, family)]
        if kind == "with_parents":
            family = random_family_name(rng)
            head = _Member("head", self._sex(0.75), self._born(28, 55), family)
            spouse = self._spouse(head)
            father, mother = (head, spouse) if head.sex == "male" else (spouse, head)
            kids_family = father.family = father.family or random_family_name(rng)
            members = [head, spouse]
            # The head's own parents: the father carries the head's family name.
            mother_of_head = self._plus_years(head.birth, -rng.uniform(20, 35))
            father_of_head = self._plus_years(mother_of_head, -rng.uniform(0, 5))
            if self._age(father_of_head) < 95 and rng.random() < 0.6:
                members.append(_Member("parent", "male", father_of_head, family))
            if self._age(mother_of_head) < 95:
                members.append(_Member("parent", "female", mother_of_head))
            return [*members, *self._children(mother.birth, kids_family)]
        if kind == "three_generations":
            own_family = random_family_name(rng)
            head = _Member("head", self._sex(0.65), self._born(58, 88), own_family)
            # A widow heading the household passes on her late husband's family name.
            family = own_family if head.sex == "male" else random_family_name(rng)
            members = [head]
            elder_mother = head.birth
            if rng.random() < 0.7:
                spouse = self._spouse(head)
                if spouse.sex == "male":
                    spouse.family = family
                members.append(spouse)
                elder_mother = spouse.birth if spouse.sex == "female" else head.birth
            child_birth = self._plus_years(elder_mother, rng.uniform(20, 35))
            if self._age(child_birth) < 22:
                return members
            son = rng.random() < 0.7  # a married son usually stays with his parents
            child = _Member("child", "male" if son else "female", child_birth, family)
            in_law = self._spouse(child)
            in_law.relation = "child_in_law"
            grand_mother, grand_family = (in_law.birth, family) if son else (child.birth, random_family_name(rng))
            in_law.family = in_law.family if son else grand_family
            return [*members, child, in_law, *self._children(grand_mother, grand_family, "grandchild")]
        family = random_family_name(rng)
        head = _Member("head", self._sex(), self._born(20, 35), family)
        siblings = [_Member("sibling", self._sex(), self._born(18, 35), family) for _ in range(rng.randint(1, 2))]
        return [head, *siblings]

    # residences -------------------------------------------------------------------------------------------------

    def _address(self, c: _Commune, *, rental: bool) -> tuple[str, Decimal]:
        rng = self.rng
        p = c.province_code
        for _ in range(50):
            if c.urban:
                street_names = _HOAN_KIEM_STREETS if c.code == DEMO_COMMUNE_CODE else _STREETS
                street = ("phố " if p == "01" else "đường ") + rng.choice(street_names)
                alley = "hẻm" if p in _AP_PROVINCES else "kiệt" if p in _KIET_PROVINCES else "ngõ"
                r = rng.random()
                if rental and r < 0.5:
                    line = (
                        f"Phòng {rng.randint(1, 12)}, số {rng.randint(1, 200)}, {alley} {rng.randint(1, 300)}, {street}"
                    )
                    area = rng.triangular(10, 35, 18)
                elif p in _CITIES_WITH_APARTMENTS and r < 0.3:
                    line = (
                        f"Căn hộ {rng.randint(2, 35)}{rng.randint(1, 20):02d}, tòa {rng.choice('ABCDE')},"
                        f" chung cư {rng.choice(_BUILDINGS)}"
                    )
                    area = rng.triangular(35, 130, 70)
                elif r < 0.65:
                    line = f"Số {rng.randint(1, 250)}, {alley} {rng.randint(1, 400)}, {street}"
                    area = rng.triangular(25, 150, 50)
                else:
                    line = f"Số {rng.randint(1, 400)}, {street}"
                    area = rng.triangular(30, 250, 80)
            else:
                if p in _BAN_PROVINCES:
                    hamlet = "bản " + rng.choice(_VILLAGES)
                elif p in _AP_PROVINCES:
                    hamlet = "ấp " + (rng.choice(_HAMLETS) if rng.random() < 0.6 else str(rng.randint(1, 9)))
                else:
                    hamlet = "thôn " + (rng.choice(_HAMLETS) if rng.random() < 0.6 else str(rng.randint(1, 12)))
                prefix = f"Số nhà {rng.randint(1, 300)}" if rng.random() < 0.6 else f"Xóm {rng.randint(1, 15)}"
                if prefix.startswith("Xóm"):
                    prefix += f", số nhà {rng.randint(1, 120)}"
                line = f"{prefix}, {hamlet}"
                area = rng.triangular(30, 150, 60) if rental else rng.triangular(50, 350, 120)
            if line not in c.addresses:
                c.addresses.add(line)
                return line, Decimal(f"{area:.1f}")
        raise RuntimeError(f"could not find a free address in commune {c.code}")

    def _residence(self, c: _Commune, owner: str | None, *, rental: bool) -> int:
        line, area = self._address(c, rental=rental)
        barred = None
        if self.rng.random() < 0.01:
            barred = self.rng.choice(BARRED_REASONS)
            self.barred += 1
        rid = len(self.rows["residences"]) + 1
        self.rows["residences"].append((rid, c.province_code, c.code, line, area, owner, barred))
        return rid

    # records ----------------------------------------------------------------------------------------------------

    def _permanent(self, pid: str, rid: int, valid_from: date, valid_to: date | None, status: str) -> None:
        rows = self.rows["permanent_residences"]
        rows.append((len(rows) + 1, pid, rid, valid_from, valid_to, status))
        self.permanent_active += status == "active"

    def _temporary(self, pid: str, rid: int, valid_from: date, valid_to: date, status: str) -> None:
        rows = self.rows["temporary_residences"]
        rows.append((len(rows) + 1, pid, rid, valid_from, valid_to, status))
        if status == "active":
            self.temporary_active += 1
            self.expiring += (valid_to - self.ref).days <= EXPIRING_WINDOW_DAYS

    def _household(self) -> int:
        rng = self.rng
        ci = bisect(self.commune_cum, rng.random() * self.commune_cum[-1])
        c = self.communes[ci]
        specs = self._compose()[: self.target - len(self.rows["people"]) - self.unregistered_target]
        # The household settled here when the head was an adult, at least a month before the reference date.
        head_birth = specs[0].birth
        settled = self._plus_years(head_birth, rng.uniform(18, 35))
        settled = min(settled, self.ref - timedelta(days=30 + rng.randrange(60)))
        settled = max(settled, self._plus_years(head_birth, 18))

        poor = rng.random() < 0.012
        highland = not c.urban and c.province_code in _HIGHLAND_PROVINCES and rng.random() < 0.04
        members: list[_Placed] = []
        for m in specs:
            age = self._age(m.birth)
            status, capacity = "alive", True
            if m.relation != "head" and age >= 18:
                p_dead = 0.002 + (0.08 if age >= 75 else 0.02 if age >= 60 else 0.0)
                if rng.random() < p_dead:
                    status = "dead"
                elif rng.random() < 0.005:
                    capacity = False
            fee = None
            if status == "alive":
                if poor:
                    fee = "ho_ngheo"
                elif highland:
                    fee = "dtts_xa_dbkk"
                elif age >= 45 and rng.random() < 0.006:
                    fee = "nguoi_co_cong"
                elif rng.random() < 0.004:
                    fee = "khuyet_tat"
            pid, _ = self._person(m, c.province_code, status=status, capacity=capacity, fee=fee)
            alive = status == "alive"
            # Half of the dead have already been deleted (Điều 24); the rest still await it.
            members.append(_Placed(pid, m, alive, capacity, alive or rng.random() < 0.5))

        head = members[0]
        can_own = [p for p in members[1:] if p.alive and p.capable and p.spec.relation in ("spouse", "parent")]
        r = rng.random()
        if r < 0.02:
            owner: str | None = None  # organisation housing (nhà công vụ, nhà tập thể)
        elif r < 0.17 and c.landlords:
            owner = rng.choice(c.landlords)  # rented or borrowed housing
        elif can_own and r < 0.32:
            owner = rng.choice(can_own).personal_id  # the spouse's or the head's parent's house
        else:
            owner = head.personal_id
        rid = self._residence(c, owner, rental=False)
        hid = len(self.rows["households"]) + 1
        self.rows["households"].append((hid, rid, head.personal_id))
        c.households += 1

        for p in members:
            m = p.spec
            if m.relation in ("head", "spouse"):
                since = settled
            elif m.relation in ("parent", "sibling", "child_in_law"):
                since = self._between(max(settled, self._plus_years(m.birth, 18)), self.ref - timedelta(days=1))
            else:
                # Newborns are registered within weeks of birth registration.
                since = max(settled, m.birth + timedelta(days=rng.randint(7, 60)))
            since = min(max(since, m.birth), self.ref - timedelta(days=1))
            if p.registered and m.birth.year < 2020 and rng.random() < 0.1 and rid > 1:
                # An earlier address, ended when this registration began.
                before = self._between(max(m.birth, self._plus_years(since, -15)), since)
                if before < since:
                    self._permanent(p.personal_id, rng.randrange(1, rid), before, since, "ended")
            if not p.registered:
                died = self._between(since, self.ref - timedelta(days=1))
                self._permanent(p.personal_id, rid, since, died, "deleted")
                continue
            self.rows["household_members"].append((p.personal_id, hid, m.relation))
            self._permanent(p.personal_id, rid, since, None, "active")
            if p.alive:
                self.residents.append(_Resident(p.personal_id, ci, m.birth, since))
                if p.capable and 30 <= self._age(m.birth) < 80 and m.relation in ("head", "spouse", "parent"):
                    c.landlords.append(p.personal_id)
        return len(members)

    def _unregistered(self) -> None:
        """People with no permanent residence anywhere (Điều 19): some hold a temporary residence."""
        rng = self.rng
        for _ in range(self.unregistered_target):
            c = self.communes[bisect(self.commune_cum, rng.random() * self.commune_cum[-1])]
            pid, _ = self._person(_Member("head", self._sex(), self._born(18, 70)), c.province_code)
            self.unregistered += 1
            if rng.random() < 0.4 and c.rentals:
                self._active_temporary(pid, rng.choice(c.rentals))

    def _active_temporary(self, pid: str, rid: int) -> None:
        rng = self.rng
        if rng.random() < 0.15:
            ends = self.ref + timedelta(days=rng.randint(1, EXPIRING_WINDOW_DAYS))
        else:
            ends = self.ref + timedelta(days=rng.randint(EXPIRING_WINDOW_DAYS + 1, 700))
        term = rng.choice((90, 180, 365, 730))  # at most 2 years (Điều 27)
        starts = ends - timedelta(days=term)
        if starts > self.ref:
            starts = self.ref - timedelta(days=rng.randrange(30))
        self._temporary(pid, rid, starts, ends, "active")

    def _temporaries(self) -> None:
        """Residents working or studying in another commune hold temporary residence there (Điều 27)."""
        rng = self.rng
        by_province: dict[str, list[int]] = {}
        for i, c in enumerate(self.communes):
            by_province.setdefault(c.province_code, []).append(i)
        for r in self.residents:
            age = self._age(r.birth)
            if not 18 <= age < 65:
                continue
            home = self.communes[r.commune]
            x = rng.random()
            if x >= 0.05:
                continue
            same = [i for i in by_province[home.province_code] if i != r.commune]
            if same and rng.random() < 0.6:
                target = self.communes[rng.choice(same)]
            else:
                target = self.communes[rng.randrange(len(self.communes))]
            if target is home or not target.rentals:
                continue
            rid = rng.choice(target.rentals)
            if x < 0.035:
                self._active_temporary(r.personal_id, rid)
            else:
                # A past stay, ended when its term ran out.
                ends = self._between(max(r.valid_from, self.ref - timedelta(days=1500)), self.ref - timedelta(days=1))
                starts = ends - timedelta(days=rng.choice((60, 180, 365)))
                self._temporary(r.personal_id, rid, starts, ends, "ended")

    def run(self) -> None:
        rng = self.rng
        for c in self.communes:
            self.rows["police_units"].append(
                (admin_units.police_unit_code(c.code), admin_units.police_unit_name(c.code), c.province_code, c.code)
            )
        while len(self.rows["people"]) < self.target - self.unregistered_target:
            self.bar.update(self._household())
        # Rental stock owned by local residents: one spare dwelling for every eight households, and enough in
        # small seeds for demos to find vacant places (more in the demo commune).
        for c in self.communes:
            for _ in range(max(25 if c.code == DEMO_COMMUNE_CODE else 8, c.households // 8)):
                owner = rng.choice(c.landlords) if c.landlords else None
                c.rentals.append(self._residence(c, owner, rental=True))
        self._temporaries()
        self._unregistered()
        self.bar.update(self.unregistered)

    def officers(self, per_unit: int) -> None:
        rng = self.rng
        for c in self.communes:
            unit = admin_units.police_unit_code(c.code)
            for i in range(per_unit + 1):
                sex = self._sex(0.7)
                name = random_full_name(rng, sex, birth_year=rng.randint(1970, 2001))
                # The supervisor is the unit's head (Trưởng Công an), who signs its results.
                role, position = ("supervisor", "head") if i == 0 else ("officer", "officer")
                officer_id = f"CB-{c.code}-{i:02d}"
                self.rows["officers"].append((officer_id, name, unit, role, True, position,
                                              f"{officer_id.lower()}@{OFFICER_MAIL_DOMAIN}"))


def select_communes(
    rng: random.Random, provinces: Sequence[str] | None, communes_per_province: int
) -> list[admin_units.Commune]:
    """The seeded communes: per province one ward (phường) and the rest at random, plus the demo commune."""
    codes = list(provinces) if provinces is not None else [p.code for p in admin_units.all_provinces()]
    chosen: list[admin_units.Commune] = []
    for code in sorted(codes):
        pool = [c for c in admin_units.communes_of(code) if c.code != DEMO_COMMUNE_CODE and c.name not in _UNINHABITED]
        if not pool:
            raise ValueError(f"unknown province code {code!r}")
        wards = [c for c in pool if c.division_type == "phường"]
        picked = [rng.choice(wards)] if wards and communes_per_province > 0 else []
        rest = [c for c in pool if c not in picked]
        picked += rng.sample(rest, min(len(rest), communes_per_province - len(picked)))
        chosen += picked
    demo = next(c for c in admin_units.communes_of(DEMO_PROVINCE_CODE) if c.code == DEMO_COMMUNE_CODE)
    return sorted([*chosen, demo], key=lambda c: c.code)


# --- loading ------------------------------------------------------------------------------------------------------


async def _counts(conn: asyncpg.Connection) -> dict[str, int]:
    return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in SEEDED_TABLES}


async def reset(conn: asyncpg.Connection) -> None:
    """Empty the population and the dossier read model (which points at the population) and restart the ids.

    TRUNCATE does not fire the row trigger that keeps ``audit_events`` append-only, so it is allowed here.
    """
    await conn.execute(f"TRUNCATE {', '.join(SEEDED_TABLES + DOSSIER_TABLES)} RESTART IDENTITY CASCADE")


async def seed(
    database_url: str,
    *,
    people: int = 100_000,
    seed: int = 1,
    provinces: list[str] | None = None,
    progress: bool = True,
    reset_first: bool = False,
    communes_per_province: int = 3,
    officers_per_unit: int = 3,
    reference_date: date = REFERENCE_DATE,
) -> SeedReport:
    """Generate and load a population of ``people`` persons into a migrated, empty database.

    Raises :class:`SeedRefused` when people are already loaded, unless ``reset_first`` (``--reset``).
    """
    if people < 1:
        raise ValueError("people must be at least 1")
    started = time.perf_counter()
    rng = random.Random(seed)
    communes = select_communes(rng, provinces, communes_per_province)
    conn = await asyncpg.connect(database_url)
    try:
        try:
            counts = await _counts(conn)
        except asyncpg.UndefinedTableError as e:
            raise SeedRefused(f"the schema is missing ({e}); run python -m cutru.platform.db.migrate first") from e
        existing = {t: n for t, n in counts.items() if n}
        if existing and not reset_first:
            listed = ", ".join(f"{t}={n:,}" for t, n in existing.items())
            raise SeedRefused(f"the database already holds a population ({listed}); rerun with --reset to replace it")

        with tqdm(total=people, desc="generating", unit=" people", disable=not progress) as bar:
            gen = _Generator(rng, people, reference_date, communes, bar)
            gen.run()
            gen.officers(officers_per_unit)
        generated = time.perf_counter()

        total_rows = sum(len(rows) for rows in gen.rows.values())
        async with conn.transaction():
            if reset_first:
                await reset(conn)
            with tqdm(total=total_rows, desc="loading", unit=" rows", disable=not progress) as bar:
                for table in SEEDED_TABLES:
                    rows = gen.rows[table]
                    for i in range(0, len(rows), _BATCH):
                        batch = rows[i : i + _BATCH]
                        await conn.copy_records_to_table(table, records=batch, columns=COLUMNS[table])
                        bar.update(len(batch))
            # Explicit ids were loaded: move each sequence past them so later inserts do not collide.
            for table, column in _SEQUENCES.items():
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                    f" coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
                )
        # Vacuumed too, so that autovacuum does not take the bulk-loaded rows up later, under a measured load.
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(SEEDED_TABLES)}")
        loaded = time.perf_counter()
    finally:
        await conn.close()

    out = gen.rows
    return SeedReport(
        seed=seed,
        reference_date=reference_date,
        communes=len(communes),
        police_units=len(out["police_units"]),
        officers=len(out["officers"]),
        people=len(out["people"]),
        dead=gen.dead,
        without_full_capacity=gen.incapable,
        fee_exempt=gen.exempt,
        without_permanent_residence=gen.unregistered,
        residences=len(out["residences"]),
        barred_residences=gen.barred,
        households=len(out["households"]),
        household_members=len(out["household_members"]),
        permanent_residences=len(out["permanent_residences"]),
        permanent_active=gen.permanent_active,
        temporary_residences=len(out["temporary_residences"]),
        temporary_active=gen.temporary_active,
        temporary_expiring_soon=gen.expiring,
        generate_seconds=round(generated - started, 2),
        load_seconds=round(loaded - generated, 2),
    )


def _reference_date(text: str) -> date:
    return date.today() if text == "today" else date.fromisoformat(text)


SEED_DESCRIPTION = "Load a synthetic population into a migrated database."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reset", action="store_true", help="empty the population and dossier tables first")
    parser.add_argument("--database-url", default=None, help="defaults to DATABASE_URL or the local stack")
    parser.add_argument("--provinces", default=None, help="comma-separated 2-digit province codes (default: all 34)")
    parser.add_argument("--communes-per-province", type=int, default=3)
    parser.add_argument("--officers-per-unit", type=int, default=3, help="officers besides the supervisor")
    parser.add_argument(
        "--reference-date",
        type=_reference_date,
        default=REFERENCE_DATE,
        help=f"YYYY-MM-DD or 'today'; ages and validity dates are relative to it (default {REFERENCE_DATE})",
    )
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from cutru.platform.config import load_settings

    url = args.database_url or load_settings().database_url
    try:
        report = asyncio.run(
            seed(
                url,
                people=args.people,
                seed=args.seed,
                provinces=args.provinces.split(",") if args.provinces else None,
                progress=not args.no_progress,
                reset_first=args.reset,
                communes_per_province=args.communes_per_province,
                officers_per_unit=args.officers_per_unit,
                reference_date=args.reference_date,
            )
        )
    except (SeedRefused, ValueError) as e:
        print(f"seed refused: {e}", file=sys.stderr)
        return 2
    from cutru_local.stack import refresh_oidc_accounts

    asyncio.run(refresh_oidc_accounts(url))  # the new officers can sign in to the stack's OIDC provider
    print(report.model_dump_json(indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=SEED_DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
