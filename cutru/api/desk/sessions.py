"""The web desk's sign-ins and sessions, kept in PostgreSQL (migration 0014).

A session id is 32 random bytes that only the browser's cookie holds; the table keys the session by the id's
SHA-256, so a copy of the table is no key to anyone's desk. The session holds the principal the verified token gave
at sign-in (nothing a request says changes it), the synchronizer token every form must carry back (CSRF), and two
expiries: ``idle_expires_at``, pushed forward by each request, and ``expires_at``, fixed at sign-in.

A sign-in under way is keyed the same way by its OAuth ``state`` and holds the PKCE verifier; it is used once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from cutru.api.client import pkce_pair
from cutru.platform.oidc import Principal

# The ``__Host-`` prefix makes the browser refuse the cookie unless it is Secure, has Path=/ and no Domain: no
# sibling host or plain-HTTP page can plant or read it.
SESSION_COOKIE = "__Host-cutru-desk"
SIGN_IN_COOKIE = "__Host-cutru-sign-in"
SIGN_IN_SECONDS = 600


@dataclass(frozen=True)
class DeskSession:
    principal: Principal
    csrf_token: str
    expires_at: datetime


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


async def begin_sign_in(pool: asyncpg.Pool, return_to: str) -> tuple[str, str]:
    """A new sign-in: its ``state`` and PKCE challenge (the verifier stays in the table)."""
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    await pool.execute("DELETE FROM desk_sign_ins WHERE created_at < now() - make_interval(secs => $1)",
                       SIGN_IN_SECONDS)
    await pool.execute("INSERT INTO desk_sign_ins (state_sha256, code_verifier, return_to) VALUES ($1, $2, $3)",
                       _sha256(state), verifier, return_to)
    return state, challenge


async def finish_sign_in(pool: asyncpg.Pool, state: str) -> tuple[str, str] | None:
    """The verifier and return path of the sign-in ``state`` names, removed so that it serves once; None when there
    is no such sign-in or it is too old."""
    row = await pool.fetchrow(
        "DELETE FROM desk_sign_ins WHERE state_sha256 = $1 RETURNING code_verifier, return_to,"
        " created_at > now() - make_interval(secs => $2) AS fresh", _sha256(state), SIGN_IN_SECONDS)
    if row is None or not row["fresh"]:
        return None
    return row["code_verifier"], row["return_to"]


async def open_session(pool: asyncpg.Pool, principal: Principal, *, idle: timedelta,
                       lifetime: timedelta) -> tuple[str, DeskSession]:
    """A new session for ``principal``: the id for the cookie, and the session."""
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    await pool.execute("DELETE FROM desk_sessions WHERE expires_at < now() OR idle_expires_at < now()")
    expires_at: datetime = await pool.fetchval(
        "INSERT INTO desk_sessions (session_sha256, principal, csrf_token, idle_expires_at, expires_at)"
        " VALUES ($1, $2::jsonb, $3, now() + $4::interval, now() + $5::interval) RETURNING expires_at",
        _sha256(session_id), principal.model_dump_json(), csrf_token, idle, lifetime)
    return session_id, DeskSession(principal, csrf_token, expires_at)


async def current_session(pool: asyncpg.Pool, session_id: str, *, idle: timedelta) -> DeskSession | None:
    """The live session of the cookie's id, its idle expiry pushed forward; None when none is live."""
    row = await pool.fetchrow(
        "UPDATE desk_sessions SET idle_expires_at = least(now() + $2::interval, expires_at)"
        " WHERE session_sha256 = $1 AND idle_expires_at > now() AND expires_at > now()"
        " RETURNING principal::text, csrf_token, expires_at", _sha256(session_id), idle)
    if row is None:
        return None
    principal = Principal.model_validate(json.loads(row["principal"]))
    return DeskSession(principal, row["csrf_token"], row["expires_at"])


async def close_session(pool: asyncpg.Pool, session_id: str) -> None:
    await pool.execute("DELETE FROM desk_sessions WHERE session_sha256 = $1", _sha256(session_id))
