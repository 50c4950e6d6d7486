"""Connecting to Temporal the same way everywhere: worker, starter, officer and auditor tools, tests; and running a
worker process the same way (its tuning, its event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from temporalio.client import Client, TLSConfig
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.worker import PollerBehaviorSimpleMaximum

from cutru.platform.codec import data_converter, require_keyring
from cutru.platform.config import ConfigError, Settings


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS as envconfig's profile says (``ClientConfigProfile.to_client_connect_config``): plain TCP unless a TLS
    setting or an API key (Temporal Cloud accepts keys only over TLS) is there; TEMPORAL_TLS=false turns it off.

    Half a client key pair is refused, so that a partial mTLS configuration fails loudly instead of connecting
    without the client certificate.
    """
    tls = settings.temporal_tls
    if tls is None:
        return TLSConfig() if settings.temporal_api_key is not None else False
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

    ``converter`` replaces cutru's for what is not cutru (the benchmark's bare-engine floor)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        data_converter=converter if converter is not None else data_converter(require_keyring()),
        tls=tls_config(settings),
        api_key=settings.temporal_api_key,
        rpc_metadata=settings.temporal_grpc_meta,
        runtime=runtime,
    )


def worker_tuning(settings: Settings) -> dict[str, Any]:
    """The ``temporalio.worker.Worker`` tuning arguments the settings give: only those set, so that the SDK's
    defaults stay in force otherwise (worker.py and the benchmark's floor worker pass the same)."""
    options: dict[str, Any] = {
        "max_concurrent_activities": settings.max_concurrent_activities,
        "max_concurrent_workflow_tasks": settings.max_concurrent_workflow_tasks,
        "max_cached_workflows": settings.max_cached_workflows,
    }
    if settings.workflow_task_pollers:
        options["workflow_task_poller_behavior"] = PollerBehaviorSimpleMaximum(settings.workflow_task_pollers)
    if settings.activity_task_pollers:
        options["activity_task_poller_behavior"] = PollerBehaviorSimpleMaximum(settings.activity_task_pollers)
    return {name: value for name, value in options.items() if value is not None}


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
