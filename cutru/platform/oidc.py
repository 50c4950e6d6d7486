"""Bearer tokens: OpenID Connect / OAuth 2.0 JWT access tokens verified against the issuer's published keys.

Only the standards are used (OpenID Connect Discovery, JWKS, RFC 7519/9068 claims), so the local provider, Keycloak
and the ministry's single sign-on work alike by configuration (docs/authentication.md):

- ``{issuer}/.well-known/openid-configuration`` is read once; its ``issuer`` must be the configured one, and its
  ``jwks_uri`` gives the keys.
- A token is accepted when its header names an allowed asymmetric algorithm (never ``none`` or HS*) and a key of
  the JWKS, its signature verifies, ``iss`` is the issuer, ``aud`` contains the audience, ``exp``/``nbf``/``iat``
  hold within the leeway, and it has a ``sub`` and a ``jti``.
- A ``kid`` the cached JWKS lacks makes the verifier fetch the JWKS again, at most once a minute (the first time
  at once): that is how a rotated key is picked up without letting junk tokens hammer the issuer.
- A verified token is remembered by its text until it expires (the last ``VERIFIED_TOKENS`` of them): a portal
  backend sends the same client-credentials token with every request, and verifying it again each time, most of
  the API's own CPU per request, would find nothing new. Its expiry (within the leeway) is checked at every use.
- Roles, police units, procedures, the officer id and the name are read from claims whose names (dotted paths into
  nested objects, e.g. Keycloak's ``realm_access.roles``) the ``CUTRU_OIDC_*_CLAIM`` variables set.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx
import jwt
from pydantic import BaseModel, Field, ValidationError, field_validator

from cutru.platform.config import ConfigError

ENV_ISSUER = "CUTRU_OIDC_ISSUER"
ENV_AUDIENCE = "CUTRU_OIDC_AUDIENCE"
ENV_ROLES_CLAIM = "CUTRU_OIDC_ROLES_CLAIM"
ENV_UNITS_CLAIM = "CUTRU_OIDC_UNITS_CLAIM"
ENV_PROCEDURES_CLAIM = "CUTRU_OIDC_PROCEDURES_CLAIM"
ENV_OFFICER_CLAIM = "CUTRU_OIDC_OFFICER_CLAIM"
ENV_NAME_CLAIM = "CUTRU_OIDC_NAME_CLAIM"
ENV_LEEWAY_SECONDS = "CUTRU_OIDC_LEEWAY_SECONDS"
ENV_ALGORITHMS = "CUTRU_OIDC_ALGORITHMS"

# Asymmetric algorithms only: a shared-secret (HS*) token could be minted by anyone holding the verification key.
SUPPORTED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
                                  "EdDSA"})
ANY = "*"
_HTTP_TIMEOUT = httpx.Timeout(5.0)
VERIFIED_TOKENS = 1024


class Role(StrEnum):
    PORTAL = "portal"
    PAYMENT_GATEWAY = "payment_gateway"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    OPERATOR = "operator"


class Principal(BaseModel, frozen=True):
    """Who a verified token speaks for."""

    subject: str
    client_id: str | None
    roles: frozenset[Role]
    units: frozenset[str]  # police unit codes 'CA-xxxxx', or '*' for every unit
    procedures: frozenset[str]  # Procedure values, or '*' for every procedure
    officer_id: str | None
    name: str | None
    token_id: str
    expires_at: datetime

    def has_unit(self, unit: str) -> bool:
        return ANY in self.units or unit in self.units

    def has_procedure(self, procedure: str) -> bool:
        return ANY in self.procedures or procedure in self.procedures


class TokenRejected(Exception):
    """The token is not acceptable; the message is one line and never quotes the token."""


class IssuerUnavailable(TokenRejected):
    """The issuer's discovery document or keys could not be fetched: the token could not be checked."""


class OidcSettings(BaseModel):
    issuer: str
    audience: str
    roles_claim: str = "roles"  # dotted path allowed, e.g. realm_access.roles (Keycloak)
    units_claim: str = "police_units"
    procedures_claim: str = "cutru_procedures"
    officer_claim: str = "officer_id"
    name_claim: str = "name"
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256", "EdDSA")
    # How soon an unknown key id may make the verifier fetch the JWKS again.
    jwks_refetch_seconds: float = Field(default=60.0, ge=0)

    @field_validator("issuer", "audience")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unsupported = [alg for alg in value if alg not in SUPPORTED_ALGORITHMS]
        if unsupported or not value:
            raise ValueError(f"allowed: {', '.join(sorted(SUPPORTED_ALGORITHMS))}; got {', '.join(value) or 'none'}")
        return value


_OPTIONAL_VARIABLES = {
    ENV_ROLES_CLAIM: "roles_claim",
    ENV_UNITS_CLAIM: "units_claim",
    ENV_PROCEDURES_CLAIM: "procedures_claim",
    ENV_OFFICER_CLAIM: "officer_claim",
    ENV_NAME_CLAIM: "name_claim",
    ENV_LEEWAY_SECONDS: "leeway_seconds",
}


def oidc_settings_from_env(environ: Mapping[str, str] = os.environ) -> OidcSettings | None:
    """The settings from ``CUTRU_OIDC_*``; None when no OIDC variable is set; ConfigError when half set."""
    values = {name: environ.get(name, "").strip() for name in (ENV_ISSUER, ENV_AUDIENCE, ENV_ALGORITHMS,
                                                               *_OPTIONAL_VARIABLES)}
    if not any(values.values()):
        return None
    missing = [name for name in (ENV_ISSUER, ENV_AUDIENCE) if not values[name]]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} must be set too: token verification needs the issuer (its URL, as in the "
            f"tokens' iss claim) and the audience of cutru's API (the aud claim), e.g. {ENV_ISSUER}="
            f"https://sso.example.gov.vn/realms/cutru {ENV_AUDIENCE}=urn:cutru:api"
        )
    fields: dict[str, Any] = {"issuer": values[ENV_ISSUER], "audience": values[ENV_AUDIENCE]}
    fields |= {field: values[name] for name, field in _OPTIONAL_VARIABLES.items() if values[name]}
    if values[ENV_ALGORITHMS]:
        fields["algorithms"] = tuple(alg.strip() for alg in values[ENV_ALGORITHMS].split(",") if alg.strip())
    try:
        return OidcSettings(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{error['loc'][0]}: {error['msg']}" for error in exc.errors())
        raise ConfigError(f"CUTRU_OIDC_* settings are invalid: {problems}") from None


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """The claim at a dotted path; a claim whose own name contains the dots wins (``https://x.y/roles``)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value: Any, claim: str) -> frozenset[str]:
    """A claim holding a list of strings or one space- or comma-separated string."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(value.replace(",", " ").split())
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise TokenRejected(f"token claim {claim} must be a list of strings")


def _optional_string(value: Any, claim: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise TokenRejected(f"token claim {claim} must be a string")


class TokenVerifier:
    """Verifies bearer tokens for one issuer and audience; create it with :meth:`discover`."""

    def __init__(
        self,
        settings: OidcSettings,
        jwks_uri: str,
        http: httpx.AsyncClient,
        owns_http: bool,
    ) -> None:
        self.settings = settings
        self.jwks_uri = jwks_uri
        self._http = http
        self._owns_http = owns_http
        self._keys: dict[str, dict[str, Any]] = {}
        self._refetched_at: float | None = None  # when an unknown kid last made it fetch the JWKS
        self._refetch = asyncio.Lock()
        self._verified: OrderedDict[str, Principal] = OrderedDict()

    @classmethod
    async def discover(cls, settings: OidcSettings, http: httpx.AsyncClient | None = None) -> TokenVerifier:
        """Read the issuer's discovery document and its JWKS; IssuerUnavailable when either cannot be had."""
        owns_http = http is None
        client = http or httpx.AsyncClient(timeout=_HTTP_TIMEOUT)
        try:
            document = await cls._get_json(client, settings.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if document.get("issuer") != settings.issuer:
                raise IssuerUnavailable(
                    f"the discovery document of {settings.issuer} names the issuer {document.get('issuer')!r}; "
                    f"set {ENV_ISSUER} to exactly the issuer the provider announces"
                )
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri:
                raise IssuerUnavailable(f"the discovery document of {settings.issuer} has no jwks_uri")
            verifier = cls(settings, jwks_uri, client, owns_http)
            await verifier._load_keys()
        except BaseException:
            if owns_http:
                await client.aclose()
            raise
        return verifier

    @staticmethod
    async def _get_json(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
        try:
            response = await http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable(f"cannot read {url}: {type(exc).__name__}") from None
        if not isinstance(body, dict):
            raise IssuerUnavailable(f"{url} did not answer a JSON object")
        return body

    async def _load_keys(self) -> None:
        document = await self._get_json(self._http, self.jwks_uri)
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise IssuerUnavailable(f"{self.jwks_uri} holds no keys")
        self._keys = {
            key["kid"]: key
            for key in keys
            if isinstance(key, dict) and isinstance(key.get("kid"), str) and key.get("use", "sig") == "sig"
        }

    async def _key(self, kid: str) -> dict[str, Any]:
        if kid not in self._keys:
            async with self._refetch:
                last = self._refetched_at
                if kid not in self._keys and (last is None or
                                              time.monotonic() - last >= self.settings.jwks_refetch_seconds):
                    self._refetched_at = time.monotonic()
                    await self._load_keys()
        if kid not in self._keys:
            raise TokenRejected("token is signed with a key the issuer does not publish")
        return self._keys[kid]

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; TokenRejected (one line, no token content) otherwise."""
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known.expires_at.timestamp() + self.settings.leeway_seconds:
                self._verified.move_to_end(token)
                return known
            del self._verified[token]  # expired: verified again below, which says so
        principal = await self._verify(token)
        self._verified[token] = principal
        if len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("token is not a signed JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.settings.algorithms:
            raise TokenRejected(f"token algorithm is not one of {', '.join(self.settings.algorithms)}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("token header has no key id (kid)")
        jwk = await self._key(kid)
        if jwk.get("alg", alg) != alg:
            raise TokenRejected("token algorithm does not match its key")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("token is not valid yet (nbf or iat in the future)") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(f"token is not for this service (audience {self.settings.audience})") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("token is from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"token lacks the {exc.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("token signature is invalid") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"token is invalid ({type(exc).__name__})") from None
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        settings = self.settings
        subject, token_id = claims["sub"], claims["jti"]
        if not isinstance(subject, str) or not subject or not isinstance(token_id, str) or not token_id:
            raise TokenRejected("token sub and jti must be non-empty strings")
        known = {role.value for role in Role}
        roles = frozenset(Role(role) for role in _strings(_claim(claims, settings.roles_claim),
                                                          settings.roles_claim) if role in known)
        client_id = claims.get("client_id", claims.get("azp"))
        return Principal(
            subject=subject,
            client_id=client_id if isinstance(client_id, str) else None,
            roles=roles,
            units=_strings(_claim(claims, settings.units_claim), settings.units_claim),
            procedures=_strings(_claim(claims, settings.procedures_claim), settings.procedures_claim),
            officer_id=_optional_string(_claim(claims, settings.officer_claim), settings.officer_claim),
            name=_optional_string(_claim(claims, settings.name_claim), settings.name_claim),
            token_id=token_id,
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()
