"""The record of who read a dossier's personal data (table ``personal_data_reads``, migration 0009).

Every read is one INSERT, whatever the number of dossiers it shows: a listing writes one row per dossier listed in
the same statement. The caller records a read once it is allowed and its data is in hand, so a refused read leaves
no row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Protocol

from cutru.platform.oidc import Principal


class Channel(StrEnum):
    API = "api"  # an endpoint of the API, called with a bearer token
    DESK = "desk"  # a page of the web desk
    CODEC = "codec"  # the codec server, decoding payloads for the Temporal Web UI or CLI


class Executor(Protocol):
    """What an asyncpg pool and connection both offer."""

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str: ...


# The dossiers as an array, so that one statement records any number; NULL in it for a read of no known dossier.
_INSERT = ("INSERT INTO personal_data_reads (dossier_code, subject, officer_id, roles, channel, operation, details)"
           " SELECT code, $2, $3, $4, $5, $6, $7::jsonb FROM unnest($1::text[]) AS code")


async def record_reads(db: Executor, principal: Principal, codes: Sequence[str | None], channel: Channel,
                       operation: str, **details: Any) -> None:
    """Record that ``principal`` read the dossiers ``codes`` through ``channel``'s ``operation``; nothing for none."""
    if not codes:
        return
    await db.execute(_INSERT, list(codes), principal.subject, principal.officer_id, sorted(principal.roles),
                     channel.value, operation,
                     json.dumps({"client_id": principal.client_id, "token_id": principal.token_id, **details},
                                ensure_ascii=False))
