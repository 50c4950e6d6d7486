"""The Temporal connection from the variables and profiles the ``temporal`` CLI reads (``temporalio.envconfig``):
which combinations mean what.

The handshakes themselves are exercised in tests/integration/test_tls.py; here only the mapping from environment
and profile file to the SDK's TLSConfig, and the refusals of half-configured TLS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, TLSConfig

from cutru.platform import temporal
from cutru.platform.config import PROJECT_ROOT, TEMPORAL_VARIABLES, ConfigError, load_settings
from cutru.platform.temporal import tls_config


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}.pem" for name in ("cert", "key", "ca")}
    for name, path in paths.items():
        path.write_bytes(f"-----{name}-----\n".encode())
    return paths


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean slate: none of the Temporal variables of the developer's shell, nor their profile file, leak in."""
    for var in TEMPORAL_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "no-such-temporal.toml"))
    monkeypatch.setenv("CUTRU_STATE_DIR", str(tmp_path))
    return monkeypatch


def test_nothing_configured_is_plain_text(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert tls_config(settings) is False
    assert (settings.temporal_address, settings.namespace) == ("127.0.0.1:7233", "default")


def test_empty_variables_count_as_unset(env: pytest.MonkeyPatch) -> None:
    # Compose's ${VAR:-} and a blanked ConfigMap entry give empty variables for a frontend without TLS.
    for var in TEMPORAL_VARIABLES:
        if var != "TEMPORAL_CONFIG_FILE":
            env.setenv(var, "")
    settings = load_settings()
    assert tls_config(settings) is False and settings.temporal_api_key is None
    assert settings.temporal_address == "127.0.0.1:7233"


def test_full_mtls_reads_the_three_files(env: pytest.MonkeyPatch, files: dict[str, Path]) -> None:
    env.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(files["cert"]))
    env.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(files["key"]))
    env.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(files["ca"]))
    env.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.example.vn")
    config = tls_config(load_settings())
    assert config == TLSConfig(
        server_root_ca_cert=b"-----ca-----\n",
        client_cert=b"-----cert-----\n",
        client_private_key=b"-----key-----\n",
        domain="temporal.example.vn",
    )


def test_certificates_given_as_data(env: pytest.MonkeyPatch) -> None:
    # A secret store that hands the PEM text itself rather than a file.
    env.setenv("TEMPORAL_TLS_CLIENT_CERT_DATA", "-----cert-----\n")
    env.setenv("TEMPORAL_TLS_CLIENT_KEY_DATA", "-----key-----\n")
    config = tls_config(load_settings())
    assert isinstance(config, TLSConfig)
    assert config.client_cert == b"-----cert-----\n" and config.client_private_key == b"-----key-----\n"


def test_client_certificate_without_ca_trusts_the_system_roots(
    env: pytest.MonkeyPatch, files: dict[str, Path]
) -> None:
    # Temporal Cloud with mTLS: its server certificate chains to a public root.
    env.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(files["cert"]))
    env.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(files["key"]))
    config = tls_config(load_settings())
    assert isinstance(config, TLSConfig)
    assert config.server_root_ca_cert is None and config.domain is None
    assert config.client_cert == b"-----cert-----\n" and config.client_private_key == b"-----key-----\n"


def test_ca_only_is_server_authenticated_tls(env: pytest.MonkeyPatch, files: dict[str, Path]) -> None:
    env.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(files["ca"]))
    assert tls_config(load_settings()) == TLSConfig(server_root_ca_cert=b"-----ca-----\n")


@pytest.mark.parametrize("present", ["TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH"])
def test_half_a_client_key_pair_is_refused(env: pytest.MonkeyPatch, files: dict[str, Path], present: str) -> None:
    env.setenv(present, str(files["cert" if "CERT" in present else "key"]))
    with pytest.raises(ConfigError, match="TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH"):
        tls_config(load_settings())


def test_api_key_alone_turns_tls_on(env: pytest.MonkeyPatch) -> None:
    env.setenv("TEMPORAL_API_KEY", "cloud-key")
    assert tls_config(load_settings()) == TLSConfig()


def test_tls_can_be_turned_off_explicitly(env: pytest.MonkeyPatch) -> None:
    # An API key to a frontend that terminates no TLS itself (a sidecar does), as the temporal CLI's --tls=false.
    env.setenv("TEMPORAL_API_KEY", "key")
    env.setenv("TEMPORAL_TLS", "false")
    assert tls_config(load_settings()) is False


def test_server_name_alone_turns_tls_on(env: pytest.MonkeyPatch) -> None:
    env.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.example.vn")
    assert tls_config(load_settings()) == TLSConfig(domain="temporal.example.vn")


def test_a_missing_certificate_file_fails_with_its_path(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(tmp_path / "absent-ca.pem"))
    with pytest.raises(ConfigError, match="absent-ca.pem"):
        tls_config(load_settings())


def test_a_profile_of_the_config_file_and_variables_over_it(
    env: pytest.MonkeyPatch, files: dict[str, Path], tmp_path: Path
) -> None:
    config_file = tmp_path / "temporal.toml"
    config_file.write_text(
        '[profile.default]\naddress = "127.0.0.1:7233"\n'
        '[profile.prod]\naddress = "temporal.example.vn:7233"\nnamespace = "cutru-prod"\n'
        f'[profile.prod.tls]\nserver_name = "temporal.example.vn"\nserver_ca_cert_path = "{files["ca"]}"\n',
        encoding="utf-8",
    )
    env.setenv("TEMPORAL_CONFIG_FILE", str(config_file))
    env.setenv("TEMPORAL_PROFILE", "prod")
    settings = load_settings()
    assert (settings.temporal_address, settings.namespace) == ("temporal.example.vn:7233", "cutru-prod")
    assert tls_config(settings) == TLSConfig(server_root_ca_cert=b"-----ca-----\n", domain="temporal.example.vn")
    env.setenv("TEMPORAL_NAMESPACE", "cutru-staging")
    assert load_settings().namespace == "cutru-staging"


def test_an_unknown_profile_is_a_configuration_error(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config_file = tmp_path / "temporal.toml"
    config_file.write_text('[profile.default]\naddress = "127.0.0.1:7233"\n', encoding="utf-8")
    env.setenv("TEMPORAL_CONFIG_FILE", str(config_file))
    env.setenv("TEMPORAL_PROFILE", "staging")
    with pytest.raises(ConfigError, match="Profile 'staging' not found"):
        load_settings()


async def test_connect_passes_tls_and_api_key_to_the_sdk(
    env: pytest.MonkeyPatch, files: dict[str, Path]
) -> None:
    env.setenv("TEMPORAL_ADDRESS", "example.tmprl.cloud:7233")
    env.setenv("TEMPORAL_NAMESPACE", "cutru.a1b2c")
    env.setenv("TEMPORAL_API_KEY", "cloud-key")
    env.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(files["ca"]))
    env.setenv("TEMPORAL_GRPC_META_X_CUTRU_UNIT", "CA-00070")
    seen: dict[str, Any] = {}

    async def fake_connect(target_host: str, **kwargs: Any) -> Client:
        seen.update(kwargs, target_host=target_host)
        return object()  # type: ignore[return-value]

    env.setattr(Client, "connect", fake_connect)  # the class cutru.platform.temporal imported
    await temporal.connect(load_settings())
    assert seen["target_host"] == "example.tmprl.cloud:7233"
    assert seen["namespace"] == "cutru.a1b2c"
    assert seen["api_key"] == "cloud-key"
    assert seen["tls"] == TLSConfig(server_root_ca_cert=b"-----ca-----\n")
    assert seen["rpc_metadata"] == {"x-cutru-unit": "CA-00070"}


def test_health_command_reports_half_configured_mtls(tmp_path: Path, files: dict[str, Path]) -> None:
    """The container probe (`python worker.py --check`) names the fault instead of dying with a traceback."""
    env = {k: v for k, v in os.environ.items() if k not in TEMPORAL_VARIABLES}
    env.update(TEMPORAL_TLS_CLIENT_CERT_PATH=str(files["cert"]), CUTRU_STATE_DIR=str(tmp_path),
               TEMPORAL_CONFIG_FILE=str(tmp_path / "no-such-temporal.toml"))
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "worker.py"), "--check"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "unhealthy: Set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or their _DATA forms) "
        "for mTLS, or neither."
    )


def test_only_the_environment_is_read_never_the_local_stack_file(tmp_path: Path) -> None:
    """A production process must not pick up a developer's stack record; the stack passes the environment."""
    (tmp_path / "stack.json").write_text(json.dumps({
        "temporal_address": "127.0.0.1:17233", "temporal_ui": "http://127.0.0.1:18233", "namespace": "stack",
        "database_url": "postgresql://postgres@127.0.0.1:15432/stack", "embedded_postgres": True}))
    env = {k: v for k, v in os.environ.items()
           if k not in TEMPORAL_VARIABLES and k not in ("DATABASE_URL", "CUTRU_TASK_QUEUE")}
    env.update(CUTRU_STATE_DIR=str(tmp_path), TEMPORAL_CONFIG_FILE=str(tmp_path / "no-such-temporal.toml"))
    read = subprocess.run(
        [sys.executable, "-c", "from cutru.platform.config import load_settings; s = load_settings(); "
                               "print(s.temporal_address, s.namespace, s.database_url)"],
        env=env, capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT, check=True,
    )
    assert read.stdout.split() == ["127.0.0.1:7233", "default", "postgresql://postgres@127.0.0.1:5432/cutru"]
