"""The real local OIDC provider for tests, and tokens from it: good ones and ones that must be refused.

Fixture (registered for every test by tests/conftest.py):

- ``oidc_provider`` (session): ``local/oidc/provider.mjs`` (``cutru_local.oidc``) on a free port with keys, secrets
  and a password of its own, its accounts being the test database's officers plus ``KT-AUDITOR-01`` and
  ``VH-OPERATOR-01``. ``oidc_provider.settings`` is the :class:`OidcSettings` that verifies its tokens.

Helpers:

- ``client_credentials_token(provider, client_id)``: a client-credentials access token (``cutru-portal``,
  ``cutru-payment-gateway``, ``cutru-operator``).
- ``login_token(provider, username)``: an officer's (or the auditor's, the operator's) access token through the
  authorization code flow with PKCE S256, the login form filled in as a browser would; ``LoginFailed`` when the
  provider does not sign the user in.
- Tokens that must be refused: ``expired_token``, ``wrong_audience_token``, ``foreign_key_token`` (valid claims,
  signed by a key the provider does not publish, under a published ``kid``) and ``tampered_token(token)``.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cutru_local import tokens
from cutru_local.oidc import (
    AUDIENCE,
    DESK_CLIENT,
    PORTAL_CLIENT,
    LocalOidc,
    new_signing_key,
    stop_process,
)

from cutru.platform.oidc import OidcSettings

__all__ = [
    "LoginFailed",
    "OidcProvider",
    "client_credentials_token",
    "expired_token",
    "foreign_key_token",
    "login_token",
    "oidc_provider",
    "signed_token",
    "start_provider",
    "tampered_token",
    "wrong_audience_token",
]


class LoginFailed(AssertionError):
    """The provider did not sign the user in (wrong password, unknown or inactive account)."""


@dataclass(frozen=True)
class OidcProvider:
    local: LocalOidc
    password: str
    client_secrets: dict[str, str]

    @property
    def issuer(self) -> str:
        return self.local.issuer

    @property
    def audience(self) -> str:
        return AUDIENCE

    @property
    def settings(self) -> OidcSettings:
        return OidcSettings(issuer=self.issuer, audience=AUDIENCE)

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    def environment(self) -> dict[str, str]:
        """The variables a cutru process needs to verify this provider's tokens (``CUTRU_OIDC_*``, secrets)."""
        return self.local.environment()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def start_provider(home: Path, database_url: str | None = None) -> tuple[OidcProvider, int]:
    """A provider of its own in ``home`` (its accounts: the officers of ``database_url``, if given, and the fixed
    ones); returns it and its pid, which the caller stops with ``stop_process``."""
    local = LocalOidc(home, port=free_port())
    await local.refresh_accounts(database_url)
    process = local.start()
    stored = local.secrets()
    return OidcProvider(local, stored.password, stored.client_secrets), process.pid


@pytest.fixture(scope="session")
async def oidc_provider(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> AsyncIterator[OidcProvider]:
    provider, pid = await start_provider(tmp_path_factory.mktemp("oidc"), database_url)
    try:
        yield provider
    finally:
        stop_process(pid)


def client_credentials_token(provider: OidcProvider, client_id: str = PORTAL_CLIENT,
                             secret: str | None = None) -> str:
    return tokens.client_credentials_token(
        provider.issuer, client_id, secret if secret is not None else provider.client_secrets[client_id])


def login_token(provider: OidcProvider, username: str, password: str | None = None,
                client_id: str = DESK_CLIENT, redirect_uri: str | None = None) -> str:
    """Authorization code + PKCE S256 as a browser and the desk would do it (``cutru_local.tokens``)."""
    try:
        return tokens.login_token(provider.issuer, username, provider.password if password is None else password,
                                  client_id=client_id, redirect_uri=redirect_uri)
    except tokens.LoginFailed as failed:
        raise LoginFailed(str(failed)) from failed


def _signing_key(provider: OidcProvider, alg: str = "RS256") -> dict[str, Any]:
    return next(key for key in provider.local.signing_keys() if key["alg"] == alg)


def signed_token(provider: OidcProvider, jwk: dict[str, Any] | None = None, **claims: Any) -> str:
    """A portal client's token with ``claims`` changed, signed with ``jwk`` (default: the provider's own key)."""
    jwk = jwk or _signing_key(provider)
    now = int(time.time())
    payload = {
        "iss": provider.issuer, "aud": AUDIENCE, "sub": PORTAL_CLIENT, "client_id": PORTAL_CLIENT,
        "iat": now, "exp": now + 300, "jti": secrets.token_urlsafe(16),
        "roles": ["portal"], "police_units": ["*"], "cutru_procedures": ["*"],
    } | claims
    key = jwt.PyJWK(jwk, algorithm=jwk["alg"])
    return jwt.encode(payload, key, algorithm=jwk["alg"], headers={"kid": jwk["kid"], "typ": "at+jwt"})


def expired_token(provider: OidcProvider) -> str:
    """Signed by the provider's key, expired an hour ago (beyond any leeway)."""
    now = int(time.time())
    return signed_token(provider, iat=now - 7200, exp=now - 3600)


def wrong_audience_token(provider: OidcProvider) -> str:
    return signed_token(provider, aud="urn:another:api")


def foreign_key_token(provider: OidcProvider) -> str:
    """Claims as good as the provider's, signed by a stranger's key that claims the provider's key id."""
    stranger = new_signing_key("RS256") | {"kid": _signing_key(provider)["kid"]}
    return signed_token(provider, jwk=stranger)


def tampered_token(token: str) -> str:
    """The same token with one claim changed after signing (the roles widened)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["portal", "officer", "supervisor", "auditor", "operator", "payment_gateway"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"
