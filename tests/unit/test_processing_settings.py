"""The dossiers' waits are the worker's configuration (``Settings.processing``), never a submission's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cutru.platform.config import ConfigError, load_settings, processing_environment
from domain.models import ProcessingOptions

VARIABLES = ("CUTRU_PAYMENT_TIMEOUT", "CUTRU_PAYMENT_POLL_INTERVAL", "CUTRU_SUPPLEMENT_TIMEOUT",
             "CUTRU_REMINDER_FRACTION", "CUTRU_MESSAGE_BUDGET")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in VARIABLES:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_unset_the_worker_waits_as_production_does(clean_env: pytest.MonkeyPatch) -> None:
    assert load_settings().processing == ProcessingOptions()
    assert ProcessingOptions().payment_timeout == timedelta(days=3)


def test_the_variables_a_harness_sets_give_its_worker_those_timings(clean_env: pytest.MonkeyPatch) -> None:
    short = ProcessingOptions(payment_timeout=timedelta(seconds=30), payment_poll_interval=timedelta(seconds=1),
                              supplement_timeout=timedelta(minutes=1), reminder_fraction=0.5, message_budget=50)
    environment = processing_environment(short)
    assert set(environment) == set(VARIABLES)
    for var, value in environment.items():
        clean_env.setenv(var, value)
    assert load_settings().processing == short


def test_one_variable_changes_one_timing(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CUTRU_SUPPLEMENT_TIMEOUT", "PT5M")
    assert load_settings().processing == ProcessingOptions(supplement_timeout=timedelta(minutes=5))


@pytest.mark.parametrize(("var", "value"), [("CUTRU_PAYMENT_POLL_INTERVAL", "PT0S"),
                                            ("CUTRU_PAYMENT_TIMEOUT", "three days"),
                                            ("CUTRU_REMINDER_FRACTION", "1.5"),
                                            ("CUTRU_MESSAGE_BUDGET", "5000")])
def test_a_timing_no_dossier_can_wait_by_is_refused_by_name(clean_env: pytest.MonkeyPatch, var: str,
                                                           value: str) -> None:
    clean_env.setenv(var, value)
    with pytest.raises(ConfigError, match=f"invalid settings: {var}: "):
        load_settings()
