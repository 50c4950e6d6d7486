"""Connecting to Temporal the same way everywhere: worker, starter, officer and auditor tools, tests; and running a
worker process the same way (its tuning, its event loop)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, Field, ValidationError
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import Client, TLSConfig
from temporalio.common import WorkerDeploymentVersion
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import PollerBehaviorSimpleMaximum, WorkerDeploymentConfig

from cutru.platform.codec import data_converter, require_keyring
from cutru.platform.config import ConfigError, Settings, TemporalToken

log = logging.getLogger(__name__)


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS as envconfig's profile says (``ClientConfigProfile.to_client_connect_config``): plain TCP unless a TLS
    setting or an API key (Temporal Cloud accepts keys only over TLS) is there; TEMPORAL_TLS=false turns it off.

    Half a client key pair is refused, so that a partial mTLS configuration fails loudly instead of connecting
    without the client certificate.
    """
    tls = settings.temporal_tls
    if tls is None:
        bearer = settings.temporal_api_key is not None or settings.temporal_token is not None
        return TLSConfig() if bearer else False
    if tls.disabled:
        return False
    if (tls.client_cert is None) != (tls.client_private_key is None):
        raise ConfigError(
            "Set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or their _DATA forms) "
            "for mTLS, or neither."
        )
    try:
        return tls.to_connect_tls_config()
    except OSError as error:  # a certificate file that went away or cannot be read
        raise ConfigError(f"Temporal TLS: {error}") from error


async def connect(settings: Settings, runtime: Runtime | None = None, *,
                  converter: DataConverter | None = None) -> Client:
    """A client with the payload keys of the environment: refuses to connect without them (KeyConfigError).

    ``converter`` replaces cutru's for what is not cutru (the benchmark's bare-engine floor). With
    ``settings.temporal_token`` the client sends the service's own access token and renews it while it runs."""
    api_key = settings.temporal_api_key
    token: AccessToken | None = None
    if settings.temporal_token is not None:
        token = await fetch_temporal_token(settings.temporal_token)
        api_key = token.access_token
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        data_converter=converter if converter is not None else data_converter(require_keyring()),
        tls=tls_config(settings),
        api_key=api_key,
        rpc_metadata=settings.temporal_grpc_meta,
        runtime=runtime,
    )
    if settings.temporal_token is not None and token is not None:
        task = asyncio.get_running_loop().create_task(_renew(client, settings.temporal_token, token))
        _RENEWALS[id(client)] = task
        task.add_done_callback(lambda _: _RENEWALS.pop(id(client), None))
    return client


def stop_renewing(client: Client) -> None:
    """End the renewal of a client's token (a process that keeps running without that client)."""
    task = _RENEWALS.pop(id(client), None)
    if task is not None:
        task.cancel()


class AccessToken(BaseModel):
    """The part of an OAuth 2.0 token response (RFC 6749 §5.1) that matters here."""

    access_token: str = Field(min_length=1)
    expires_in: float = Field(default=300, gt=0)


class TemporalTokenUnavailable(ConnectionError):
    """The identity provider's token endpoint could not be reached or answered nonsense."""


# Renewal tasks by client: they live as long as their client; the map keeps them from being garbage-collected.
_RENEWALS: dict[int, asyncio.Task[None]] = {}
# A failed renewal is tried again this often while the current token still works.
RENEW_RETRY_SECONDS = 5.0


async def fetch_temporal_token(settings: TemporalToken) -> AccessToken:
    """A fresh access token by client credentials: ConfigError when the provider refuses the client (a setting
    to fix), TemporalTokenUnavailable when it cannot be reached."""
    form = {"grant_type": "client_credentials"}
    if settings.resource:
        form["resource"] = settings.resource
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(settings.token_url, data=form, auth=(settings.client_id, settings.client_secret))
    except httpx.HTTPError as error:
        raise TemporalTokenUnavailable(f"token endpoint {settings.token_url}: {error}") from error
    if response.status_code in (400, 401, 403):
        raise ConfigError(f"the token endpoint refused CUTRU_TEMPORAL_CLIENT_ID {settings.client_id} "
                          f"({response.status_code}): check the client id, its secret and its grants")
    try:
        response.raise_for_status()
        return AccessToken.model_validate_json(response.content)
    except (httpx.HTTPStatusError, ValidationError) as error:
        raise TemporalTokenUnavailable(f"token endpoint {settings.token_url}: {error}") from error


async def _renew(client: Client, settings: TemporalToken, token: AccessToken) -> None:
    """Replace the client's token when ``renew_at`` of its lifetime has gone; on failure, try again every few
    seconds while the current one lasts (the server refuses calls only once it has expired)."""
    wait = token.expires_in * settings.renew_at
    while True:
        await asyncio.sleep(wait)
        try:
            token = await fetch_temporal_token(settings)
        except (ConfigError, TemporalTokenUnavailable) as error:
            log.warning("Temporal token not renewed, trying again in %s s: %s", RENEW_RETRY_SECONDS, error)
            wait = RENEW_RETRY_SECONDS
            continue
        client.api_key = token.access_token
        wait = token.expires_in * settings.renew_at


# cutru keeps no payload in external storage. With more than one at a time, the SDK's pass that would fetch or store
# such payloads made an asyncio task for every payload of every activation and completion, for nothing.
FIXED_TUNING: dict[str, Any] = {"max_workflow_task_external_storage_concurrency": 1}


def worker_tuning(settings: Settings) -> dict[str, Any]:
    """The ``temporalio.worker.Worker`` tuning arguments: those the settings give (only those set, so that the SDK's
    defaults stay in force otherwise) and ``FIXED_TUNING`` (worker.py and the benchmark's floor worker pass the
    same)."""
    options: dict[str, Any] = {
        "max_concurrent_activities": settings.max_concurrent_activities,
        "max_concurrent_workflow_tasks": settings.max_concurrent_workflow_tasks,
        "max_cached_workflows": settings.max_cached_workflows,
    }
    if settings.workflow_task_pollers:
        options["workflow_task_poller_behavior"] = PollerBehaviorSimpleMaximum(settings.workflow_task_pollers)
    if settings.activity_task_pollers:
        options["activity_task_poller_behavior"] = PollerBehaviorSimpleMaximum(settings.activity_task_pollers)
    return {name: value for name, value in options.items() if value is not None} | FIXED_TUNING


def deployment_version(settings: Settings) -> WorkerDeploymentVersion | None:
    """The Worker Deployment Version this worker polls as (CUTRU_DEPLOYMENT_NAME and CUTRU_BUILD_ID), or None for
    an unversioned worker; ConfigError when only one is set."""
    if settings.deployment_name is None and settings.build_id is None:
        return None
    if settings.deployment_name is None or settings.build_id is None:
        raise ConfigError("Set both CUTRU_DEPLOYMENT_NAME and CUTRU_BUILD_ID for a versioned worker, or neither.")
    return WorkerDeploymentVersion(deployment_name=settings.deployment_name, build_id=settings.build_id)


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """Worker Versioning on for a versioned worker. No default behaviour: every workflow type declares pinned or
    auto-upgrade in its ``@workflow.defn``, and the SDK refuses to run one that does not."""
    version = deployment_version(settings)
    return WorkerDeploymentConfig(version=version, use_worker_versioning=True) if version else None


# What a call in flight ends with when the server recycles its connection: the frontend closes every client
# connection after a maximum age (keepAliveMaxConnectionAge, 5 min by default), the call ends "operation was
# canceled", and the SDK's core retries other codes, not this one. The same call asked again goes through.
CONNECTION_RECYCLED = RPCStatusCode.CANCELLED

# How often, and how long, set_current_version asks again while the server has not yet seen the version's workers
# (a version exists once one of its workers has polled), or when the connection was recycled under the call.
# Setting the current version again is harmless.
SET_CURRENT_PAUSE = 1.0
SET_CURRENT_ATTEMPTS = 30
_SET_CURRENT_AGAIN = (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION, CONNECTION_RECYCLED)


async def set_current_version(client: Client, version: WorkerDeploymentVersion) -> None:
    """Make ``version`` its deployment's current one: new workflows, and auto-upgrade ones at their next task, go
    to its workers; pinned ones stay where they are. What ``temporal worker deployment set-current-version`` does."""
    request = SetWorkerDeploymentCurrentVersionRequest(
        namespace=client.namespace, deployment_name=version.deployment_name, build_id=version.build_id,
        identity=client.identity, ignore_missing_task_queues=False)
    for attempt in range(SET_CURRENT_ATTEMPTS):
        try:
            await client.workflow_service.set_worker_deployment_current_version(request)
            return
        except RPCError as error:
            again = error.status in _SET_CURRENT_AGAIN
            if not again or attempt == SET_CURRENT_ATTEMPTS - 1:
                raise
        await asyncio.sleep(SET_CURRENT_PAUSE)


async def task_queue_pollers(client: Client, task_queue: str,
                             kind: TaskQueueType.ValueType = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                             timeout: timedelta | None = None) -> set[str]:
    """The identities (``pid@host``) of the workers polling ``task_queue`` for ``kind`` tasks, as ``temporal
    task-queue describe`` lists them. A describe cut off as the server recycles the connection
    (``CONNECTION_RECYCLED``) is asked again, on the new connection."""
    request = DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
                                       task_queue_type=kind)
    try:
        response = await client.workflow_service.describe_task_queue(request, timeout=timeout)
    except RPCError as error:
        if error.status != CONNECTION_RECYCLED:
            raise
        response = await client.workflow_service.describe_task_queue(request, timeout=timeout)
    return {poller.identity for poller in response.pollers}


T = TypeVar("T")


def run_worker_process(main: Coroutine[Any, Any, T], settings: Settings) -> T:
    """Run a worker process's ``main`` on the event loop the settings name (``CUTRU_EVENT_LOOP``).

    Workflow code is unaffected: the SDK runs each workflow on a deterministic loop of its own. What uvloop speeds up
    is the rest of the process: the pollers' hand-offs from the SDK's core, the activities and asyncpg's sockets.
    """
    if settings.event_loop == "asyncio":
        return asyncio.run(main)
    try:
        import uvloop
    except ModuleNotFoundError as error:
        main.close()  # never awaited: say so quietly rather than with a RuntimeWarning
        raise RuntimeError(
            "CUTRU_EVENT_LOOP is uvloop but uvloop is not installed: reinstall cutru (pip install -e .), "
            "or set CUTRU_EVENT_LOOP=asyncio"
        ) from error
    return uvloop.run(main)
