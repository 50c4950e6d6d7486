"""A service's own Temporal access token (self-hosted Temporal with the JWT authorizer): fetched by client
credentials from the real local OIDC provider, sent on every call, renewed before it expires."""

from __future__ import annotations

import asyncio

import jwt
import pytest
from cutru_local.oidc import OPERATOR_CLIENT
from temporalio.envconfig import ClientConfigTLS
from temporalio.testing import WorkflowEnvironment

from cutru.platform.config import ConfigError, Settings, TemporalToken, temporal_token_from_env
from cutru.platform.temporal import connect, fetch_temporal_token, stop_renewing
from tests.oidc import OidcProvider


def claims(token: str) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def token_settings(provider: OidcProvider, *, secret: str | None = None, renew_at: float = 0.75) -> TemporalToken:
    return TemporalToken(token_url=provider.token_endpoint, client_id=OPERATOR_CLIENT,
                         client_secret=secret or provider.client_secrets[OPERATOR_CLIENT], renew_at=renew_at)


async def test_the_client_sends_the_services_token_and_renews_it(
        oidc_provider: OidcProvider, temporal: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await fetch_temporal_token(token_settings(oidc_provider))
    # Renewed half a second into the token's lifetime, so the test sees it happen.
    settings = Settings(temporal_address=temporal.client.service_client.config.target_host,
                        namespace=temporal.client.namespace, temporal_tls=ClientConfigTLS(disabled=True),
                        temporal_token=token_settings(oidc_provider, renew_at=0.5 / first.expires_in))
    client = await connect(settings)
    try:
        sent = client.api_key
        assert sent is not None and claims(sent)["client_id"] == OPERATOR_CLIENT
        assert await client.count_workflows() is not None  # calls go through with the token attached
        for _ in range(100):
            if client.api_key != sent:
                break
            await asyncio.sleep(0.1)
        renewed = client.api_key
    finally:
        stop_renewing(client)
    assert renewed is not None and renewed != sent
    assert claims(renewed)["jti"] != claims(sent)["jti"]


async def test_a_refused_client_is_a_setting_to_fix(oidc_provider: OidcProvider) -> None:
    with pytest.raises(ConfigError, match=f"CUTRU_TEMPORAL_CLIENT_ID {OPERATOR_CLIENT}"):
        await fetch_temporal_token(token_settings(oidc_provider, secret="not-the-secret"))


def test_the_variables_are_read_together_and_never_beside_a_static_key() -> None:
    full = {"CUTRU_TEMPORAL_TOKEN_URL": "https://sso.example/token", "CUTRU_TEMPORAL_CLIENT_ID": "cutru-worker",
            "CUTRU_TEMPORAL_CLIENT_SECRET": "s3cret"}
    assert temporal_token_from_env({}) is None
    token = temporal_token_from_env(full)
    assert token is not None and token.client_id == "cutru-worker" and "s3cret" not in repr(token)
    with pytest.raises(ConfigError, match="CUTRU_TEMPORAL_CLIENT_SECRET"):
        temporal_token_from_env({k: v for k, v in full.items() if k != "CUTRU_TEMPORAL_CLIENT_SECRET"})
    with pytest.raises(ConfigError, match="not both"):
        temporal_token_from_env({**full, "TEMPORAL_API_KEY": "static"})
