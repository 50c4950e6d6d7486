"""Versioned SQL migrations: every ``NNNN_name.sql`` under ``migrations/`` is applied once, in order.

Run ``python -m cutru.platform.db.migrate`` (the local stack does it at start). An advisory lock makes concurrent runs
(several workers starting at once) wait for each other instead of racing.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import asyncpg

from cutru.platform.config import load_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x637574_7275  # "cutru"


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


async def migrate(database_url: str) -> list[str]:
    """Apply pending migrations; return the versions applied by this call."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied: list[str] = []
        for path in migration_files():
            version = path.stem
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text(encoding="utf-8"))
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied.append(version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
        await conn.close()


async def create_database(server_url: str, name: str) -> None:
    """Create database ``name`` on the server behind ``server_url`` unless it exists."""
    conn = await asyncpg.connect(server_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None, help="defaults to DATABASE_URL or the local stack")
    args = parser.parse_args()
    url = args.database_url or load_settings().database_url
    applied = asyncio.run(migrate(url))
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


if __name__ == "__main__":
    main()
