"""The worker process (``cutru worker``, ``python worker.py``): runs every procedure workflow and every activity.

Configuration comes from the environment (see ``cutru/platform/config.py``): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_TLS_* and TEMPORAL_PROFILE (read as the ``temporal`` CLI reads them), CUTRU_TASK_QUEUE, DATABASE_URL,
CUTRU_PAYLOAD_KEYS (or CUTRU_PAYLOAD_KEY_FILE) and CUTRU_DECISION_KEYS (or CUTRU_DECISION_KEY_FILE), both required,
CUTRU_METRICS_PORT, CUTRU_LOG_LEVEL, and the tuning variables (CUTRU_WORKER_ROLE,
CUTRU_MAX_CONCURRENT_*, CUTRU_MAX_CACHED_WORKFLOWS, CUTRU_*_TASK_POLLERS, CUTRU_DATABASE_POOL_SIZE, CUTRU_EVENT_LOOP;
docs/benchmarks.md says what each was measured to do), and the dossiers' waits (CUTRU_PAYMENT_TIMEOUT,
CUTRU_PAYMENT_POLL_INTERVAL, CUTRU_SUPPLEMENT_TIMEOUT, CUTRU_REMINDER_FRACTION, CUTRU_MESSAGE_BUDGET; production's
by default, shortened by tests and the demo), and the database sessions' bounds and role (CUTRU_DATABASE_*_TIMEOUT,
CUTRU_DATABASE_KEEPALIVE_IDLE, CUTRU_DATABASE_ROLE; docs/reliability.md), and its Worker Deployment Version
(CUTRU_DEPLOYMENT_NAME, CUTRU_BUILD_ID; unset: unversioned; ``--set-current`` makes it the current one).
SIGTERM and SIGINT drain in-flight tasks and stop. ``cutru worker --check`` exits 0 when Temporal and
PostgreSQL are reachable and both key rings are set (container health check).

Without payload keys or decision keys the worker does not start: it says which variable to set and how to generate
a key, in one line. Its Temporal client must encrypt (``cutru.platform.codec.data_converter``): a plaintext client
is refused too.

With CUTRU_METRICS_PORT set, ``http://<host>:<port>/metrics`` serves the Temporal SDK's metrics and cutru's
business metrics (``cutru/platform/metrics.py``); the overdue-dossier gauge is refreshed from the database every 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta

import asyncpg
from pydantic import ValidationError
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import MetricMeter, WorkflowIDConflictPolicy
from temporalio.worker import Worker

from activities.channels import SMS_ENV, SMTP_ENV, HttpSmsGateway, SmsConfig, SmtpConfig, SmtpMailer, config_from_env
from activities.checks import MessageChecks, check_activities
from activities.dossier import DossierActivities, all_activities
from activities.notify import LOCAL_DESK_URL, Backoff, DispatchRound, Outbox, OutboxChannel, outbox_activities
from activities.payment import GatewayConfig, HttpPaymentGateway, LocalPaymentGateway, PaymentGateway
from activities.postal import POSTAL_ENV, HttpPostalService, PostalConfig
from cutru.platform.codec import KeyConfigError, KeyRing, is_encrypted, require_keyring
from cutru.platform.config import DatabaseOptions, Settings, load_settings
from cutru.platform.logging import configure_logging, forward_core_logs, get_logger
from cutru.platform.metrics import (
    BusinessMetrics,
    MetricsInterceptor,
    OverdueGauge,
    client_metric_meter,
    prometheus_runtime,
)
from cutru.platform.signing import DecisionKeyError, DecisionKeyRing
from cutru.platform.storage import attachment_settings_from_env, open_store
from cutru.platform.temporal import (
    connect,
    deployment_config,
    deployment_version,
    run_worker_process,
    set_current_version,
    worker_tuning,
)
from cutru.platform.warm import warm_up
from cutru.service.archive import archive_interval, sweep_forever
from cutru.service.options import worker_arguments
from workflows import decision_keys as workflow_keys
from workflows.dispatch import OutboxDispatcher, dispatcher_id
from workflows.drafts import ResultDraft
from workflows.procedures import ALL_WORKFLOWS
from workflows.sandbox import workflow_runner

# How the worker gets its payment gateway from the database pool (cutru_local's worker gives one that confirms
# payments by itself, for the demo, the benchmark and the chaos campaign).
GatewayFactory = Callable[[asyncpg.Pool], PaymentGateway]


def build_worker(
    client: Client,
    settings: Settings,
    pool: asyncpg.Pool,
    *,
    metrics: BusinessMetrics | None = None,
    gateway: PaymentGateway | None = None,
    decision_keys: DecisionKeyRing | None = None,
    outbox: Outbox | None = None,
    workflows: Sequence[type] | None = None,
) -> Worker:
    """The worker for every procedure. Business metrics go to ``metrics``, by default to the meter of the runtime
    the client was connected with (a no-op meter when that runtime exports no metrics).

    ``decision_keys`` (by default CUTRU_DECISION_KEYS) verify officers' signed decisions; the client must encrypt
    payloads. Either missing: KeyConfigError or DecisionKeyError, nothing started. ``outbox`` delivers the
    notifications and events (by default webhooks only: no e-mail, SMS or postal service is configured).
    ``workflows`` replaces the workflow types (every procedure's, the dispatcher's, the draft's): another build's
    code."""
    if not is_encrypted(client.data_converter):
        raise KeyConfigError("the worker's Temporal client does not encrypt payloads: connect it with "
                             "cutru.platform.codec.data_converter and the keys of CUTRU_PAYLOAD_KEYS")
    ring = decision_keys if decision_keys is not None else DecisionKeyRing.from_env()
    workflow_keys.install(ring.keys)  # what the decide and reassign validators verify with
    activities = DossierActivities(
        pool=pool,
        gateway=gateway if gateway is not None else LocalPaymentGateway(pool),
        document_dir=settings.document_dir,
        processing=settings.processing,
        verification_url=settings.verification_url,
    )
    role = settings.worker_role
    versioning = deployment_config(settings)
    types = [*ALL_WORKFLOWS, OutboxDispatcher, ResultDraft] if workflows is None else list(workflows)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=(types if versioning else [unversioned(t) for t in types]) if role != "activities" else [],
        workflow_runner=workflow_runner(),
        # A workflow-task process still runs the lifecycle's local steps (workflows/lifecycle.py, LOCAL_STEPS), so it
        # has the activities too, but polls for none of them.
        activities=[*all_activities(activities), *check_activities(MessageChecks(pool, ring.keys)),
                    *outbox_activities(outbox or Outbox(pool))],
        no_remote_activities=role == "workflows",
        interceptors=[MetricsInterceptor(metrics or BusinessMetrics(client_metric_meter(client)))],
        graceful_shutdown_timeout=timedelta(seconds=10),
        deployment_config=versioning,
        **worker_tuning(settings),
    )


def unversioned(workflow_class: type) -> type:
    """The same workflow type without its versioning behaviour, for a worker without a deployment version: the SDK
    sends the behaviour its ``@workflow.defn`` declares, and the server refuses it from an unversioned worker.

    A subclass of the same name, defined again without a behaviour: every cutru workflow type is named after its
    class (domain.kinds.Procedure's values are the procedures' class names), which is ``workflow.defn``'s default
    name, so the server sees the same type."""
    bare = type(workflow_class.__name__, (workflow_class,), {"__module__": workflow_class.__module__})
    return workflow.defn(bare)


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """On release asyncpg still rolls back a transaction left open; what this skips is its reset query (advisory
    unlock, CLOSE ALL, UNLISTEN, RESET ALL), a round trip per activity for session state that activities never set:
    they use transactions only."""


def _keepalive(options: DatabaseOptions) -> Callable[[asyncpg.Connection], Awaitable[None]]:
    """Kernel keepalives on the client's socket, so that an idle pooled connection whose server has gone silent is
    closed by the kernel and replaced at the next acquire (asyncpg sets no socket options but TCP_NODELAY)."""
    idle = max(1, int(options.keepalive_idle.total_seconds()))

    async def init(conn: asyncpg.Connection) -> None:
        transport = getattr(conn, "_transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", max(1, idle // 2)), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):  # Linux names; macOS has TCP_KEEPALIVE for the idle time
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)

    return init


# The worker's statements are constants with parameters, keyed on a dossier, person or place; with the default
# plan cache PostgreSQL kept planning the costlier ones (the commit's locks, the identity check) at every execution,
# the plan costing more than the run. One generic plan per connection serves every dossier alike
# (docs/benchmarks.md, tuning log). The API keeps the default: the desk's filtered lists gain from custom plans.
GENERIC_PLANS = {"plan_cache_mode": "force_generic_plan"}


def session_settings(options: DatabaseOptions, *, generic_plans: bool = False) -> dict[str, str]:
    """What every session sets at start: the server's own bounds, and its keepalives towards this client; with
    ``generic_plans`` (the worker's), a plan made once per statement."""
    idle = max(1, int(options.keepalive_idle.total_seconds()))

    def ms(value: timedelta) -> str:
        return str(max(1, int(value.total_seconds() * 1000)))

    values = {
        "statement_timeout": ms(options.statement_timeout),
        "lock_timeout": ms(options.lock_timeout),
        "idle_in_transaction_session_timeout": ms(options.idle_in_transaction_timeout),
        "tcp_keepalives_idle": str(idle),
        "tcp_keepalives_interval": str(max(1, idle // 2)),
        "tcp_keepalives_count": "3",
    }
    if options.role:
        values["role"] = options.role
    return values | (GENERIC_PLANS if generic_plans else {})


async def database_pool(url: str, size: int = 10, options: DatabaseOptions | None = None, *,
                        generic_plans: bool = False) -> asyncpg.Pool:
    """The worker's (``generic_plans``) and the API's pool. Every statement is bounded on the server
    (statement_timeout) and on the client (command_timeout: asyncio.TimeoutError, then the connection is cancelled
    or dropped), and connecting is bounded too, so a database that drops packets fails the activity attempt, which
    Temporal retries, instead of holding it until its start-to-close timeout."""
    options = options or DatabaseOptions()
    return await asyncpg.create_pool(
        url, min_size=min(2, size), max_size=size, reset=_no_session_reset, init=_keepalive(options),
        timeout=options.connect_timeout.total_seconds(), command_timeout=options.client_timeout.total_seconds(),
        server_settings=session_settings(options, generic_plans=generic_plans),
    )


def require_keys() -> tuple[KeyRing, DecisionKeyRing]:
    """Both key rings from the environment; a missing or unusable one stops the process with a one-line reason."""
    try:
        return require_keyring(), DecisionKeyRing.from_env()
    except (KeyConfigError, DecisionKeyError) as error:
        raise SystemExit(f"cutru worker: {error}") from None


def configured_gateway(settings: Settings) -> GatewayFactory:
    """The HTTP gateway that CUTRU_PAYMENT_GATEWAY_URL, CUTRU_PAYMENT_TMN_CODE and CUTRU_PAYMENT_HASH_SECRET name
    (docs/payments.md; its payment URLs expire with the dossiers' payment timeout), else the in-database one."""
    config = GatewayConfig.from_env(os.environ, order_expiry=settings.processing.payment_timeout)
    if config is None:
        return LocalPaymentGateway
    return lambda pool: HttpPaymentGateway(pool, config)


# The outbox's own variables (docs/notifications.md); the channels' are in activities.channels and activities.postal.
PORTAL_URL_ENV = "CUTRU_PORTAL_URL"
# The desk's public origin, which officers' messages link to (the API's variable), else the API's address.
DESK_URL_ENV = "CUTRU_DESK_URL"
API_URL_ENV = "CUTRU_API_URL"
OUTBOX_POLL_ENV = "CUTRU_OUTBOX_POLL"
OUTBOX_BACKOFF_ENV = {"first": "CUTRU_OUTBOX_RETRY_FIRST", "longest": "CUTRU_OUTBOX_RETRY_LONGEST",
                      "attempts": "CUTRU_EVENT_ATTEMPTS"}


def outbox_backoff(environ: Mapping[str, str]) -> Backoff:
    """The outbox's retry pauses (seconds) and webhook attempts from CUTRU_OUTBOX_RETRY_FIRST,
    CUTRU_OUTBOX_RETRY_LONGEST and CUTRU_EVENT_ATTEMPTS; ValueError naming the variable when one is not a number."""
    values: dict[str, object] = {}
    for field, var in OUTBOX_BACKOFF_ENV.items():
        if environ.get(var):
            try:
                number = float(environ[var])
            except ValueError:
                raise ValueError(f"{var} must be a number, not {environ[var]!r}") from None
            values[field] = int(number) if field == "attempts" else timedelta(seconds=number)
    try:
        return Backoff.model_validate(values)
    except ValidationError as error:
        raise ValueError(f"{', '.join(OUTBOX_BACKOFF_ENV.values())}: {error.errors()[0]['msg']}") from None


def configured_outbox(pool: asyncpg.Pool, gateway: PaymentGateway) -> Outbox:
    """The outbox with the channels the environment configures: CUTRU_SMTP_HOST, CUTRU_SMS_GATEWAY_URL,
    CUTRU_POSTAL_URL (and their companions); fee links from the HTTP payment gateway, else the portal's page."""
    smtp = config_from_env(SmtpConfig, SMTP_ENV, os.environ)
    sms = config_from_env(SmsConfig, SMS_ENV, os.environ)
    postal = config_from_env(PostalConfig, POSTAL_ENV, os.environ)

    async def payment_link(dossier_code: str) -> str | None:
        assert isinstance(gateway, HttpPaymentGateway)
        return (await gateway.order(dossier_code)).payment_url

    return Outbox(pool, mailer=SmtpMailer(smtp) if smtp else None, sms=HttpSmsGateway(sms) if sms else None,
                  postal=HttpPostalService(postal) if postal else None,
                  payment_link=payment_link if isinstance(gateway, HttpPaymentGateway) else None,
                  portal_url=os.environ.get(PORTAL_URL_ENV) or "https://dichvucong.bocongan.gov.vn",
                  desk_url=os.environ.get(DESK_URL_ENV) or os.environ.get(API_URL_ENV) or LOCAL_DESK_URL,
                  backoff=outbox_backoff(os.environ))


async def start_dispatchers(client: Client, task_queue: str, channels: list[OutboxChannel],
                            poll: timedelta = timedelta(seconds=1), length: timedelta | None = None) -> None:
    """One dispatcher per channel on this task queue, its rounds ``length`` long (by default DispatchRound's) and
    looking for due rows every ``poll``; those already running are left as they are."""
    for channel in channels:
        job = DispatchRound(channel=channel, poll=poll, **({"length": length} if length else {}))
        await client.start_workflow(OutboxDispatcher.run, job,
                                    id=dispatcher_id(task_queue, channel), task_queue=task_queue,
                                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)


async def run(settings: Settings, gateway: GatewayFactory | None = None, *, set_current: bool = False) -> None:
    """``set_current``: once polling, make this worker's deployment version the current one (the local stack's
    rollout; production sets it as a step of its own, docs/runbook.md)."""
    require_keys()
    version = deployment_version(settings)
    if set_current and version is None:
        raise SystemExit("cutru worker: --set-current needs CUTRU_DEPLOYMENT_NAME and CUTRU_BUILD_ID")
    log = get_logger(task_queue=settings.task_queue)
    runtime = prometheus_runtime(settings.metrics_port) if settings.metrics_port else None
    client = await connect(settings, runtime)
    pool = await database_pool(settings.database_url, settings.database_pool_size, settings.database,
                               generic_plans=True)
    metrics = BusinessMetrics(runtime.metric_meter if runtime else MetricMeter.noop)
    payments = (gateway or configured_gateway(settings))(pool)
    outbox = configured_outbox(pool, payments)
    worker = build_worker(client, settings, pool, metrics=metrics, gateway=payments, outbox=outbox)
    warm_up(forms=True, verification_url=settings.verification_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Without an endpoint nobody reads the gauge, so the database is not queried for it.
    gauge = asyncio.create_task(OverdueGauge(pool, metrics).run()) if runtime else None
    # Closed dossiers' histories to the document store, before retention removes them (cutru.service.archive).
    interval = archive_interval()
    archivist = (asyncio.create_task(sweep_forever(client, pool, open_store(attachment_settings_from_env()), interval))
                 if interval else None)
    log.info("worker started", temporal=settings.temporal_address, namespace=settings.namespace,
             metrics_port=settings.metrics_port, build_id=settings.build_id)
    try:
        async with worker:
            if set_current and version is not None:
                await set_current_version(client, version)
                log.info("current version set", deployment=version.deployment_name, build_id=version.build_id)
            await start_dispatchers(client, settings.task_queue, outbox.channels(),
                                    timedelta(seconds=float(os.environ.get(OUTBOX_POLL_ENV) or 1)))
            await stop.wait()
            log.info("worker draining")
    finally:
        # Stopped only after the worker has drained, and before the pool it queries is closed.
        for task in (gauge, archivist):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await outbox.close()
        await pool.close()
    log.info("worker stopped")


async def check(settings: Settings) -> None:
    require_keyring()
    DecisionKeyRing.from_env()
    client = await connect(settings)
    await client.service_client.check_health()
    conn = await asyncpg.connect(settings.database_url, timeout=5)
    await conn.fetchval("SELECT 1")
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    worker_arguments(parser)
    args = parser.parse_args()
    if args.check:
        try:
            settings = load_settings()
            configure_logging(settings.log_level)
            asyncio.run(check(settings))
        # ValueError: a configuration fault (ConfigError: a half-configured mTLS pair, an unknown Temporal profile;
        # KeyConfigError: a bad payload key ring) the probe must report as "unhealthy: <reason>", not as a traceback.
        except (OSError, RuntimeError, ValueError, asyncpg.PostgresError) as error:
            print(f"unhealthy: {error}", file=sys.stderr)
            raise SystemExit(1) from error
        print("healthy")
        return
    settings = load_settings()
    configure_logging(settings.log_level)
    forward_core_logs()
    run_worker_process(run(settings, set_current=args.set_current), settings)


if __name__ == "__main__":
    main()
