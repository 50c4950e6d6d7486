"""Rate limits on the API's writes: per caller (the verified token's subject) and per dossier (the path's code).

Each is a token bucket: ``per_minute`` tokens a minute, at most ``burst`` saved up; a write takes one token from
its caller's bucket and, for a write to one dossier (a decision, a reassignment, a supplement, a withdrawal), one
from that dossier's. An empty bucket answers 429 ``rate_limited`` (problem+json, English and Vietnamese) with
``Retry-After``: the whole seconds until a token is back. The caller's limit keeps one client from taking the API
from the others; the dossier's keeps a flood of messages from growing one workflow's history towards the server's
limits, whoever sends them.

The buckets live in the API process: with N replicas behind a balancer a caller gets up to N times the limits. That
is the price of no shared store on the write path; set the limits per replica (docs/configuration.md). A batch
counts as one write (its size is bounded by CUTRU_API_MAX_BATCH); a submission is not counted per dossier (a code
submitted again starts nothing); the gateway's callbacks carry no token and are bounded by their signature instead
(each transaction signals its dossier once, and only while the order waits). The web desk's forms that message a
dossier (decision, sign-off, reassignment) count as the API's writes, by the session's officer.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from cutru.api.problems import PROBLEM_JSON, Problem, ProblemDetails
from cutru.api.security import permit
from cutru.api.settings import ApiSettings
from cutru.api.state import ApiState
from cutru.platform.oidc import Principal

# Keys remembered per kind of bucket; beyond it the least recently used is forgotten (it comes back full, which a
# caller that has been quiet that long would have reached anyway).
MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One token bucket per key. ``take(key)`` is 0 when the key may go on, else the seconds until it may."""

    def __init__(self, per_minute: float, burst: int, *, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        now = self.clock()
        bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[key] = bucket
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


class RateLimits:
    """The API's kinds of bucket; a limit of 0 a minute is no limit. Besides the writes', one per client address
    for the public document verification (``cutru.api.verification``), which has no token to count by."""

    def __init__(self, settings: ApiSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.callers = TokenBuckets(settings.rate_per_minute, settings.rate_burst, clock=clock) \
            if settings.rate_per_minute > 0 else None
        self.dossiers = TokenBuckets(settings.dossier_rate_per_minute, settings.dossier_rate_burst, clock=clock) \
            if settings.dossier_rate_per_minute > 0 else None
        self.addresses = TokenBuckets(settings.verify_rate_per_minute, settings.verify_rate_burst, clock=clock) \
            if settings.verify_rate_per_minute > 0 else None


def rate_limited(wait: float, per_minute: float, whose: str, whose_vi: str) -> Problem:
    seconds = max(1, math.ceil(wait))
    limit = f"{per_minute:g}"
    return Problem(429, "rate_limited", "Too many requests", "Quá nhiều yêu cầu",
                   detail=f"More than {limit} writes a minute {whose}; wait {seconds} s (Retry-After) and send the "
                          "request again with the same Idempotency-Key.",
                   detail_vi=f"Vượt quá {limit} yêu cầu ghi mỗi phút {whose_vi}; hãy chờ {seconds} giây rồi gửi lại "
                             "với cùng Idempotency-Key.",
                   headers={"Retry-After": str(seconds)})


def limits_of(request: Request) -> RateLimits:
    """The app's buckets, made at its first write from its settings."""
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if limits is None:
        state: ApiState = request.app.state.api  # what the async api_state dependency gives handlers
        limits = RateLimits(state.settings)
        request.app.state.rate_limits = limits
    return limits


def write_limit(operation: str) -> Any:
    """A write route's dependency: 429 when its caller, or the dossier it writes to, is over its limit.

    It counts only callers whose token verifies and holds a role ``operation`` allows (the same check as the
    route's own, run first here): a caller refused for its token or role spends no allowance. The token is
    verified once per request: FastAPI caches ``caller``."""

    # A default, not an Annotated[...] naming ``operation``: annotations are strings here, resolved by FastAPI in
    # the module's globals, where a closure's variable is not.
    authorised = Depends(permit(operation))

    async def limit(request: Request, principal: Principal = authorised) -> None:
        take(request, principal)

    return Depends(limit)


def take(request: Request, principal: Principal) -> None:
    """Count one write of ``principal`` (and to the path's dossier): 429 when over a limit. The web desk's forms,
    signed in by session rather than bearer token, count here too."""
    limits = limits_of(request)
    if limits.callers is not None and (wait := limits.callers.take(principal.subject)):
        raise rate_limited(wait, limits.settings.rate_per_minute, "from your client", "từ hệ thống của bạn")
    code = request.path_params.get("code")
    if limits.dossiers is not None and code is not None and (wait := limits.dossiers.take(code)):
        raise rate_limited(wait, limits.settings.dossier_rate_per_minute, f"to dossier {code}",
                           f"cho hồ sơ {code}")


# The 429 of a write route, for the OpenAPI document.
RATE_LIMITED: dict[int | str, dict[str, Any]] = {429: {
    "model": ProblemDetails, "content": {PROBLEM_JSON: {}},
    "description": "too many writes from this client or to this dossier (docs/configuration.md, rate limits)",
    "headers": {"Retry-After": {"description": "seconds to wait before sending the request again",
                                "schema": {"type": "integer", "minimum": 1}}},
}}
