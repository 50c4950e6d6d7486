"""Signing events for other systems as the Standard Webhooks specification does (standardwebhooks.com).

Each delivery carries ``webhook-id`` (the event's id: the same on every retry, so a subscriber drops repeats),
``webhook-timestamp`` (Unix seconds of the attempt) and ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256,
keyed by the subscription's secret, of ``<id>.<timestamp>.<body>``. A secret is ``whsec_`` and the key in base64.
``verify`` is what a subscriber runs; cutru's tests and local subscriber use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
# A signature older or newer than this is refused by ``verify``: a replayed request cannot be taken again later.
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX}")
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, message_id, timestamp, body),
            "content-type": "application/json"}


def verify(secret: str, received: dict[str, str], body: bytes, now: int) -> bool:
    """True when one of the request's signatures (space-separated, as rotation sends several) is ours and its
    timestamp within ``TOLERANCE_SECONDS`` of ``now``."""
    try:
        message_id, timestamp = received["webhook-id"], int(received["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = signature(secret, message_id, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in received.get("webhook-signature", "").split())
