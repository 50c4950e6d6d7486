"""The database sessions' bounds and role from the environment (CUTRU_DATABASE_*), and what each session sets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cutru.platform.config import ConfigError, DatabaseOptions, load_settings
from cutru.service.worker import session_settings


def test_the_defaults_fit_inside_an_activity_attempt():
    options = DatabaseOptions()
    # A black-holed statement fails after the client bound, and giving its connection back waits as long again.
    assert 2 * options.client_timeout < timedelta(seconds=10)
    assert options.client_timeout > options.statement_timeout  # a reachable server cancels first


def test_the_variables_take_seconds_or_iso_durations(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUTRU_DATABASE_STATEMENT_TIMEOUT", "2.5")
    monkeypatch.setenv("CUTRU_DATABASE_LOCK_TIMEOUT", "PT1S")
    monkeypatch.setenv("CUTRU_DATABASE_COMMAND_TIMEOUT", "9")
    monkeypatch.setenv("CUTRU_DATABASE_ROLE", "cutru_worker")
    options = load_settings().database
    assert options.statement_timeout == timedelta(seconds=2.5)
    assert options.lock_timeout == timedelta(seconds=1)
    assert options.client_timeout == timedelta(seconds=9)
    settings = session_settings(options)
    assert settings["statement_timeout"] == "2500" and settings["lock_timeout"] == "1000"
    assert settings["idle_in_transaction_session_timeout"] == "30000"
    assert settings["tcp_keepalives_idle"] == "10" and settings["role"] == "cutru_worker"


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, value: str):
    monkeypatch.setenv("CUTRU_DATABASE_CONNECT_TIMEOUT", value)
    with pytest.raises(ConfigError, match="CUTRU_DATABASE_CONNECT_TIMEOUT"):
        load_settings()


def test_no_role_is_taken_unless_one_is_set():
    assert "role" not in session_settings(DatabaseOptions())


def test_only_the_workers_sessions_plan_each_statement_once():
    assert session_settings(DatabaseOptions(), generic_plans=True)["plan_cache_mode"] == "force_generic_plan"
    assert "plan_cache_mode" not in session_settings(DatabaseOptions())
