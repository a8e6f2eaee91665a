"""Postgres: the async connection pool and the SQL migrations of `schemas/sql/`, applied in order, once."""

from __future__ import annotations

import logging
from importlib import resources

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

# Any constant: serialises concurrent migrators (several processes starting at once).
_MIGRATION_LOCK_KEY = 0x7261_6773


Pool = AsyncConnectionPool[AsyncConnection[DictRow]]


async def open_pool(database_url: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    """Open a pool whose connections return rows as dicts; waits until Postgres answers."""
    pool = AsyncConnectionPool(
        database_url,
        connection_class=AsyncConnection[DictRow],
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "autocommit": True},
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    return pool


def migration_files() -> list[tuple[str, str]]:
    """The migrations as (name, SQL), in the order they apply."""
    sql_dir = resources.files("schemas") / "sql"
    files = sorted((f for f in sql_dir.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


async def migrate(database_url: str) -> list[str]:
    """Apply the migrations not yet recorded in `schema_migrations`; returns the names applied."""
    applied: list[str] = []
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT name FROM schema_migrations")
            done = {row[0] for row in await cur.fetchall()}
            for name, sql in migration_files():
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql.encode())
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                log.info("applied migration %s", name)
                applied.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,))
    return applied
