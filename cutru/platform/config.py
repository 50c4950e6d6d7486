"""Configuration from the environment, shared by the worker, the `cutru` command and the tools.

Every setting has an environment variable so that the same image runs on a laptop, in CI and in a cluster.
The Temporal connection is read by the SDK's ``temporalio.envconfig``, the way the ``temporal`` CLI reads it: the
variables TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH,
TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH (or their ``_DATA`` forms), TEMPORAL_TLS_SERVER_NAME,
TEMPORAL_GRPC_META_*, over the profile TEMPORAL_PROFILE (default ``default``) of the file TEMPORAL_CONFIG_FILE
(default ``~/.config/temporalio/temporal.toml``). An empty variable counts as unset, as compose's ``${VAR:-}`` and a
blanked ConfigMap entry give. Nothing but the environment (and that profile file) is read: the local stack hands
its addresses to what it starts through the environment (``.cutru/env``).
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationError
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS

from activities.delivery import LOCAL_VERIFICATION_URL
from domain.models import ProcessingOptions

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("CUTRU_STATE_DIR", PROJECT_ROOT / ".cutru"))

# Search attributes registered on the namespace; the workflows upsert them at every step.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "DossierProcedure": "Keyword",
    "DossierStatus": "Keyword",
    "PoliceUnit": "Keyword",
    "DossierDeadline": "Datetime",
    "DossierOverdue": "Bool",
}


class ConfigError(ValueError):
    """A setting that cannot work; the message names the variable or the file."""


def _seconds(value: object) -> object:
    """A plain number in a variable is seconds ("2.5"); anything else goes to pydantic (ISO 8601: PT2.5S)."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds)]


class DatabaseOptions(BaseModel):
    """How long the worker's and the API's database sessions may wait, and as whom they act.

    The server enforces the statement, lock and idle-in-transaction bounds and probes idle clients with TCP
    keepalives; the client bounds every command as well (``command_timeout``), because a server behind a network
    that drops packets never answers, not even with its own timeout. Durations: seconds or ISO 8601 (PT30S)."""

    # The defaults keep a black-holed activity attempt inside its start-to-close timeout (10 s,
    # workflows/lifecycle.py): its statement fails after the client bound (4 s), and giving its connection back
    # waits as long again for the cancel request, which the silence swallows too; so the attempt fails, frees its
    # connection and is retried, rather than running on past the attempt the server has already given up on. Every
    # activity and API read is a few indexed statements of milliseconds.
    connect_timeout: Duration = Field(default=timedelta(seconds=4), gt=timedelta(0))
    statement_timeout: Duration = Field(default=timedelta(seconds=3), gt=timedelta(0))
    # None: the statement timeout plus 1 s, so that a reachable server cancels first and says why.
    command_timeout: Duration | None = Field(default=None, gt=timedelta(0))
    lock_timeout: Duration = Field(default=timedelta(seconds=2), gt=timedelta(0))
    idle_in_transaction_timeout: Duration = Field(default=timedelta(seconds=30), gt=timedelta(0))
    keepalive_idle: Duration = Field(default=timedelta(seconds=10), ge=timedelta(seconds=1))
    # A group role (cutru_worker, cutru_api, cutru_reporting) the session takes at start, for a login that is a
    # member of several; None: the login's own privileges (docs/production.md, database roles).
    role: str | None = None

    @property
    def client_timeout(self) -> timedelta:
        return self.command_timeout or self.statement_timeout + timedelta(seconds=1)


class TemporalToken(BaseModel):
    """A service's own access token for a self-hosted Temporal server with the JWT authorizer: fetched with OAuth 2.0
    client credentials from the identity provider's token endpoint, and renewed before it expires."""

    token_url: str = Field(pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1, repr=False)
    # RFC 8707 resource indicator, for a provider that sets the token's audience from it (e.g. urn:temporal).
    resource: str | None = None
    # Renewed when this part of the token's lifetime has gone, so a slow provider still answers in time.
    renew_at: float = Field(default=0.75, gt=0, lt=1)


_TEMPORAL_TOKEN_ENV = {
    "token_url": "CUTRU_TEMPORAL_TOKEN_URL",
    "client_id": "CUTRU_TEMPORAL_CLIENT_ID",
    "client_secret": "CUTRU_TEMPORAL_CLIENT_SECRET",
    "resource": "CUTRU_TEMPORAL_TOKEN_RESOURCE",
    "renew_at": "CUTRU_TEMPORAL_TOKEN_RENEW_AT",
}


def temporal_token_from_env(environ: dict[str, str] | None = None) -> TemporalToken | None:
    """The service's token settings, or None when CUTRU_TEMPORAL_CLIENT_ID is not set; refused when half set or
    beside a static TEMPORAL_API_KEY (which of the two would be sent would be a guess)."""
    env = os.environ if environ is None else environ
    values = {field: env[var] for field, var in _TEMPORAL_TOKEN_ENV.items() if env.get(var)}
    if not values:
        return None
    if env.get("TEMPORAL_API_KEY"):
        raise ConfigError("set TEMPORAL_API_KEY or CUTRU_TEMPORAL_CLIENT_ID (a token renewed by cutru), not both")
    try:
        return TemporalToken.model_validate(values)
    except ValidationError as error:
        raise ConfigError("invalid Temporal token settings: " + "; ".join(
            f"{_TEMPORAL_TOKEN_ENV.get(str(e['loc'][0]), str(e['loc'][0]))}: {e['msg']}" for e in error.errors())
        ) from error


class Settings(BaseModel):
    temporal_address: str = "127.0.0.1:7233"
    namespace: str = "default"
    # What envconfig loaded (TEMPORAL_TLS*, or the profile's [tls] table); None: plain text unless an API key is set.
    temporal_tls: ClientConfigTLS | None = None
    temporal_api_key: str | None = None
    temporal_token: TemporalToken | None = None
    temporal_grpc_meta: dict[str, str] = Field(default_factory=dict)
    task_queue: str = "cutru-dossiers"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/cutru"
    log_level: str = "INFO"
    metrics_port: int | None = None
    document_dir: Path = STATE_DIR / "documents"
    # The public verification endpoint (the API's /v1/verifications as citizens and third parties reach it): what the
    # QR code on a CT07 or CT08 points to, followed by the document's code.
    verification_url: str = Field(default=LOCAL_VERIFICATION_URL, pattern=r"^https?://[!-~]+$", max_length=200)
    # Worker tuning (docs/benchmarks.md has what each was measured to do); None keeps the SDK's default.
    worker_role: Literal["all", "workflows", "activities"] = Field(
        default="all", description="what this worker process polls for: both, or one kind of task only"
    )
    max_concurrent_activities: int | None = Field(default=None, ge=1)
    max_concurrent_workflow_tasks: int | None = Field(default=None, ge=2)  # the SDK refuses 1 (sticky queues)
    max_cached_workflows: int | None = Field(default=None, ge=0)
    workflow_task_pollers: int | None = Field(default=None, ge=2)
    activity_task_pollers: int | None = Field(default=None, ge=1)
    database_pool_size: int = Field(default=10, ge=1)
    database: DatabaseOptions = Field(default_factory=DatabaseOptions)
    # uvloop takes CPU off the worker's every dossier (docs/benchmarks.md, tuning log); it is not built for Windows.
    event_loop: Literal["uvloop", "asyncio"] = Field(
        default="asyncio" if sys.platform == "win32" else "uvloop",
        description="the event loop worker processes run on",
    )
    # How long a dossier's waits last (the fee, a supplement, the reminder) and its message budget; tests, the demo
    # and the harness set them through the CUTRU_PAYMENT_*, CUTRU_SUPPLEMENT_TIMEOUT, CUTRU_REMINDER_FRACTION and
    # CUTRU_MESSAGE_BUDGET variables.
    processing: ProcessingOptions = Field(default_factory=ProcessingOptions)
    # Worker Deployment Versioning (docs/production.md, rolling an upgrade): both set, the worker polls as this
    # version of this deployment and takes only the tasks the server routes to it; neither, it is unversioned.
    deployment_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,100}$")
    build_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,100}$")


# The variables envconfig reads (besides TEMPORAL_GRPC_META_*): what a tool that must not connect elsewhere scrubs.
TEMPORAL_VARIABLES = (
    "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_DATA", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_PROFILE", "TEMPORAL_CONFIG_FILE",
)  # fmt: skip
_ENV = {
    "task_queue": "CUTRU_TASK_QUEUE",
    "database_url": "DATABASE_URL",
    "log_level": "CUTRU_LOG_LEVEL",
    "metrics_port": "CUTRU_METRICS_PORT",
    "document_dir": "CUTRU_DOCUMENT_DIR",
    "verification_url": "CUTRU_VERIFICATION_URL",
    "worker_role": "CUTRU_WORKER_ROLE",
    "max_concurrent_activities": "CUTRU_MAX_CONCURRENT_ACTIVITIES",
    "max_concurrent_workflow_tasks": "CUTRU_MAX_CONCURRENT_WORKFLOW_TASKS",
    "max_cached_workflows": "CUTRU_MAX_CACHED_WORKFLOWS",
    "workflow_task_pollers": "CUTRU_WORKFLOW_TASK_POLLERS",
    "activity_task_pollers": "CUTRU_ACTIVITY_TASK_POLLERS",
    "database_pool_size": "CUTRU_DATABASE_POOL_SIZE",
    "event_loop": "CUTRU_EVENT_LOOP",
    "deployment_name": "CUTRU_DEPLOYMENT_NAME",
    "build_id": "CUTRU_BUILD_ID",
}
# ProcessingOptions fields: ISO 8601 durations (PT30S), a fraction (0.25) and a count (1000).
_PROCESSING_ENV = {
    "payment_timeout": "CUTRU_PAYMENT_TIMEOUT",
    "payment_poll_interval": "CUTRU_PAYMENT_POLL_INTERVAL",
    "supplement_timeout": "CUTRU_SUPPLEMENT_TIMEOUT",
    "reminder_fraction": "CUTRU_REMINDER_FRACTION",
    "message_budget": "CUTRU_MESSAGE_BUDGET",
}
# DatabaseOptions fields.
_DATABASE_ENV = {
    "connect_timeout": "CUTRU_DATABASE_CONNECT_TIMEOUT",
    "statement_timeout": "CUTRU_DATABASE_STATEMENT_TIMEOUT",
    "command_timeout": "CUTRU_DATABASE_COMMAND_TIMEOUT",
    "lock_timeout": "CUTRU_DATABASE_LOCK_TIMEOUT",
    "idle_in_transaction_timeout": "CUTRU_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT",
    "keepalive_idle": "CUTRU_DATABASE_KEEPALIVE_IDLE",
    "role": "CUTRU_DATABASE_ROLE",
}
# The worker's tuning: the benchmark gives the same to its floor workers and records them in its report.
TUNING_VARIABLES = tuple(_ENV[field] for field in (
    "max_concurrent_activities", "max_concurrent_workflow_tasks", "max_cached_workflows", "workflow_task_pollers",
    "activity_task_pollers", "database_pool_size", "event_loop",
))


def processing_environment(processing: ProcessingOptions) -> dict[str, str]:
    """The variables that give a ``worker.py`` process these timings (the demo's and the harness's workers)."""
    values = processing.model_dump(mode="json")
    return {var: str(values[field]) for field, var in _PROCESSING_ENV.items()}


def temporal_profile(environ: dict[str, str] | None = None) -> ClientConfigProfile:
    """The Temporal connection as the ``temporal`` CLI would read it from this environment."""
    env = {name: value for name, value in (os.environ if environ is None else environ).items() if value}
    try:
        return ClientConfigProfile.load(override_env_vars=env)
    # RuntimeError: envconfig's own (a profile not in the file, a file that is no TOML); OSError: a certificate file.
    except (RuntimeError, OSError) as error:
        raise ConfigError(f"Temporal client configuration: {error}") from error


def load_settings() -> Settings:
    """The environment (and the Temporal profile it names), else the defaults."""
    values: dict[str, object] = {}
    profile = temporal_profile()
    if profile.address:
        values["temporal_address"] = profile.address
    if profile.namespace:
        values["namespace"] = profile.namespace
    values.update(temporal_tls=profile.tls, temporal_api_key=profile.api_key, temporal_grpc_meta=profile.grpc_meta,
                  temporal_token=temporal_token_from_env())
    for field, var in _ENV.items():
        if os.environ.get(var):
            values[field] = os.environ[var]
    processing = {field: os.environ[var] for field, var in _PROCESSING_ENV.items() if os.environ.get(var)}
    if processing:
        values["processing"] = processing
    database = {field: os.environ[var] for field, var in _DATABASE_ENV.items() if os.environ.get(var)}
    if database:
        values["database"] = database
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        raise ConfigError("invalid settings: " + "; ".join(
            f"{_variable(e['loc'])}: {e['msg']}" for e in error.errors())) from error


def _variable(loc: tuple[int | str, ...]) -> str:
    """The variable behind a field of a validation error's location."""
    if loc[0] == "processing" and len(loc) > 1:
        return _PROCESSING_ENV.get(str(loc[1]), str(loc[1]))
    if loc[0] == "database" and len(loc) > 1:
        return _DATABASE_ENV.get(str(loc[1]), str(loc[1]))
    return _ENV.get(str(loc[0]), str(loc[0]))
