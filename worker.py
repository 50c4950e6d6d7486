"""cutru worker: runs every procedure workflow and every activity.

Configuration comes from the environment (see ``cutru/config.py``): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
CUTRU_TASK_QUEUE, DATABASE_URL, TEMPORAL_TLS_*, CUTRU_PAYLOAD_KEYS, CUTRU_METRICS_PORT, CUTRU_LOG_LEVEL.
SIGTERM and SIGINT drain in-flight tasks and stop. ``python worker.py --check`` exits 0 when Temporal and
PostgreSQL are reachable (container health check).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from datetime import timedelta

import asyncpg
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.dossier import DossierActivities, all_activities
from activities.payment import LocalPaymentGateway
from cutru.config import Settings, load_settings
from cutru.logging import configure_logging, get_logger
from cutru.temporal import connect
from workflows.procedures import WORKFLOWS


def _auto_confirm() -> timedelta | None:
    """The local gateway confirms payments by itself after this many seconds (demo and benchmarks)."""
    value = os.environ.get("CUTRU_PAYMENT_AUTO_CONFIRM_SECONDS")
    return timedelta(seconds=float(value)) if value else None


def build_worker(client: object, settings: Settings, pool: asyncpg.Pool) -> Worker:
    activities = DossierActivities(
        pool=pool,
        gateway=LocalPaymentGateway(pool, auto_confirm_after=_auto_confirm()),
        document_dir=settings.document_dir,
    )
    return Worker(
        client,  # type: ignore[arg-type]
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS.values()),
        activities=all_activities(activities),
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run(settings: Settings) -> None:
    log = get_logger(task_queue=settings.task_queue)
    runtime = None
    if settings.metrics_port:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"0.0.0.0:{settings.metrics_port}")))
    client = await connect(settings, runtime)
    pool = await asyncpg.create_pool(settings.database_url, min_size=2, max_size=10)
    worker = build_worker(client, settings, pool)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker started", temporal=settings.temporal_address, namespace=settings.namespace)
    async with worker:
        await stop.wait()
        log.info("worker draining")
    await pool.close()
    log.info("worker stopped")


async def check(settings: Settings) -> None:
    client = await connect(settings)
    await client.service_client.check_health()
    conn = await asyncpg.connect(settings.database_url, timeout=5)
    await conn.fetchval("SELECT 1")
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 0 when Temporal and PostgreSQL are reachable")
    args = parser.parse_args()
    settings = load_settings()
    configure_logging(settings.log_level)
    if args.check:
        try:
            asyncio.run(check(settings))
        except (OSError, RuntimeError, asyncpg.PostgresError) as error:
            print(f"unhealthy: {error}", file=sys.stderr)
            raise SystemExit(1) from error
        print("healthy")
        return
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
