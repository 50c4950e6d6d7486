"""The worker's Prometheus endpoint, scraped over HTTP while real dossiers run on the dev server and PostgreSQL.

Each test gets its own Temporal runtime (and so its own metrics endpoint and counters starting at zero), which
is why exact values can be asserted although the server and the database are shared by the whole session.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from temporalio.client import Client

from cutru.clients.client import DossierClient
from cutru.platform.config import PROJECT_ROOT, Settings
from cutru.platform.metrics import (
    ACTIVITY_FAILURES,
    DOSSIERS_FINISHED,
    DOSSIERS_OVERDUE,
    DOSSIERS_STARTED,
    FEES_COLLECTED,
    BusinessMetrics,
    OverdueGauge,
    prometheus_runtime,
)
from cutru.platform.temporal import connect
from domain.models import DecisionKind, DossierState, OfficerDecision
from tests.factories import head_signs, new_person, new_place, pay, registration, worker_env
from tests.integration.test_permanent_registration import wait_state
from worker import build_worker

PROCEDURE = "PermanentResidenceRegistration"
# Added by the SDK runtime to every metric; not one of cutru's labels.
SDK_LABELS = {"service_name"}

Labels = frozenset[tuple[str, str]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# One sample line of the Prometheus text format: name, optional {label="value",...}, value.
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> dict[str, dict[Labels, float]]:
    """Sample name -> label set (SDK labels removed) -> value, with names exactly as exported.

    Deliberately not prometheus_client's parser: it appends ``_total`` to every counter sample, which would
    hide a counter exported under the wrong name."""
    samples: dict[str, dict[Labels, float]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, label_text, value = match.groups()
        found = frozenset((k, v) for k, v in _LABEL.findall(label_text or "") if k not in SDK_LABELS)
        samples.setdefault(name, {})[found] = float(value)
    return samples


async def scrape(port: int) -> dict[str, dict[Labels, float]]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        return parse_exposition(await response.text())


def _completed_on(metrics: dict[str, dict[Labels, float]], task_queue: str) -> float:
    completed = metrics.get("temporal_workflow_completed", {})
    return sum(v for k, v in completed.items() if ("task_queue", task_queue) in k)


async def scrape_until(port: int, ready: Callable[[dict[str, dict[Labels, float]]], bool],
                       timeout: float = 10.0) -> dict[str, dict[Labels, float]]:
    """Scrape until ``ready`` holds, at most ``timeout`` seconds; the last scrape either way, for the asserts."""
    deadline = asyncio.get_running_loop().time() + timeout
    metrics = await scrape(port)
    while not ready(metrics) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
        metrics = await scrape(port)
    return metrics


def test_exposition_parser_keeps_names_and_labels() -> None:
    parsed = parse_exposition(
        "# TYPE temporal_workflow_completed counter\n"
        'temporal_workflow_completed{service_name="temporal-core-sdk",workflow_type="A"} 3\n'
        'cutru_dossiers_overdue{unit="CA-00070"} 0\n'
        "up 1\n"
    )
    assert parsed == {
        "temporal_workflow_completed": {labels(workflow_type="A"): 3},
        "cutru_dossiers_overdue": {labels(unit="CA-00070"): 0},
        "up": {labels(): 1},
    }


def labels(**values: str) -> Labels:
    return frozenset(values.items())


async def eventually(check: Callable[[], Awaitable[bool]], within: float) -> None:
    """Poll ``check``: the condition lives in another process, so there is no event to wait on."""
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.2)


@pytest.fixture
async def metrics_client(settings: Settings) -> AsyncIterator[tuple[Client, int]]:
    """A client on a runtime of its own that serves /metrics on a free port; its worker reports there."""
    port = free_port()
    client = await connect(settings, prometheus_runtime(port, host="127.0.0.1"))
    yield client, port


async def test_business_metrics_during_and_after_a_dossier(
    metrics_client: tuple[Client, int], settings: Settings, pool: asyncpg.Pool
) -> None:
    client, port = metrics_client
    dossiers = DossierClient(client, settings.task_queue)
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id)
    submission = registration(person, place)
    code = submission["dossier_code"]

    async with build_worker(client, settings, pool):
        await dossiers.submit(submission)
        await wait_state(dossiers, code, DossierState.AWAITING_DECISION)

        during = await scrape(port)
        assert during[DOSSIERS_STARTED] == {labels(procedure=PROCEDURE): 1}
        assert DOSSIERS_FINISHED not in during
        assert FEES_COLLECTED not in during

        status = await dossiers.status(code)
        assert status.assigned_officer is not None
        await dossiers.decide(code, OfficerDecision(officer_id=status.assigned_officer,
                                                    decision=DecisionKind.APPROVE))
        await head_signs(dossiers, pool, code)
        await wait_state(dossiers, code, DossierState.AWAITING_PAYMENT)
        await pay(dossiers, pool, code)
        outcome = await dossiers.result(code)
        assert outcome.state == DossierState.COMPLETED and outcome.fee_paid_vnd == 10_000

        # The client can see the result before the worker's SDK has counted the completion it reported.
        after = await scrape_until(port, lambda metrics: _completed_on(metrics, settings.task_queue) >= 1)

    assert after[DOSSIERS_STARTED] == {labels(procedure=PROCEDURE): 1}
    assert after[DOSSIERS_FINISHED] == {labels(procedure=PROCEDURE, status="completed"): 1}
    assert after[FEES_COLLECTED] == {labels(procedure=PROCEDURE): 10_000}
    assert ACTIVITY_FAILURES not in after, after.get(ACTIVITY_FAILURES)
    # The SDK's own metrics are on the same endpoint, under the names the dashboard and the alerts use.
    assert _completed_on(after, settings.task_queue) == 1
    assert "temporal_workflow_task_schedule_to_start_latency_bucket" in after


async def test_refused_dossier_is_finished_without_a_fee(
    metrics_client: tuple[Client, int], settings: Settings, pool: asyncpg.Pool
) -> None:
    client, port = metrics_client
    dossiers = DossierClient(client, settings.task_queue)
    async with pool.acquire() as conn:
        person = await new_person(conn)
        place = await new_place(conn, owner_id=person.personal_id, barred_reason="đất lấn chiếm")
    submission = registration(person, place)
    async with build_worker(client, settings, pool):
        await dossiers.submit(submission)
        assert (await dossiers.result(submission["dossier_code"])).state == DossierState.REFUSED
        after = await scrape(port)
    assert after[DOSSIERS_STARTED] == {labels(procedure=PROCEDURE): 1}
    assert after[DOSSIERS_FINISHED] == {labels(procedure=PROCEDURE, status="refused"): 1}
    assert FEES_COLLECTED not in after


async def _insert_dossier(conn: asyncpg.Connection, code: str, unit: str, status: str, overdue: bool) -> None:
    await conn.execute(
        "INSERT INTO dossiers (dossier_code, procedure, status, unit_code, applicant_id, applicant_name,"
        " received_at, overdue) VALUES ($1, $2, $3, $4, '001190000001', 'Nguyễn Văn A', now(), $5)",
        code, PROCEDURE, status, unit, overdue,
    )


@pytest.fixture
async def overdue_unit(pool: asyncpg.Pool) -> AsyncIterator[str]:
    """A unit of its own with two open overdue dossiers, plus one finished late and one open in time."""
    unit = f"CA-T{uuid.uuid4().hex[:8]}"
    codes = [f"HS-METRICS-{uuid.uuid4().hex[:10].upper()}" for _ in range(4)]
    async with pool.acquire() as conn:
        await _insert_dossier(conn, codes[0], unit, "awaiting_decision", True)
        await _insert_dossier(conn, codes[1], unit, "awaiting_payment", True)
        await _insert_dossier(conn, codes[2], unit, "completed", True)
        await _insert_dossier(conn, codes[3], unit, "awaiting_decision", False)
    yield unit
    await pool.execute("DELETE FROM dossiers WHERE unit_code = $1", unit)


async def test_overdue_gauge_counts_open_overdue_dossiers_by_unit(
    metrics_client: tuple[Client, int], pool: asyncpg.Pool, overdue_unit: str
) -> None:
    client, port = metrics_client
    runtime = client.service_client.config.runtime
    assert runtime is not None
    gauge = OverdueGauge(pool, BusinessMetrics(runtime.metric_meter))

    assert (await gauge.refresh())[overdue_unit] == 2
    assert (await scrape(port))[DOSSIERS_OVERDUE][labels(unit=overdue_unit)] == 2

    # Once decided, the unit drops to zero rather than keeping its last value.
    await pool.execute("UPDATE dossiers SET status = 'completed' WHERE unit_code = $1", overdue_unit)
    assert overdue_unit not in await gauge.refresh()
    assert (await scrape(port))[DOSSIERS_OVERDUE][labels(unit=overdue_unit)] == 0


# ---- the real entry point: `python worker.py` with CUTRU_METRICS_PORT ------------------------------------------


@pytest.fixture
def worker_process(
    settings: Settings, overdue_unit: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = worker_env(settings, CUTRU_METRICS_PORT=str(port), CUTRU_STATE_DIR=str(tmp_path))
    process = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "worker.py")], env=env)
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


async def test_worker_process_serves_metrics_and_stops_on_sigterm(
    worker_process: tuple[subprocess.Popen[bytes], int], overdue_unit: str
) -> None:
    process, port = worker_process

    async def serving() -> bool:
        assert process.poll() is None, f"worker exited with {process.returncode}"
        try:
            samples = await scrape(port)
        except aiohttp.ClientConnectionError:
            return False
        # The gauge is refreshed once at start; the pollers show the worker itself is running.
        return (
            samples.get(DOSSIERS_OVERDUE, {}).get(labels(unit=overdue_unit)) == 2
            and "temporal_num_pollers" in samples
        )

    await eventually(serving, within=30)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 30) == 0
