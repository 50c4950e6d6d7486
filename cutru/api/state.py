"""What every request handler reaches through ``Depends(api_state)``: the engine client, the database pool, the
settings and the token verifier, made once by the app's lifespan."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated, Protocol

import asyncpg
from fastapi import Depends, Request

from cutru.api.settings import ApiSettings
from cutru.clients.client import DossierClient
from cutru.platform.oidc import Principal
from cutru.platform.storage import BlobStore, Scanner
from domain.models import SubmissionBase


class Verifier(Protocol):
    """What the API needs of ``cutru.platform.oidc.TokenVerifier`` (tests may give another)."""

    async def verify(self, token: str) -> Principal: ...

    async def aclose(self) -> None: ...


class Intake(Protocol):
    """What the submissions need of ``cutru.api.outbox.IntakeOutbox`` (which links attachments, whose module
    needs this one)."""

    async def record(self, submission: SubmissionBase) -> bool: ...

    def start_soon(self, submission: SubmissionBase) -> None: ...


BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class RequestMetrics:
    """Counters kept in process; the middleware in ``cutru.api.app`` feeds them; ``/metrics`` renders them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self._sum: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._count[(method, route, status)] += 1
            buckets = self._buckets[(method, route)]
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
            buckets[-1] += 1
            self._sum[(method, route)] += seconds

    def render(self) -> str:
        lines = ["# HELP cutru_api_requests_total HTTP requests answered, by method, route and status.",
                 "# TYPE cutru_api_requests_total counter"]
        with self._lock:
            for (method, route, status), count in sorted(self._count.items()):
                lines.append(f'cutru_api_requests_total{{method="{method}",route="{route}",status="{status}"}}'
                             f" {count}")
            lines += ["# HELP cutru_api_request_seconds Time to answer an HTTP request.",
                      "# TYPE cutru_api_request_seconds histogram"]
            for (method, route), buckets in sorted(self._buckets.items()):
                labels = f'method="{method}",route="{route}"'
                for bound, count in zip((*map(str, BUCKETS), "+Inf"), buckets, strict=True):
                    lines.append(f'cutru_api_request_seconds_bucket{{{labels},le="{bound}"}} {count}')
                lines.append(f"cutru_api_request_seconds_sum{{{labels}}} {self._sum[(method, route)]:.6f}")
                lines.append(f"cutru_api_request_seconds_count{{{labels}}} {buckets[-1]}")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ApiState:
    dossiers: DossierClient
    pool: asyncpg.Pool
    settings: ApiSettings
    verifier: Verifier
    store: BlobStore
    scanner: Scanner
    outbox: Intake
    metrics: RequestMetrics = field(default_factory=lambda: RequestMetrics())


async def api_state(request: Request) -> ApiState:
    # async so that FastAPI calls it on the event loop: a plain function would be sent to its thread pool, a
    # thread hop on every request.
    state: ApiState = request.app.state.api
    return state


# The parameter type of a handler that needs the state: ``state: State``.
State = Annotated[ApiState, Depends(api_state)]
