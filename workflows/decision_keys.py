"""The keys the ``decide`` and ``reassign`` validators verify signed envelopes with (``domain.envelopes``).

The worker fills this holder when it starts (``cutru.service.worker``); workflow code only reads it. It is passed
through the sandbox (``workflows.sandbox.PASSED_THROUGH``), so that a sandboxed run sees the worker's keys and not a
fresh, empty copy. Validators do not run when a history is replayed, so a replay needs no keys: what a replay may
re-check (the ``officer_decision`` signal) is verified by an activity, whose answer the history records.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_keys: Mapping[str, bytes] = MappingProxyType({})


def install(keys: Mapping[str, bytes]) -> None:
    """The worker's verifying keys, by id (``DecisionKeyRing.keys``)."""
    global _keys
    _keys = MappingProxyType(dict(keys))


def current() -> Mapping[str, bytes]:
    """The installed keys; empty before a worker installed any, so that every envelope is then refused."""
    return _keys
