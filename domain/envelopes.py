"""Signed envelopes: how an officer's decision, a supervisor's reassignment, a head's sign-off or an operator's
closure proves it came through the cutru API.

The API checks the caller's token and the officer's status and unit against the database, then signs the message
with a key only the API and the workers hold (HMAC-SHA256). The workflow's validators verify the signature, the
dossier it was signed for and its age, so a raw Temporal writer (``temporal workflow update execute``) cannot forge
a decision, replay one to another dossier, or keep an old one for later.

What is signed is the message's canonical bytes: its fields, the dossier code, the signing time, the token id and
the key id, as JSON with sorted keys and no spaces. Pure: the keys and the clock are passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from domain.models import Closure, OfficerDecision, Reassignment, SignOff

# The API's clock and the workflow's may differ a little; a signature from further in the future is refused.
CLOCK_SKEW = timedelta(minutes=1)
# How old a signed message may be when the workflow takes it (the API sends it at once).
MAX_AGE = timedelta(minutes=5)

Signed = TypeVar("Signed", OfficerDecision, Reassignment, SignOff, Closure)
Envelope = OfficerDecision | Reassignment | SignOff | Closure
_WHAT = {OfficerDecision: "decision", Reassignment: "reassignment", SignOff: "sign-off", Closure: "closure"}


def canonical_bytes(message: Envelope) -> bytes:
    """What the signature covers: every field but the signature, ``signed_at`` as UTC ISO 8601."""
    fields = message.model_dump(mode="json", exclude={"signature"})
    if not fields.get("checklist"):  # added later: a message without one signs as it did before the field existed
        fields.pop("checklist", None)
    fields["kind"] = type(message).__name__  # a decision's signature never verifies a reassignment
    if message.signed_at is not None:
        fields["signed_at"] = message.signed_at.astimezone(UTC).isoformat()
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _mac(message: Envelope, key: bytes) -> str:
    return hmac.new(key, canonical_bytes(message), hashlib.sha256).hexdigest()


def sign(message: Signed, *, dossier_code: str, signed_at: datetime, token_id: str, key_id: str,
         key: bytes) -> Signed:
    """The message with its envelope: the dossier, the time, the request's token id and the key's HMAC."""
    if signed_at.tzinfo is None:
        raise ValueError("signed_at must include a time zone")
    envelope = message.model_copy(update={"dossier_code": dossier_code, "signed_at": signed_at,
                                          "token_id": token_id, "key_id": key_id, "signature": None})
    # Validated again, so that a token id or key id the model refuses fails here and not in the workflow.
    validated = type(message).model_validate(envelope.model_dump())
    return validated.model_copy(update={"signature": _mac(validated, key)})


def signature_problem(message: Envelope, *, dossier_code: str, now: datetime,
                      keys: Mapping[str, bytes], max_age: timedelta = MAX_AGE) -> str | None:
    """Why this message's envelope cannot be trusted, or None when it verifies."""
    what = _WHAT[type(message)]
    if message.signature is None or message.key_id is None or message.signed_at is None \
            or message.token_id is None or message.dossier_code is None:
        return f"the {what} is not signed: send it through the cutru API, which signs it"
    key = keys.get(message.key_id)
    if key is None:
        return f"the {what} is signed with key {message.key_id!r}, which this worker does not know"
    if not hmac.compare_digest(_mac(message, key), message.signature):
        return f"the {what}'s signature does not verify: it was altered or forged"
    if message.dossier_code != dossier_code:
        return f"the {what} was signed for dossier {message.dossier_code}, not {dossier_code}"
    if message.signed_at > now + CLOCK_SKEW:
        return f"the {what} is signed at {message.signed_at.isoformat()}, in the future"
    if now - message.signed_at > max_age:
        return f"the {what} was signed at {message.signed_at.isoformat()} and has expired: send it again"
    return None
