"""Token verification rules (cutru.platform.oidc) against keys served by a small local issuer over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from cutru.platform.config import ConfigError
from cutru.platform.oidc import (
    IssuerUnavailable,
    OidcSettings,
    Principal,
    Role,
    TokenRejected,
    TokenVerifier,
    oidc_settings_from_env,
)

AUDIENCE = "urn:cutru:api"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: PrivateKeyTypes

    def public_jwk(self) -> dict[str, Any]:
        exporter: Any = {"RS256": RSAAlgorithm, "PS256": RSAAlgorithm, "ES256": ECAlgorithm,
                         "EdDSA": OKPAlgorithm}[self.alg]
        jwk: dict[str, Any] = exporter.to_jwk(self.private.public_key(), as_dict=True)  # type: ignore[union-attr]
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}


def new_key(kid: str, alg: str = "RS256") -> SigningKey:
    private: PrivateKeyTypes
    if alg in ("RS256", "PS256"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return SigningKey(kid, alg, private)


@dataclass
class Issuer:
    """A minimal OpenID issuer: a discovery document and a JWKS whose keys a test changes."""

    url: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    jwks_requests: int = 0
    announced_issuer: str | None = None

    def settings(self, **changes: Any) -> OidcSettings:
        return OidcSettings(issuer=self.url, audience=AUDIENCE, **changes)

    def token(self, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        payload = {"iss": self.url, "aud": AUDIENCE, "sub": "CB-00070-01", "iat": now, "exp": now + 300,
                   "jti": "token-1", "client_id": "cutru-desk", "roles": ["officer"],
                   "police_units": ["CA-00070"], "cutru_procedures": ["*"], "officer_id": "CB-00070-01",
                   "name": "Nguyễn Văn An"} | claims
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, key.private, algorithm=key.alg,  # type: ignore[arg-type]
                          headers={"kid": key.kid} | (headers or {}))


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    state = Issuer(keys=[new_key("k1")])

    async def discovery(_: web.Request) -> web.Response:
        return web.json_response({"issuer": state.announced_issuer or state.url, "jwks_uri": f"{state.url}/jwks"})

    async def jwks(_: web.Request) -> web.Response:
        state.jwks_requests += 1
        return web.json_response({"keys": [key.public_jwk() for key in state.keys]})

    app = web.Application()
    app.router.add_get("/realms/cutru/.well-known/openid-configuration", discovery)
    app.router.add_get("/realms/cutru/jwks", jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}/realms/cutru"
    yield state
    await runner.cleanup()


@pytest.fixture
async def verifier(issuer: Issuer) -> AsyncIterator[TokenVerifier]:
    verifier = await TokenVerifier.discover(issuer.settings())
    yield verifier
    await verifier.aclose()


async def test_a_valid_token_gives_its_principal(issuer: Issuer, verifier: TokenVerifier) -> None:
    principal = await verifier.verify(issuer.token())
    assert principal == Principal(
        subject="CB-00070-01", client_id="cutru-desk", roles=frozenset({Role.OFFICER}),
        units=frozenset({"CA-00070"}), procedures=frozenset({"*"}), officer_id="CB-00070-01",
        name="Nguyễn Văn An", token_id="token-1", expires_at=principal.expires_at,
    )
    assert principal.has_unit("CA-00070") and not principal.has_unit("CA-00071")
    assert principal.has_procedure("temporary_residence")


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
async def test_every_allowed_algorithm_verifies(issuer: Issuer, alg: str) -> None:
    issuer.keys = [new_key(f"key-{alg}", alg)]
    verifier = await TokenVerifier.discover(issuer.settings())
    try:
        assert (await verifier.verify(issuer.token())).subject == "CB-00070-01"
    finally:
        await verifier.aclose()


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


async def test_none_and_shared_secret_algorithms_are_refused(issuer: Issuer, verifier: TokenVerifier) -> None:
    claims = jwt.decode(issuer.token(), options={"verify_signature": False})
    with pytest.raises(TokenRejected, match="algorithm"):
        await verifier.verify(_unsigned(claims, {"alg": "none", "kid": "k1"}))
    # HS256 keyed with the public key's PEM: the classic algorithm confusion (built by hand: PyJWT refuses to).
    public_pem = issuer.keys[0].private.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = _unsigned(claims, {"alg": "HS256", "kid": "k1", "typ": "JWT"}).rstrip(".")
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    confused = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(TokenRejected, match="algorithm"):
        await verifier.verify(confused)


async def test_an_algorithm_outside_the_allow_list_is_refused(issuer: Issuer) -> None:
    verifier = await TokenVerifier.discover(issuer.settings(algorithms=("ES256",)))
    try:
        with pytest.raises(TokenRejected, match="algorithm"):
            await verifier.verify(issuer.token())
    finally:
        await verifier.aclose()


async def test_time_claims_hold_within_the_leeway(issuer: Issuer, verifier: TokenVerifier) -> None:
    now = int(time.time())
    await verifier.verify(issuer.token(exp=now - 10))  # within the 30 s leeway
    with pytest.raises(TokenRejected, match="expired"):
        await verifier.verify(issuer.token(exp=now - 60))
    with pytest.raises(TokenRejected, match="not valid yet"):
        await verifier.verify(issuer.token(nbf=now + 120))
    with pytest.raises(TokenRejected, match="not valid yet"):
        await verifier.verify(issuer.token(iat=now + 120))


async def test_issuer_audience_and_required_claims(issuer: Issuer, verifier: TokenVerifier) -> None:
    with pytest.raises(TokenRejected, match="another issuer"):
        await verifier.verify(issuer.token(iss="https://sso.example"))
    with pytest.raises(TokenRejected, match="audience"):
        await verifier.verify(issuer.token(aud="account"))
    await verifier.verify(issuer.token(aud=["account", AUDIENCE]))  # Keycloak lists several audiences
    for claim in ("jti", "exp", "sub", "iat"):
        with pytest.raises(TokenRejected, match=claim):
            await verifier.verify(issuer.token(**{claim: None}))
    with pytest.raises(TokenRejected, match="key id"):
        await verifier.verify(jwt.encode({"sub": "x"}, issuer.keys[0].private, algorithm="RS256"))  # type: ignore[arg-type]
    with pytest.raises(TokenRejected, match="not a signed JWT"):
        await verifier.verify("not-a-token")


async def test_a_refusal_never_quotes_the_token(issuer: Issuer, verifier: TokenVerifier) -> None:
    token = issuer.token(aud="urn:secret-audience-marker", sub="SECRET-SUBJECT")
    with pytest.raises(TokenRejected) as refused:
        await verifier.verify(token)
    message = str(refused.value)
    assert "\n" not in message and "SECRET" not in message and "secret-audience" not in message
    assert token[:20] not in message


async def test_a_stranger_key_under_a_known_kid_fails_the_signature(issuer: Issuer, verifier: TokenVerifier) -> None:
    with pytest.raises(TokenRejected, match="signature"):
        await verifier.verify(issuer.token(key=new_key("k1")))


async def test_unknown_kid_refetches_the_jwks_at_most_once_a_minute(issuer: Issuer,
                                                                   verifier: TokenVerifier) -> None:
    assert issuer.jwks_requests == 1
    rotated = new_key("k2")
    issuer.keys.insert(0, rotated)
    assert (await verifier.verify(issuer.token(key=rotated))).subject == "CB-00070-01"
    assert issuer.jwks_requests == 2

    # A kid nobody publishes, right after: refused without asking the issuer again.
    with pytest.raises(TokenRejected, match="does not publish"):
        await verifier.verify(issuer.token(key=new_key("k3")))
    assert issuer.jwks_requests == 2
    await verifier.verify(issuer.token(key=rotated))  # known kids never refetch
    assert issuer.jwks_requests == 2


async def test_without_a_refetch_interval_every_unknown_kid_refetches(issuer: Issuer) -> None:
    verifier = await TokenVerifier.discover(issuer.settings(jwks_refetch_seconds=0))
    try:
        for attempt in range(2):
            with pytest.raises(TokenRejected, match="does not publish"):
                await verifier.verify(issuer.token(key=new_key(f"stranger-{attempt}")))
        assert issuer.jwks_requests == 3
    finally:
        await verifier.aclose()


async def test_claim_names_are_configurable(issuer: Issuer) -> None:
    """Keycloak puts realm roles under realm_access.roles, beside roles cutru does not know."""
    verifier = await TokenVerifier.discover(issuer.settings(
        roles_claim="realm_access.roles", units_claim="unit", officer_claim="preferred_username",
        procedures_claim="scope_procedures", name_claim="given_name",
    ))
    try:
        principal = await verifier.verify(issuer.token(
            roles=None, realm_access={"roles": ["offline_access", "supervisor", "officer"]},
            unit="CA-00070", preferred_username="cb0007001", scope_procedures="stay_notification temporary_residence",
            given_name="An",
        ))
    finally:
        await verifier.aclose()
    assert principal.roles == {Role.OFFICER, Role.SUPERVISOR}
    assert principal.units == {"CA-00070"} and principal.officer_id == "cb0007001" and principal.name == "An"
    assert principal.procedures == {"stay_notification", "temporary_residence"}


async def test_malformed_claims_are_refused(issuer: Issuer, verifier: TokenVerifier) -> None:
    with pytest.raises(TokenRejected, match="police_units"):
        await verifier.verify(issuer.token(police_units=[1, 2]))
    with pytest.raises(TokenRejected, match="officer_id"):
        await verifier.verify(issuer.token(officer_id=["CB-00070-01"]))


async def test_discovery_must_name_the_configured_issuer(issuer: Issuer) -> None:
    issuer.announced_issuer = "https://elsewhere.example/realms/cutru"
    with pytest.raises(IssuerUnavailable, match="elsewhere"):
        await TokenVerifier.discover(issuer.settings())
    with pytest.raises(IssuerUnavailable, match="cannot read"):
        await TokenVerifier.discover(OidcSettings(issuer=issuer.url + "/missing", audience=AUDIENCE))


def test_settings_from_the_environment() -> None:
    assert oidc_settings_from_env({}) is None
    settings = oidc_settings_from_env({
        "CUTRU_OIDC_ISSUER": "https://sso.example/realms/cutru", "CUTRU_OIDC_AUDIENCE": AUDIENCE,
        "CUTRU_OIDC_ROLES_CLAIM": "realm_access.roles", "CUTRU_OIDC_LEEWAY_SECONDS": "5",
        "CUTRU_OIDC_ALGORITHMS": "RS256, ES256",
    })
    assert settings == OidcSettings(issuer="https://sso.example/realms/cutru", audience=AUDIENCE,
                                    roles_claim="realm_access.roles", leeway_seconds=5,
                                    algorithms=("RS256", "ES256"))
    with pytest.raises(ConfigError, match="CUTRU_OIDC_AUDIENCE"):
        oidc_settings_from_env({"CUTRU_OIDC_ISSUER": "https://sso.example"})
    with pytest.raises(ConfigError, match="CUTRU_OIDC_ISSUER"):
        oidc_settings_from_env({"CUTRU_OIDC_ROLES_CLAIM": "groups"})
    with pytest.raises(ConfigError, match="algorithms"):
        oidc_settings_from_env({"CUTRU_OIDC_ISSUER": "https://sso.example", "CUTRU_OIDC_AUDIENCE": AUDIENCE,
                                "CUTRU_OIDC_ALGORITHMS": "HS256"})


async def test_a_remembered_token_is_refused_once_it_expires(issuer: Issuer) -> None:
    verifier = await TokenVerifier.discover(issuer.settings(leeway_seconds=0))
    try:
        token = issuer.token(exp=int(time.time()) + 1)
        first = await verifier.verify(token)
        assert await verifier.verify(token) is first  # remembered, not verified again
        await asyncio.sleep(max(0.0, first.expires_at.timestamp() - time.time()) + 0.05)
        with pytest.raises(TokenRejected, match="expired"):
            await verifier.verify(token)
    finally:
        await verifier.aclose()


async def test_only_the_exact_token_is_remembered(issuer: Issuer, verifier: TokenVerifier) -> None:
    token = issuer.token()
    await verifier.verify(token)
    header, payload, signature = token.split(".")
    with pytest.raises(TokenRejected, match="signature"):
        await verifier.verify(f"{header}.{payload}.{signature[:-4]}AAAA")
