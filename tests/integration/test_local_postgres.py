"""cutru_local.postgres: the one way the stack, the suite, the benchmark and the chaos campaign start PostgreSQL.

Run from a directory only its owner can enter, as root too: the server (run as a system user when we are root)
must start, survive a crash and restart, and leave that directory's permissions as they were.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import asyncpg
from cutru_local.postgres import SOCKET_FILE, LocalPostgres, start_postgres


def _modes(path: Path) -> list[tuple[Path, int]]:
    return [(p, stat.S_IMODE(p.stat().st_mode)) for p in [path, *path.parents]]


async def test_a_cluster_in_an_owner_only_directory_starts_crashes_restarts_and_goes(tmp_path: Path) -> None:
    # Deep enough that the socket could not live under it, whoever runs the suite (a Unix socket's path holds 107
    # bytes): the cluster must not care how deep its caller sits.
    private = tmp_path / f"owner-only-{'x' * 60}"
    private.mkdir(mode=0o700)
    before = _modes(private)
    cluster = start_postgres(private / "postgres", {"fsync": "off"})
    try:
        conn = await asyncpg.connect(cluster.url())
        try:
            await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)")
            if os.geteuid() == 0:  # PostgreSQL refuses root: the server runs as the system user
                assert await conn.fetchval("SELECT pg_read_file('PG_VERSION')") is not None
                assert cluster.home.owner() == "embedded_postgres"
                assert not cluster.home.is_relative_to(private)
        finally:
            await conn.close()
        cluster.stop("immediate")  # a crash: the next start recovers from the WAL
        assert not cluster.running
        again = start_postgres(private / "postgres", {"fsync": "off"})  # the same caller finds the same cluster
        assert again.home == cluster.home and again.running
        conn = await asyncpg.connect(again.url())
        try:
            assert await conn.fetchval("SELECT n FROM kept") == 1
        finally:
            await conn.close()
    finally:
        cluster.remove()
    assert not cluster.home.exists()
    assert _modes(private) == before, "a parent directory's permissions were widened"


def test_a_deep_caller_s_socket_lives_in_a_short_directory_of_its_own(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    cluster = LocalPostgres(deep)
    assert len(str(cluster.socket_dir / SOCKET_FILE).encode()) <= 107
    assert LocalPostgres(deep).socket_dir == cluster.socket_dir  # the same caller finds the same server
    assert LocalPostgres(tmp_path / ("e" * 120)).socket_dir != cluster.socket_dir
    shallow = LocalPostgres(Path("/tmp/cutru-shallow"))  # made nowhere: a cluster is only named until its init
    assert shallow.socket_dir == shallow.home / "socket"


def test_two_directories_get_two_clusters(tmp_path: Path) -> None:
    assert LocalPostgres(tmp_path / "a").home != LocalPostgres(tmp_path / "b").home
