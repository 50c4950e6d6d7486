"""``cutru api`` as a process over real HTTP: it serves, refuses an unauthenticated write, and refuses to start on a
bad configuration with a one-line message and the cutru exit codes."""

from __future__ import annotations

from pathlib import Path

import httpx

from cutru.platform.config import Settings
from tests.cli import closed_port, cutru, cutru_env
from tests.oidc import OidcProvider, client_credentials_token, free_port


def test_the_api_process_serves_openapi_and_refuses_an_unauthenticated_write(api_process: str,
                                                                             oidc_provider: OidcProvider):
    document = httpx.get(f"{api_process}/openapi.json").json()
    assert document["openapi"].startswith("3.1") and "/v1/dossiers" in document["paths"]
    refused = httpx.post(f"{api_process}/v1/dossiers", json={"procedure": "StayNotification"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "unauthenticated"
    # A real token through the real provider reaches validation (and is refused for its body, not its identity).
    token = client_credentials_token(oidc_provider)
    invalid = httpx.post(f"{api_process}/v1/dossiers", json={"procedure": "StayNotification"},
                         headers={"Authorization": f"Bearer {token}"})
    assert invalid.status_code == 422 and invalid.json()["code"] == "invalid_request"
    assert httpx.get(f"{api_process}/readyz").json()["status"] == "ok"


async def test_the_api_refuses_to_start_without_its_settings(settings: Settings, oidc_provider: OidcProvider,
                                                              tmp_path: Path):
    env = cutru_env(settings, tmp_path)
    for variable in [name for name in env if name.startswith("CUTRU_OIDC_")]:
        del env[variable]
    no_issuer = await cutru(env, "api")
    assert no_issuer.returncode == 2 and "CUTRU_OIDC_ISSUER" in no_issuer.stderr
    assert len(no_issuer.stderr.strip().splitlines()) == 1

    with_issuer = cutru_env(settings, tmp_path, **oidc_provider.environment())
    no_keys = await cutru({k: v for k, v in with_issuer.items() if k != "CUTRU_PAYLOAD_KEYS"}, "api")
    assert no_keys.returncode == 2 and "CUTRU_PAYLOAD_KEYS" in no_keys.stderr
    no_decision_keys = await cutru({k: v for k, v in with_issuer.items() if k != "CUTRU_DECISION_KEYS"}, "api")
    assert no_decision_keys.returncode == 2 and "CUTRU_DECISION_KEYS" in no_decision_keys.stderr

    unreachable = await cutru(with_issuer | {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed_port()}/x"},
                              "api", "--port", str(free_port()))
    assert unreachable.returncode == 4 and "database" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1
