"""Versioned rule sets: the switch on 2026-07-01, the data files, fees, deadlines and thresholds."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
from pydantic import ValidationError

from domain.calendar import VN_TZ, DayCount, WorkingCalendar
from domain.kinds import Procedure
from domain.procedures.catalogue import PROCEDURES
from domain.rulesets import (
    RULE_SETS,
    Deadline,
    DeadlineCase,
    NoRuleSetError,
    Period,
    PeriodUnit,
    RuleSet,
    fee_for,
    needs_sign_off,
    rules_for,
)

RULE_FILES = sorted(
    (entry for entry in resources.files("domain").joinpath("rules").iterdir() if entry.name.endswith(".json")),
    key=lambda entry: entry.name,
)


def _rule_file(name: str) -> dict[str, Any]:
    return json.loads(resources.files("domain").joinpath("rules", name).read_text(encoding="utf-8"))


# Choosing the rule set


def test_the_set_changes_on_1_july_2026() -> None:
    before, after = rules_for(date(2026, 6, 30)), rules_for(date(2026, 7, 1))
    assert before.effective_from == date(2021, 7, 1)
    assert after.effective_from == date(2026, 7, 1)
    # CT07 issued the same way is valid 30 days under the old set, 1 year under the new one.
    assert before.ct07.valid_until(date(2026, 6, 30)) == date(2026, 7, 30)
    assert after.ct07.valid_until(date(2026, 7, 1)) == date(2027, 7, 1)
    assert before.ct07.valid_until(date(2026, 6, 30), declared_residence=True) == date(2026, 12, 30)
    assert after.ct07.valid_until(date(2026, 7, 1), declared_residence=True) == date(2027, 7, 1)


def test_first_and_last_days_of_each_set() -> None:
    assert rules_for(date(2021, 7, 1)).effective_from == date(2021, 7, 1)
    assert rules_for(date(2040, 1, 1)).effective_from == date(2026, 7, 1)


def test_a_datetime_is_judged_on_its_vietnamese_day() -> None:
    # 18:00 UTC on 30 June is 01:00 on 1 July in Vietnam.
    assert rules_for(datetime(2026, 6, 30, 18, tzinfo=UTC)).effective_from == date(2026, 7, 1)
    assert rules_for(datetime(2026, 6, 30, 16, tzinfo=UTC)).effective_from == date(2021, 7, 1)


def test_a_day_before_every_set_is_a_clear_error() -> None:
    with pytest.raises(NoRuleSetError, match="no rule set in force on 2021-06-30.*2021-07-01"):
        rules_for(date(2021, 6, 30))


# The data files


def test_both_rule_sets_are_loaded_in_order() -> None:
    assert [rule_set.effective_from for rule_set in RULE_SETS] == [date(2021, 7, 1), date(2026, 7, 1)]
    assert [entry.name for entry in RULE_FILES] == ["2021-07-01.json", "2026-07-01.json"]


@pytest.mark.parametrize("entry", RULE_FILES, ids=lambda entry: entry.name)
def test_each_file_validates_and_round_trips_as_json(entry: Any) -> None:
    rule_set = RuleSet.model_validate_json(entry.read_text(encoding="utf-8"))
    assert entry.name == f"{rule_set.effective_from.isoformat()}.json"
    # Rule sets may cross Temporal payloads: JSON out and back must give the same set.
    assert RuleSet.model_validate_json(rule_set.model_dump_json()) == rule_set
    assert set(rule_set.procedures) == set(Procedure)


@pytest.mark.parametrize("rule_set", RULE_SETS, ids=lambda rule_set: str(rule_set.effective_from))
def test_every_procedure_has_rules_and_fees_match_the_procedure_table(rule_set: RuleSet) -> None:
    for procedure, spec in PROCEDURES.items():
        rules = rule_set.procedures[procedure]
        assert (rules.fee_in_person_vnd > 0) == spec.has_fee, procedure
        assert (rules.fee_online_vnd > 0) == spec.has_fee, procedure


def test_a_missing_procedure_is_refused() -> None:
    data = _rule_file("2026-07-01.json")
    del data["procedures"]["StayNotification"]
    with pytest.raises(ValidationError, match="StayNotification"):
        RuleSet.model_validate(data)


def test_a_misspelt_key_is_refused() -> None:
    data = _rule_file("2026-07-01.json")
    data["procedures"]["HouseholdSeparation"]["fee_onlin_vnd"] = 5000
    with pytest.raises(ValidationError, match="fee_onlin_vnd"):
        RuleSet.model_validate(data)


def test_an_unconfirmed_path_must_name_a_value() -> None:
    data = _rule_file("2026-07-01.json")
    data["unconfirmed"] = ["ct07.valid_for"]
    with pytest.raises(ValidationError, match="ct07.valid_for"):
        RuleSet.model_validate(data)


def test_unconfirmed_values_are_listed() -> None:
    assert rules_for(date(2026, 7, 1)).unconfirmed == (
        "ct07.validity",
        "ct07.validity_declared_residence",
        "stay_notification.relatives_notify_once",
        "sign_off.procedures",
    )
    assert rules_for(date(2021, 7, 1)).unconfirmed == ("sign_off.procedures",)


def test_the_sets_differ_only_in_the_documented_places() -> None:
    old, new = (rule_set.model_dump(mode="json") for rule_set in RULE_SETS)
    differing = {key for key in old if old[key] != new[key]}
    assert differing == {"effective_from", "legal_basis", "notes", "unconfirmed", "ct07", "sources"}
    # sign_off: the same procedures, each set citing the circular of its forms.
    assert {key for key in old["sources"] if old["sources"][key] != new["sources"][key]} == {
        "ct07", "sign_off.procedures"}


# Fees (Thông tư 75/2022/TT-BTC)

FEES_2026 = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: (20_000, 10_000),
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: (15_000, 7_000),
    Procedure.TEMPORARY_RESIDENCE_EXTENSION: (15_000, 7_000),
    Procedure.HOUSEHOLD_SEPARATION: (10_000, 5_000),
    Procedure.PERMANENT_RESIDENCE_DELETION: (0, 0),
    Procedure.RESIDENCE_CONFIRMATION: (0, 0),
    Procedure.STAY_NOTIFICATION: (0, 0),
}


@pytest.mark.parametrize(("procedure", "fees"), FEES_2026.items())
def test_fee_by_channel(procedure: Procedure, fees: tuple[int, int]) -> None:
    in_person, online = fees
    assert fee_for(procedure, "in_person", date(2026, 7, 1)) == in_person
    assert fee_for(procedure, "online", date(2026, 7, 1)) == online


def test_fee_by_list_is_per_person() -> None:
    received = date(2026, 7, 1)
    registration = Procedure.TEMPORARY_RESIDENCE_REGISTRATION
    assert fee_for(registration, "online", received, persons=3, by_list=True) == 15_000
    assert fee_for(registration, "in_person", received, persons=3, by_list=True) == 30_000
    assert fee_for(Procedure.TEMPORARY_RESIDENCE_EXTENSION, "online", received, persons=2, by_list=True) == 10_000
    # Outside a list the fee is per dossier.
    assert fee_for(registration, "online", received, persons=3) == 7_000


def test_fee_refuses_what_does_not_exist() -> None:
    with pytest.raises(ValueError, match="no registration by list"):
        fee_for(Procedure.PERMANENT_RESIDENCE_REGISTRATION, "online", date(2026, 7, 1), by_list=True)
    with pytest.raises(ValueError, match="channel"):
        fee_for(Procedure.PERMANENT_RESIDENCE_REGISTRATION, "post", date(2026, 7, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="persons"):
        fee_for(Procedure.TEMPORARY_RESIDENCE_REGISTRATION, "online", date(2026, 7, 1), persons=0, by_list=True)
    with pytest.raises(NoRuleSetError):
        fee_for(Procedure.PERMANENT_RESIDENCE_REGISTRATION, "online", date(2020, 1, 1))


# Deadlines

STANDARD_DEADLINES = {
    Procedure.PERMANENT_RESIDENCE_REGISTRATION: Decimal(7),
    Procedure.PERMANENT_RESIDENCE_DELETION: Decimal(5),
    Procedure.TEMPORARY_RESIDENCE_REGISTRATION: Decimal(3),
    Procedure.TEMPORARY_RESIDENCE_EXTENSION: Decimal(3),
    Procedure.TEMPORARY_RESIDENCE_DELETION: Decimal(2),
    Procedure.HOUSEHOLD_SEPARATION: Decimal(5),
    Procedure.RESIDENCE_INFO_ADJUSTMENT: Decimal(3),
    Procedure.RESIDENCE_DECLARATION: Decimal(5),
    Procedure.RESIDENCE_CONFIRMATION: Decimal("0.5"),
    Procedure.STAY_NOTIFICATION: Decimal(0),
    Procedure.TEMPORARY_ABSENCE_DECLARATION: Decimal(1),
}


@pytest.mark.parametrize("rule_set", RULE_SETS, ids=lambda rule_set: str(rule_set.effective_from))
def test_standard_deadlines(rule_set: RuleSet) -> None:
    assert {p: rules.deadline_working_days for p, rules in rule_set.procedures.items()} == STANDARD_DEADLINES


def test_alternative_deadlines() -> None:
    procedures = rules_for(date(2026, 7, 1)).procedures
    declaration = procedures[Procedure.RESIDENCE_DECLARATION]
    assert declaration.deadline(DeadlineCase.VERIFICATION) == Deadline(days=Decimal(30), unit=DayCount.CALENDAR)
    assert declaration.deadline(DeadlineCase.COMPLEX) == Deadline(days=Decimal(60), unit=DayCount.CALENDAR)
    confirmation = procedures[Procedure.RESIDENCE_CONFIRMATION]
    assert confirmation.deadline() == Deadline(days=Decimal("0.5"))
    assert confirmation.deadline(DeadlineCase.VERIFICATION) == Deadline(days=Decimal(3))
    absence = procedures[Procedure.TEMPORARY_ABSENCE_DECLARATION]
    assert absence.deadline(DeadlineCase.COMPLEX) == Deadline(days=Decimal(2))
    with pytest.raises(ValueError, match="no complex deadline"):
        procedures[Procedure.PERMANENT_RESIDENCE_REGISTRATION].deadline(DeadlineCase.COMPLEX)


def test_rule_deadlines_feed_the_calendar() -> None:
    calendar = WorkingCalendar()
    received = datetime(2026, 7, 6, 9, tzinfo=VN_TZ)  # a Monday
    declaration = rules_for(received).procedures[Procedure.RESIDENCE_DECLARATION]
    verification = declaration.deadline(DeadlineCase.VERIFICATION)
    assert calendar.deadline(received, verification.days, verification.unit) == datetime(2026, 8, 5, 17, tzinfo=VN_TZ)
    confirmation = rules_for(received).procedures[Procedure.RESIDENCE_CONFIRMATION].deadline()
    assert calendar.deadline(received, confirmation.days, confirmation.unit) == datetime(2026, 7, 6, 17, tzinfo=VN_TZ)


@pytest.mark.parametrize(
    ("days", "unit"), [(Decimal("0.3"), DayCount.WORKING), (Decimal("30.5"), DayCount.CALENDAR), (-1, "working")]
)
def test_invalid_deadlines_are_refused(days: Decimal, unit: DayCount) -> None:
    with pytest.raises(ValidationError):
        Deadline(days=days, unit=unit)


# Periods and thresholds


def test_periods_follow_the_civil_code() -> None:
    assert Period(amount=30, unit=PeriodUnit.DAYS).end_from(date(2026, 7, 10)) == date(2026, 8, 9)
    assert Period(amount=1, unit=PeriodUnit.MONTHS).end_from(date(2027, 1, 31)) == date(2027, 2, 28)
    assert Period(amount=6, unit=PeriodUnit.MONTHS).end_from(date(2026, 8, 31)) == date(2027, 2, 28)
    assert Period(amount=1, unit=PeriodUnit.YEARS).end_from(date(2028, 2, 29)) == date(2029, 2, 28)


@pytest.mark.parametrize("rule_set", RULE_SETS, ids=lambda rule_set: str(rule_set.effective_from))
def test_thresholds(rule_set: RuleSet) -> None:
    permanent = rule_set.permanent_residence
    assert permanent.min_floor_area_per_person_m2 == 8
    assert permanent.deletion_filing_days == 7
    assert permanent.ex_officio_deletion_after_notice_days == 7
    assert permanent.absence_months_for_deletion == 12
    assert permanent.housing_ended_months_for_deletion == 12
    temporary = rule_set.temporary_residence
    assert temporary.registration_trigger_days == 30
    assert temporary.max_term_months == 24
    assert temporary.extension_window_days == 15
    assert temporary.deletion_filing_days == 7
    assert temporary.ex_officio_deletion_after_notice_days == 7
    annulment = rule_set.procedures[Procedure.TEMPORARY_RESIDENCE_DELETION].deadline(DeadlineCase.ANNULMENT)
    assert (annulment.days, annulment.unit) == (1, DayCount.WORKING)
    assert temporary.newborn_registration_days == 60
    stay = rule_set.stay_notification
    assert (stay.max_stay_days, stay.same_day_cutoff, stay.next_day_cutoff) == (30, time(23), time(8))
    assert stay.relatives_notify_once
    categories = rule_set.temporary_absence.categories
    assert {code: (c.minimum_absence.amount, c.minimum_absence.unit) for code, c in categories.items()} == {
        "a": (1, PeriodUnit.DAYS),
        "b": (1, PeriodUnit.DAYS),
        "c": (3, PeriodUnit.MONTHS),
        "d": (12, PeriodUnit.MONTHS),
    }
    assert {code: c.supervising_authority_consent for code, c in categories.items()} == {
        "a": True,
        "b": True,
        "c": False,
        "d": False,
    }


def test_stay_notification_cutoffs() -> None:
    stay = rules_for(date(2026, 7, 1)).stay_notification
    assert stay.due_by(datetime(2026, 7, 10, 22, 59, tzinfo=VN_TZ)) == datetime(2026, 7, 10, 23, tzinfo=VN_TZ)
    assert stay.due_by(datetime(2026, 7, 10, 23, 0, tzinfo=VN_TZ)) == datetime(2026, 7, 11, 8, tzinfo=VN_TZ)
    assert stay.due_by(datetime(2026, 7, 10, 23, 45, tzinfo=VN_TZ)) == datetime(2026, 7, 11, 8, tzinfo=VN_TZ)
    # 16:30 UTC is 23:30 in Vietnam.
    assert stay.due_by(datetime(2026, 7, 10, 16, 30, tzinfo=UTC)) == datetime(2026, 7, 11, 1, tzinfo=UTC)


def test_every_value_of_a_rule_set_cites_its_source():
    """Each rule in the data cites its article or circular: a value no source covers fails the load."""
    from importlib import resources

    raw = json.loads(resources.files("domain").joinpath("rules", "2026-07-01.json").read_text(encoding="utf-8"))
    assert RuleSet.model_validate(raw).sources["permanent_residence.min_floor_area_per_person_m2"].startswith(
        "Luật Cư trú 2020, Điều 20 khoản 3")
    del raw["sources"]["temporary_residence.max_term_months"]
    with pytest.raises(ValidationError, match="values without a source: \\['temporary_residence.max_term_months'\\]"):
        RuleSet.model_validate(raw)
    raw["sources"]["temporary_residence.max_term_months"] = "Luật Cư trú 2020, Điều 27 khoản 3"
    raw["sources"]["temporary_residence.no_such_value"] = "Điều 99"
    with pytest.raises(ValidationError, match="names no value"):
        RuleSet.model_validate(raw)


def test_thong_tu_53_2025_starts_no_rule_set():
    """TT 53/2025/TT-BCA (2025-07-01) amended TT 55/2021 and 56/2021 without touching a deadline, fee, validity or
    threshold: it is part of the 2021 set's legal basis, and no set starts that day."""
    assert date(2025, 7, 1) not in [rule_set.effective_from for rule_set in RULE_SETS]
    assert rules_for(date(2025, 7, 1)) is RULE_SETS[0]
    assert "53/2025/TT-BCA" in RULE_SETS[0].legal_basis and "changed no deadline" in RULE_SETS[0].notes


# The head's sign-off (Trưởng Công an ký kết quả)


@pytest.mark.parametrize("received", [date(2021, 7, 1), date(2026, 7, 1)])
def test_every_reviewed_procedure_waits_for_the_heads_sign_off(received: date) -> None:
    reviewed = {procedure for procedure, spec in PROCEDURES.items() if spec.officer_review}
    assert {p for p in Procedure if needs_sign_off(p, received)} == reviewed
    assert "Điều 13" in rules_for(received).sources["sign_off.procedures"]


def test_a_rule_set_may_leave_a_procedure_to_the_officer_alone() -> None:
    data = _rule_file("2026-07-01.json")
    data["sign_off"]["procedures"].remove("ResidenceConfirmation")
    rule_set = RuleSet.model_validate(data)
    assert not rule_set.sign_off.requires(Procedure.RESIDENCE_CONFIRMATION)
    assert rule_set.sign_off.requires(Procedure.PERMANENT_RESIDENCE_REGISTRATION)


def test_a_stay_notification_cannot_wait_for_a_sign_off() -> None:
    data = _rule_file("2026-07-01.json")
    data["sign_off"]["procedures"].append("StayNotification")
    with pytest.raises(ValidationError, match="stay notification"):
        RuleSet.model_validate(data)


def test_a_rule_set_without_the_sign_off_key_is_refused() -> None:
    data = _rule_file("2026-07-01.json")
    del data["sign_off"]
    with pytest.raises(ValidationError, match="sign_off"):
        RuleSet.model_validate(data)


def test_a_procedure_named_twice_for_the_sign_off_is_refused() -> None:
    data = _rule_file("2026-07-01.json")
    data["sign_off"]["procedures"].append("ResidenceConfirmation")
    with pytest.raises(ValidationError, match="twice"):
        RuleSet.model_validate(data)
