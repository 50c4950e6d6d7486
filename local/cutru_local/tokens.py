"""Access tokens from an OpenID Connect provider, scripted: what the demo and the tests ask the local provider for.

- :func:`client_credentials_token`: a service's token (``cutru-portal``, ``cutru-payment-gateway``,
  ``cutru-operator``), grant ``client_credentials`` with HTTP Basic client authentication.
- :func:`login_token`: a person's token by authorization code + PKCE S256 (RFC 7636), done as a browser and the
  desk would do it: the authorization request, the provider's login form filled in with the username and password,
  the code taken from the redirect to a loopback address (nothing needs to listen there: the
  redirect is read, not followed) and redeemed with the verifier. ``LoginFailed`` when the provider does not sign
  the person in (a wrong password, an unknown or inactive account, a redirect URI it does not know).

Only the provider's standard endpoints are used (``/auth``, ``/token``, and the login form its ``/auth`` leads to).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from cutru_local.oidc import DESK_CLIENT, DESK_REDIRECT_PATHS

TIMEOUT = 10.0


class LoginFailed(Exception):
    """The provider did not sign the person in; the message names the account and the provider's answer."""


def client_credentials_token(issuer: str, client_id: str, secret: str) -> str:
    response = httpx.post(f"{issuer}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret),
                          timeout=TIMEOUT)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def loopback_redirect_uri(path: str = DESK_REDIRECT_PATHS[0]) -> str:
    """A redirect URI on a free loopback port, as a native client picks one (RFC 8252 §7.3)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def login_token(issuer: str, username: str, password: str, *, client_id: str = DESK_CLIENT,
                redirect_uri: str | None = None) -> str:
    """Authorization code + PKCE S256 with the login form filled in; returns the access token."""
    redirect_uri = redirect_uri or loopback_redirect_uri()
    verifier, challenge = _pkce_pair()
    state = secrets.token_urlsafe(16)
    with httpx.Client(base_url=issuer, follow_redirects=False, timeout=TIMEOUT) as browser:
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
                response = browser.post(login_path, data={"username": username, "password": password})
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
