"""Worker tuning from the environment (``CUTRU_WORKER_ROLE``, ``CUTRU_MAX_*``, pollers, pool size, event loop)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.worker import PollerBehaviorSimpleMaximum, Replayer

from cutru.clients.audit import load_history
from cutru.platform.codec import replay_converter
from cutru.platform.config import TUNING_VARIABLES, ConfigError, load_settings
from cutru.platform.temporal import FIXED_TUNING, run_worker_process, worker_tuning
from cutru.service.worker import unversioned
from domain.kinds import Procedure
from tests.factories import PAYLOAD_KEYS
from workflows.procedures import ALL_WORKFLOWS
from workflows.sandbox import workflow_runner

HISTORY_DIR = Path(__file__).resolve().parent.parent / "histories"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in (*TUNING_VARIABLES, "CUTRU_WORKER_ROLE"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_unset_tuning_keeps_the_sdk_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert worker_tuning(settings) == {"max_workflow_task_external_storage_concurrency": 1} == FIXED_TUNING
    assert settings.worker_role == "all"
    assert settings.database_pool_size == 10
    assert settings.event_loop == "uvloop"


def test_tuning_variables_become_worker_arguments(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CUTRU_MAX_CONCURRENT_ACTIVITIES", "20")
    clean_env.setenv("CUTRU_MAX_CONCURRENT_WORKFLOW_TASKS", "50")
    clean_env.setenv("CUTRU_MAX_CACHED_WORKFLOWS", "300")
    clean_env.setenv("CUTRU_WORKFLOW_TASK_POLLERS", "4")
    clean_env.setenv("CUTRU_ACTIVITY_TASK_POLLERS", "3")
    clean_env.setenv("CUTRU_DATABASE_POOL_SIZE", "6")
    settings = load_settings()
    assert worker_tuning(settings) == {
        "max_concurrent_activities": 20,
        "max_concurrent_workflow_tasks": 50,
        "max_cached_workflows": 300,
        "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(4),
        "activity_task_poller_behavior": PollerBehaviorSimpleMaximum(3),
    } | FIXED_TUNING
    assert settings.database_pool_size == 6


@pytest.mark.parametrize(
    ("var", "value", "field"),
    [
        ("CUTRU_WORKER_ROLE", "both", "worker_role"),
        ("CUTRU_MAX_CONCURRENT_ACTIVITIES", "0", "max_concurrent_activities"),
        ("CUTRU_WORKFLOW_TASK_POLLERS", "1", "workflow_task_pollers"),  # the SDK needs two with a sticky cache
        ("CUTRU_DATABASE_POOL_SIZE", "many", "database_pool_size"),
        ("CUTRU_EVENT_LOOP", "trio", "event_loop"),
    ],
)
def test_a_bad_tuning_value_is_refused_by_name(clean_env: pytest.MonkeyPatch, var: str, value: str,
                                               field: str) -> None:
    clean_env.setenv(var, value)
    with pytest.raises(ConfigError, match=f"invalid settings: {var}: ") as refused:
        load_settings()
    assert isinstance(refused.value.__cause__, ValidationError) and field in str(refused.value.__cause__)


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.parametrize(("name", "module"), [("uvloop", "uvloop"), ("asyncio", "asyncio.unix_events")])
def test_the_worker_process_runs_on_the_event_loop_it_is_given(clean_env: pytest.MonkeyPatch, name: str,
                                                               module: str) -> None:
    clean_env.setenv("CUTRU_EVENT_LOOP", name)
    assert run_worker_process(_loop_module(), load_settings()) == module


def test_uvloop_missing_says_how_to_fall_back(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setitem(sys.modules, "uvloop", None)  # as on a platform uvloop is not built for
    with pytest.raises(RuntimeError, match="set CUTRU_EVENT_LOOP=asyncio"):
        run_worker_process(_loop_module(), load_settings())


async def test_an_unversioned_type_is_the_same_workflow_type() -> None:
    """The replayer finds a history's workflow by its type name: each procedure's recorded dossier replays on the
    types an unversioned worker registers."""
    replayer = Replayer(workflows=[unversioned(w) for w in ALL_WORKFLOWS],
                        data_converter=replay_converter(PAYLOAD_KEYS), workflow_runner=workflow_runner())
    for procedure in Procedure:
        recorded = min(HISTORY_DIR.glob(f"*@{procedure.value}-completed.json"))
        await replayer.replay_workflow(load_history(recorded))
