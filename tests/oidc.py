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
import hashlib
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jwt
import pytest
from cutru_local.oidc import (
    AUDIENCE,
    DESK_CLIENT,
    DESK_REDIRECT_PATHS,
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
    response = httpx.post(
        provider.token_endpoint,
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret if secret is not None else provider.client_secrets[client_id]),
        timeout=10.0,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def login_token(provider: OidcProvider, username: str, password: str | None = None,
                client_id: str = DESK_CLIENT, redirect_uri: str | None = None) -> str:
    """Authorization code + PKCE S256 as a browser and the desk would do it; returns the access token."""
    redirect_uri = redirect_uri or f"http://127.0.0.1:{free_port()}{DESK_REDIRECT_PATHS[0]}"
    verifier, challenge = _pkce_pair()
    state = secrets.token_urlsafe(16)
    with httpx.Client(base_url=provider.issuer, follow_redirects=False, timeout=10.0) as browser:
        response = browser.get("/auth", params={
            "client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri, "scope": "openid profile",
            "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
        })
        submitted = False
        while not (response.is_redirect and response.headers["location"].startswith(redirect_uri)):
            if response.is_redirect:
                response = browser.get(urljoin(str(response.url), response.headers["location"]))
            elif response.status_code == 200 and "/login" in response.text and not submitted:
                login_path = urlsplit(str(response.url)).path + "/login"
                response = browser.post(login_path, data={
                    "username": username, "password": provider.password if password is None else password})
                submitted = True
            else:
                raise LoginFailed(f"{username}: the provider answered {response.status_code}")
        query = parse_qs(urlsplit(response.headers["location"]).query)
        if "error" in query or query.get("state") != [state]:
            raise LoginFailed(f"{username}: {query.get('error', ['wrong state'])[0]}")
        token = browser.post("/token", data={
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect_uri,
            "client_id": client_id, "code_verifier": verifier,
        })
    token.raise_for_status()
    access_token: str = token.json()["access_token"]
    return access_token


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
