"""Versioned rule sets (bộ quy định theo thời điểm hiệu lực): deadlines, fees, validity periods and thresholds.

Each file ``domain/rules/<effective_from>.json`` is one rule set; adding a set is adding a file. The files are
read and validated once, at import, so every call is pure and safe inside a Temporal workflow. A dossier is
judged by the set in force on the Vietnamese calendar day it was received (``rules_for``). Each set lists in
``unconfirmed`` the dotted paths of the values the specification marks UNCONFIRMED (configuration with a
sensible default) and says in ``notes`` how it differs from the previous set and why.
"""

from __future__ import annotations

from bisect import bisect_right
from calendar import monthrange
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

from domain.calendar import VN_TZ, DayCount, local_date
from domain.kinds import Procedure

Channel = Literal["online", "in_person", "assisted"]
HalfDays = Annotated[Decimal, Field(ge=0, multiple_of=Decimal("0.5"))]


class _Rules(BaseModel):
    # Frozen so a loaded set cannot drift; extra fields forbidden so a misspelt key in a JSON file fails loudly.
    model_config = ConfigDict(frozen=True, extra="forbid")


class NoRuleSetError(LookupError):
    """No rule set was in force on the requested day."""


class DeadlineCase(StrEnum):
    STANDARD = "standard"
    VERIFICATION = "verification"  # data not in CSDLQG: verification needed (phải xác minh)
    COMPLEX = "complex"  # complex case (trường hợp phức tạp)
    ANNULMENT = "annulment"  # an improper registration annulled (hủy bỏ việc đăng ký không đúng thẩm quyền, điều kiện)


class Deadline(_Rules):
    days: HalfDays
    unit: DayCount = DayCount.WORKING

    @model_validator(mode="after")
    def _whole_calendar_days(self) -> Deadline:
        if self.unit is DayCount.CALENDAR and self.days % 1:
            raise ValueError(f"a calendar-day deadline is a whole number of days, got {self.days}")
        return self


class PeriodUnit(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    YEARS = "years"


class Period(_Rules):
    """A calendar period such as a validity (thời hạn), counted by Bộ luật Dân sự 2015 Điều 147–148."""

    amount: PositiveInt
    unit: PeriodUnit

    def end_from(self, start: date) -> date:
        """Last day of the period, which starts the day after ``start`` (Điều 147 khoản 2).

        A month or year period ends on the same day number, or on the month's last day when it has none
        (Điều 148 khoản 3–4): 1 month from 31 January 2027 ends on 28 February 2027.
        """
        if self.unit is PeriodUnit.DAYS:
            return start + timedelta(days=self.amount)
        months = start.month - 1 + self.amount * (12 if self.unit is PeriodUnit.YEARS else 1)
        year, month = start.year + months // 12, months % 12 + 1
        return date(year, month, min(start.day, monthrange(year, month)[1]))


class ProcedureRules(_Rules):
    # Standard case, always in working days; 0 means accepted immediately (stay notification).
    deadline_working_days: HalfDays
    alternative_deadlines: dict[DeadlineCase, Deadline] = {}
    # Lệ phí (Thông tư 75/2022/TT-BTC); 0 when the procedure has no fee. Per dossier (mỗi lần đăng ký).
    fee_in_person_vnd: NonNegativeInt
    fee_online_vnd: NonNegativeInt
    # Registration by list (đăng ký theo danh sách), per person; None when the procedure has no such route.
    fee_per_person_by_list_in_person_vnd: NonNegativeInt | None = None
    fee_per_person_by_list_online_vnd: NonNegativeInt | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ProcedureRules:
        if DeadlineCase.STANDARD in self.alternative_deadlines:
            raise ValueError("the standard deadline is deadline_working_days, not an alternative")
        if (self.fee_per_person_by_list_in_person_vnd is None) != (self.fee_per_person_by_list_online_vnd is None):
            raise ValueError("by-list fees come in pairs: in person and online")
        return self

    def deadline(self, case: DeadlineCase = DeadlineCase.STANDARD) -> Deadline:
        if case is DeadlineCase.STANDARD:
            return Deadline(days=self.deadline_working_days)
        if case not in self.alternative_deadlines:
            raise ValueError(f"no {case} deadline for this procedure; cases: {sorted(self.alternative_deadlines)}")
        return self.alternative_deadlines[case]


class Ct07Rules(_Rules):
    """Residence confirmation document (Xác nhận thông tin về cư trú, CT07): its "valid until" date.

    It becomes void earlier if the person's residence data changes; that is a records check, not a period.
    """

    validity: Period
    # For a person whose residence is a declared one (khai báo thông tin về cư trú, Luật Cư trú Điều 19).
    validity_declared_residence: Period

    def valid_until(self, issued_on: date, declared_residence: bool = False) -> date:
        return (self.validity_declared_residence if declared_residence else self.validity).end_from(issued_on)


class PermanentResidenceRules(_Rules):
    """Đăng ký / xóa đăng ký thường trú — Luật Cư trú Điều 20, 24."""

    # Rented, borrowed or lodged housing: the province sets the minimum, never below this (Điều 20 khoản 3).
    min_floor_area_per_person_m2: Decimal
    deletion_filing_days: PositiveInt  # the person or household files within this many days of the event
    ex_officio_deletion_after_notice_days: PositiveInt  # police delete ex officio when nothing is filed after notice
    absence_months_for_deletion: PositiveInt  # consecutive months absent with no temporary residence / absence slip
    housing_ended_months_for_deletion: PositiveInt  # tenancy ended or residence transferred, not registered elsewhere


class TemporaryResidenceRules(_Rules):
    """Đăng ký / gia hạn / xóa đăng ký tạm trú — Luật Cư trú Điều 27–29."""

    registration_trigger_days: PositiveInt  # living this long outside the commune of permanent residence
    max_term_months: PositiveInt  # term at most 2 years, renewable without limit
    extension_window_days: PositiveInt  # apply within this many days before the term ends
    deletion_filing_days: PositiveInt
    ex_officio_deletion_after_notice_days: PositiveInt
    newborn_registration_days: PositiveInt  # parents with only temporary residence, counted from birth registration


class StayNotificationRules(_Rules):
    """Thông báo lưu trú — Luật Cư trú Điều 30."""

    max_stay_days: PositiveInt
    same_day_cutoff: time  # notify before this time on the day of arrival…
    next_day_cutoff: time  # …or, arriving at or after same_day_cutoff, before this time the next day
    relatives_notify_once: bool  # repeated stays of close relatives may be notified once

    def due_by(self, arrival: datetime) -> datetime:
        """Latest notification instant (UTC) for a guest arriving at ``arrival`` (aware)."""
        local = arrival.astimezone(VN_TZ)
        if local.time() < self.same_day_cutoff:
            due = datetime.combine(local.date(), self.same_day_cutoff, VN_TZ)
        else:
            due = datetime.combine(local.date() + timedelta(days=1), self.next_day_cutoff, VN_TZ)
        return due.astimezone(UTC)


class AbsenceCategory(_Rules):
    description: str
    minimum_absence: Period  # leaving for this long or more requires a declaration
    supervising_authority_consent: bool  # written consent of the supervising authority required


AbsenceCategoryCode = Literal["a", "b", "c", "d"]


class TemporaryAbsenceRules(_Rules):
    """Khai báo tạm vắng — Luật Cư trú Điều 31 khoản 1, categories (a)–(d)."""

    categories: dict[AbsenceCategoryCode, AbsenceCategory]

    @model_validator(mode="after")
    def _all_categories(self) -> TemporaryAbsenceRules:
        if missing := {"a", "b", "c", "d"} - set(self.categories):
            raise ValueError(f"missing temporary-absence categories {sorted(missing)}")
        return self


class SignOffRules(_Rules):
    """Which procedures' results the unit head signs (Trưởng Công an, or a deputy signing for the head, KT.): for
    these an officer's approval is a proposal that waits for the head's sign-off. UNCONFIRMED in the specification:
    the default lists every procedure with an officer review, as the result forms carry the head's signature; the
    legal basis is the set's ``sources["sign_off.procedures"]``."""

    procedures: tuple[Procedure, ...]  # in the file's order, so that a set dumps as it reads

    @model_validator(mode="after")
    def _each_once(self) -> SignOffRules:
        if len(set(self.procedures)) != len(self.procedures):
            raise ValueError("sign_off.procedures names a procedure twice")
        return self

    def requires(self, procedure: Procedure) -> bool:
        return procedure in self.procedures


class RuleSet(_Rules):
    effective_from: date
    legal_basis: str
    notes: str  # how this set differs from the previous one and why
    unconfirmed: tuple[str, ...] = ()  # dotted paths of UNCONFIRMED values, e.g. "ct07.validity"
    # Where each value comes from (article, circular), by dotted path: a path covers every value under it, and every
    # value must be covered, so a value added without its source fails to load.
    sources: dict[str, str]
    procedures: dict[Procedure, ProcedureRules]
    ct07: Ct07Rules
    permanent_residence: PermanentResidenceRules
    temporary_residence: TemporaryResidenceRules
    stay_notification: StayNotificationRules
    temporary_absence: TemporaryAbsenceRules
    sign_off: SignOffRules

    @model_validator(mode="after")
    def _complete(self) -> RuleSet:
        if missing := set(Procedure) - set(self.procedures):
            raise ValueError(f"no rules for {sorted(missing)}")
        if Procedure.STAY_NOTIFICATION in self.sign_off.procedures:
            raise ValueError("sign_off: a stay notification is accepted at once, with no officer to propose it")
        data = self.model_dump(mode="json", exclude_none=True, exclude={
            "effective_from", "legal_basis", "notes", "unconfirmed", "sources"})
        for path in (*self.unconfirmed, *self.sources):
            node = data
            for key in path.split("."):
                if not isinstance(node, dict) or key not in node:
                    raise ValueError(f"path {path!r} (unconfirmed or sources) names no value of the rule set")
                node = node[key]
        if unsourced := [leaf for leaf in _leaf_paths(data) if not any(
                leaf == path or leaf.startswith(f"{path}.") for path in self.sources)]:
            raise ValueError(f"values without a source: {unsourced[:5]}")
        return self


def _leaf_paths(node: object, prefix: str = "") -> list[str]:
    """Dotted paths of every value under ``node`` (a model dumped to JSON); an empty mapping holds none."""
    if not isinstance(node, dict):
        return [prefix]
    return [leaf for key, value in node.items() for leaf in _leaf_paths(value, f"{prefix}.{key}" if prefix else key)]


def load_rule_sets(directory: Traversable) -> tuple[RuleSet, ...]:
    """Every ``<effective_from>.json`` rule set in ``directory``, oldest first, each validated."""
    rule_sets = []
    for entry in directory.iterdir():
        if not entry.name.endswith(".json"):
            continue
        rule_set = RuleSet.model_validate_json(entry.read_text(encoding="utf-8"))
        if entry.name != f"{rule_set.effective_from.isoformat()}.json":
            raise ValueError(f"rule file {entry.name} must be named after its effective_from date")
        rule_sets.append(rule_set)
    if not rule_sets:
        raise RuntimeError(f"no rule set found in {directory}")
    return tuple(sorted(rule_sets, key=lambda rule_set: rule_set.effective_from))


class RuleBook:
    """Rule sets by the day they took effect: which one judges a dossier."""

    def __init__(self, rule_sets: tuple[RuleSet, ...]) -> None:
        self.rule_sets = rule_sets
        self._effective_dates = [rule_set.effective_from for rule_set in rule_sets]

    def rules_for(self, received_on: date) -> RuleSet:
        if isinstance(received_on, datetime):
            received_on = local_date(received_on)
        index = bisect_right(self._effective_dates, received_on)
        if index == 0:
            raise NoRuleSetError(f"no rule set in force on {received_on}: the earliest takes effect on "
                                 f"{self.rule_sets[0].effective_from}")
        return self.rule_sets[index - 1]


RULE_SETS: tuple[RuleSet, ...] = load_rule_sets(resources.files("domain").joinpath("rules"))
BOOK = RuleBook(RULE_SETS)


# A candidate rule set every judgement in this context uses (``judged_by``): the impact preview of a rule change.
# Never set in a worker, so workflows and activities always read the book.
_CANDIDATE: ContextVar[RuleSet | None] = ContextVar("candidate_rule_set", default=None)


@contextmanager
def judged_by(candidate: RuleSet) -> Iterator[None]:
    """Judge everything in this block by ``candidate``, whatever the day of receipt (``cutru rules impact``)."""
    token = _CANDIDATE.set(candidate)
    try:
        yield
    finally:
        _CANDIDATE.reset(token)


def rules_for(received_on: date) -> RuleSet:
    """The rule set in force on ``received_on``: the latest whose effective_from is not after it.

    An aware datetime is taken on its Vietnamese calendar day (a UTC date can be the day before).
    """
    return _CANDIDATE.get() or BOOK.rules_for(received_on)


class ProvincialSetting(StrEnum):
    """What the law leaves to the province, set by the provincial People's Council (Hội đồng nhân dân cấp tỉnh)."""

    # Luật Cư trú 2020 Điều 20 khoản 3 điểm b: rented, borrowed or lodged housing, never below the law's minimum.
    MIN_FLOOR_AREA_PER_PERSON_M2 = "min_floor_area_per_person_m2"


def provincial_setting_problem(setting: ProvincialSetting, value: Decimal, effective_from: date) -> str | None:
    """Why a province cannot set ``value`` from ``effective_from`` (None: it can): below the law's minimum in the
    rule set in force that day."""
    law = rules_for(effective_from).permanent_residence.min_floor_area_per_person_m2
    if setting is ProvincialSetting.MIN_FLOOR_AREA_PER_PERSON_M2 and value < law:
        return (f"the provincial minimum floor area must not be below the law's {law} m² per person "
                "(Luật Cư trú 2020, Điều 20 khoản 3 điểm b)")
    return None


def min_floor_area_per_person(received_on: date, provincial: Decimal | None) -> Decimal:
    """The minimum floor area per person that judges a dossier: the province's, never below the law's, in force
    on the day it was received."""
    law = rules_for(received_on).permanent_residence.min_floor_area_per_person_m2
    return max(law, provincial) if provincial is not None else law


def fee_for(procedure: Procedure, channel: Channel, received_on: date, persons: int = 1, by_list: bool = False) -> int:
    """Fee in VND. ``persons`` counts only for a registration by list (per-person fee); other fees are per dossier.
    An assisted dossier is filed online (by an officer at the counter): the online fee."""
    if channel not in ("online", "in_person", "assisted"):
        raise ValueError(f"unknown channel {channel!r}")
    online = channel != "in_person"
    if persons < 1:
        raise ValueError(f"persons must be at least 1, got {persons}")
    rules = rules_for(received_on).procedures[procedure]
    if not by_list:
        return rules.fee_online_vnd if online else rules.fee_in_person_vnd
    per_person = rules.fee_per_person_by_list_online_vnd if online else rules.fee_per_person_by_list_in_person_vnd
    if per_person is None:
        raise ValueError(f"{procedure} has no registration by list")
    return per_person * persons


def needs_sign_off(procedure: Procedure, received_on: date) -> bool:
    """Whether the unit head signs this procedure's result (``SignOffRules``), by the set in force on receipt."""
    return rules_for(received_on).sign_off.requires(procedure)
