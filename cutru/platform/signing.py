"""The keys that sign officers' decisions (``domain.envelopes``): held by the API, which signs, and the workers,
which verify. Nobody else needs them; a Temporal writer without them cannot forge a decision.

    CUTRU_DECISION_KEYS=d2026b:BASE64KEY,d2026a:BASE64KEY   # newest first: the first signs, all verify
    CUTRU_DECISION_KEY_FILE=/run/secrets/cutru-decision-keys  # same entries, one per line, '#' comments

``python -m cutru.platform.signing generate-key [--id ID]`` prints a fresh entry (32 random bytes).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType

from cutru.platform.keytool import generate_key_main, key_setting
from domain.envelopes import Signed, sign

ENV_KEYS = "CUTRU_DECISION_KEYS"
ENV_KEY_FILE = "CUTRU_DECISION_KEY_FILE"
KEY_BYTES = 32

_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOW_TO = (
    f"Generate a key with `python -m cutru.platform.signing generate-key` and set {ENV_KEYS}=keyid:base64key "
    f"(several comma-separated, the signing key first) or {ENV_KEY_FILE}=/path/to/file (one entry per line)."
)


class DecisionKeyError(ValueError):
    """The decision keys are missing or unusable; the message names the variable and never holds key material."""


class DecisionKeyRing:
    """HMAC keys by id; the first signs, every one verifies (rotation: put the new key in front)."""

    __slots__ = ("_active", "_keys")

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise DecisionKeyError(f"no decision key. {_HOW_TO}")
        by_id: dict[str, bytes] = {}
        for key_id, key in keys:
            if not _KEY_ID.fullmatch(key_id):
                raise DecisionKeyError(f"invalid decision key id {key_id!r}: letters, digits, '.', '_', '-'.")
            if len(key) != KEY_BYTES:
                raise DecisionKeyError(f"decision key {key_id!r} is {len(key)} bytes, not {KEY_BYTES}. {_HOW_TO}")
            if key_id in by_id:
                raise DecisionKeyError(f"decision key id {key_id!r} appears twice.")
            by_id[key_id] = key
        self._active = keys[0][0]
        self._keys = MappingProxyType(by_id)

    def __repr__(self) -> str:
        return f"DecisionKeyRing(key_ids={tuple(self._keys)!r})"

    @property
    def active(self) -> tuple[str, bytes]:
        """``(key_id, key)`` that signs."""
        return self._active, self._keys[self._active]

    @property
    def keys(self) -> Mapping[str, bytes]:
        """Every key by id: what verifies."""
        return self._keys

    @classmethod
    def generate(cls, key_id: str = "test") -> DecisionKeyRing:
        """A ring with one fresh random key (tests, local development)."""
        return cls([(key_id, secrets.token_bytes(KEY_BYTES))])

    def env_value(self) -> str:
        """The ring as a ``CUTRU_DECISION_KEYS`` value (to hand to a worker process it starts)."""
        return ",".join(f"{key_id}:{base64.urlsafe_b64encode(key).decode()}" for key_id, key in self._keys.items())

    @classmethod
    def parse(cls, text: str, source: str) -> DecisionKeyRing:
        keys: list[tuple[str, bytes]] = []
        for line in text.splitlines():
            for entry in line.split("#", 1)[0].split(","):
                if not entry.strip():
                    continue
                key_id, sep, encoded = entry.strip().partition(":")
                if not sep or not key_id or not encoded:
                    raise DecisionKeyError(f"{source}: expected keyid:base64key. {_HOW_TO}")
                normalized = encoded.strip().replace("-", "+").replace("_", "/")
                try:
                    key = base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
                except (binascii.Error, ValueError):
                    raise DecisionKeyError(f"{source}: key {key_id!r} is not valid base64. {_HOW_TO}") from None
                keys.append((key_id, key))
        if not keys:
            raise DecisionKeyError(f"{source} holds no decision key. {_HOW_TO}")
        try:
            return cls(keys)
        except DecisionKeyError as error:
            raise DecisionKeyError(f"{source}: {error}") from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DecisionKeyRing:
        """The ring from CUTRU_DECISION_KEYS or CUTRU_DECISION_KEY_FILE; refuses to go on without one."""
        found = key_setting(environ, ENV_KEYS, ENV_KEY_FILE, DecisionKeyError)
        if found is not None:
            return cls.parse(*found)
        raise DecisionKeyError(f"{ENV_KEYS} is not set: officers' decisions cannot be signed or verified. {_HOW_TO}")


def sign_now(ring: DecisionKeyRing, message: Signed, dossier_code: str, token_id: str, *,
             now: datetime | None = None) -> Signed:
    """A decision, reassignment, sign-off or closure signed with the ring's active key, now (``token_id``: unique
    per request, e.g. the access token's ``jti`` joined to the request's id; the dossier takes one message per
    token id)."""
    key_id, key = ring.active
    return sign(message, dossier_code=dossier_code, signed_at=now or datetime.now(UTC), token_id=token_id,
                key_id=key_id, key=key)


def new_token_id() -> str:
    """A token id for a trusted service that signs on its own behalf (no user token behind the request)."""
    return f"svc-{uuid.uuid4().hex}"


def new_key_line(key_id: str | None = None) -> str:
    key_id = key_id or f"d{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"
    ring = DecisionKeyRing([(key_id, secrets.token_bytes(KEY_BYTES))])
    return ring.env_value()


def main(argv: Sequence[str] | None = None) -> int:
    return generate_key_main(argv, prog="python -m cutru.platform.signing",
                             description="Decision signing keys.", id_default="d<date>-<random>",
                             new_key_line=new_key_line, refused=DecisionKeyError)


if __name__ == "__main__":
    raise SystemExit(main())
