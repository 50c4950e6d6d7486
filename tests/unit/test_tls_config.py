"""``cutru.platform.temporal.tls_config``: which TEMPORAL_TLS_* / TEMPORAL_API_KEY combinations mean what.

The handshakes themselves are exercised in tests/integration/test_tls.py; here only the mapping from environment
to the SDK's TLSConfig, and the refusals of half-configured TLS.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, TLSConfig

from cutru.platform import temporal
from cutru.platform.config import PROJECT_ROOT, load_settings
from cutru.platform.temporal import tls_config

TLS_VARS = ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA", "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_API_KEY")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / f"{name}.pem" for name in ("cert", "key", "ca")}
    for name, path in paths.items():
        path.write_bytes(f"-----{name}-----\n".encode())
    return paths


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean slate: none of the TLS variables of the developer's shell leak into a case."""
    for var in TLS_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_nothing_configured_is_plain_text(env: pytest.MonkeyPatch) -> None:
    assert tls_config(load_settings()) is False


def test_empty_variables_count_as_unset(env: pytest.MonkeyPatch) -> None:
    # The Kubernetes ConfigMap blanks the paths for a frontend without TLS.
    for var in TLS_VARS:
        env.setenv(var, "")
    assert tls_config(load_settings()) is False


def test_full_mtls_reads_the_three_files(env: pytest.MonkeyPatch, files: dict[str, Path]) -> None:
    env.setenv("TEMPORAL_TLS_CERT", str(files["cert"]))
    env.setenv("TEMPORAL_TLS_KEY", str(files["key"]))
    env.setenv("TEMPORAL_TLS_CA", str(files["ca"]))
    env.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.example.vn")
    config = tls_config(load_settings())
    assert config == TLSConfig(
        server_root_ca_cert=b"-----ca-----\n",
        client_cert=b"-----cert-----\n",
        client_private_key=b"-----key-----\n",
        domain="temporal.example.vn",
    )


def test_client_certificate_without_ca_trusts_the_system_roots(
    env: pytest.MonkeyPatch, files: dict[str, Path]
) -> None:
    # Temporal Cloud with mTLS: its server certificate chains to a public root.
    env.setenv("TEMPORAL_TLS_CERT", str(files["cert"]))
    env.setenv("TEMPORAL_TLS_KEY", str(files["key"]))
    config = tls_config(load_settings())
    assert isinstance(config, TLSConfig)
    assert config.server_root_ca_cert is None and config.domain is None
    assert config.client_cert == b"-----cert-----\n" and config.client_private_key == b"-----key-----\n"


def test_ca_only_is_server_authenticated_tls(env: pytest.MonkeyPatch, files: dict[str, Path]) -> None:
    env.setenv("TEMPORAL_TLS_CA", str(files["ca"]))
    assert tls_config(load_settings()) == TLSConfig(server_root_ca_cert=b"-----ca-----\n")


@pytest.mark.parametrize("present", ["TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY"])
def test_half_a_client_key_pair_is_refused(env: pytest.MonkeyPatch, files: dict[str, Path], present: str) -> None:
    env.setenv(present, str(files["cert" if present.endswith("CERT") else "key"]))
    with pytest.raises(ValueError, match="TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY"):
        tls_config(load_settings())


def test_api_key_alone_turns_tls_on(env: pytest.MonkeyPatch) -> None:
    env.setenv("TEMPORAL_API_KEY", "cloud-key")
    assert tls_config(load_settings()) == TLSConfig()


def test_server_name_alone_turns_tls_on(env: pytest.MonkeyPatch) -> None:
    env.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.example.vn")
    assert tls_config(load_settings()) == TLSConfig(domain="temporal.example.vn")


def test_a_missing_certificate_file_fails_with_its_path(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("TEMPORAL_TLS_CA", str(tmp_path / "absent-ca.pem"))
    with pytest.raises(FileNotFoundError, match="absent-ca.pem"):
        tls_config(load_settings())


async def test_connect_passes_tls_and_api_key_to_the_sdk(
    env: pytest.MonkeyPatch, files: dict[str, Path]
) -> None:
    env.setenv("TEMPORAL_ADDRESS", "example.tmprl.cloud:7233")
    env.setenv("TEMPORAL_NAMESPACE", "cutru.a1b2c")
    env.setenv("TEMPORAL_API_KEY", "cloud-key")
    env.setenv("TEMPORAL_TLS_CA", str(files["ca"]))
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


def test_health_command_reports_half_configured_mtls(tmp_path: Path, files: dict[str, Path]) -> None:
    """The container probe (`python worker.py --check`) names the fault instead of dying with a traceback."""
    env = {k: v for k, v in os.environ.items() if k not in TLS_VARS}
    env.update(TEMPORAL_TLS_CERT=str(files["cert"]), CUTRU_STATE_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "worker.py"), "--check"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "unhealthy: Set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY for mTLS, or neither."
