"""The `generations` table: which collection is live behind the alias, how each was built, and
the state of rebuilding one (requested -> building -> live; the previous live one is retired)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable

from apps.common.build_settings import BuildSettings
from apps.common.database import Pool
from apps.common.vector_store import VectorStore
from schemas.generations import Generation, ReplaySource

log = logging.getLogger(__name__)

_COLUMNS = (
    "name, alias, number, embedding_model, dimensions, chunk_size, chunk_overlap, source, status,"
    " documents_total, documents_done, chunks_done, error_message, created_at, live_at"
)


async def ensure_first(pool: Pool, alias: str, build: BuildSettings) -> Generation:
    """The live generation of `alias`; on first use, generation 1, built by ingestion with `build`."""
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO generations (name, alias, number, embedding_model, dimensions, chunk_size,"
            " chunk_overlap, source, status, live_at)"
            " SELECT %s, %s, 1, %s, %s, %s, %s, 'ingestion', 'live', now()"
            " WHERE NOT EXISTS (SELECT 1 FROM generations WHERE alias = %s) ON CONFLICT DO NOTHING",
            (
                f"{alias}_g1",
                alias,
                build.embedding_model,
                build.dimensions,
                build.chunk_size,
                build.chunk_overlap,
                alias,
            ),
        )
    generation = await live(pool, alias)
    if generation is None:
        raise RuntimeError(f"no live generation of {alias!r}: see `ragstream status`")
    return generation


async def live(pool: Pool, alias: str) -> Generation | None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM generations WHERE alias = %s AND status = 'live'", (alias,)
        )
        row = await cur.fetchone()
    return Generation.model_validate(row) if row else None


async def get(pool: Pool, name: str) -> Generation | None:
    async with pool.connection() as conn:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM generations WHERE name = %s", (name,))
        row = await cur.fetchone()
    return Generation.model_validate(row) if row else None


async def list_all(pool: Pool, alias: str) -> list[Generation]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"SELECT {_COLUMNS} FROM generations WHERE alias = %s ORDER BY number", (alias,)
        )
        rows = await cur.fetchall()
    return [Generation.model_validate(row) for row in rows]


async def request(pool: Pool, alias: str, build: BuildSettings, source: ReplaySource) -> Generation:
    """A new generation of `alias`, to be built by replaying `source` (the processors pick it up)."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("LOCK TABLE generations IN SHARE ROW EXCLUSIVE MODE")
        cur = await conn.execute(
            "SELECT coalesce(max(number), 0) + 1 AS next FROM generations WHERE alias = %s", (alias,)
        )
        row = await cur.fetchone()
        number = int(row["next"]) if row else 1
        cur = await conn.execute(
            "INSERT INTO generations (name, alias, number, embedding_model, dimensions, chunk_size,"
            " chunk_overlap, source, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'requested')"
            f" RETURNING {_COLUMNS}",
            (
                f"{alias}_g{number}",
                alias,
                number,
                build.embedding_model,
                build.dimensions,
                build.chunk_size,
                build.chunk_overlap,
                source,
            ),
        )
        created = await cur.fetchone()
    return Generation.model_validate(created)


async def claim(pool: Pool, *, stale_after_seconds: float) -> Generation | None:
    """Take a requested generation to build, or one whose builder stopped sending heartbeats."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE generations SET status = 'building', heartbeat_at = now() WHERE name = ("
            " SELECT name FROM generations WHERE status = 'requested'"
            " OR (status = 'building' AND heartbeat_at < now() - make_interval(secs => %s))"
            " ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
            f" RETURNING {_COLUMNS}",
            (stale_after_seconds,),
        )
        row = await cur.fetchone()
    return Generation.model_validate(row) if row else None


async def report_progress(pool: Pool, name: str, *, total: int, done: int, chunks: int) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE generations SET documents_total = %s, documents_done = %s, chunks_done = %s,"
            " heartbeat_at = now() WHERE name = %s",
            (total, done, chunks, name),
        )


async def switch_live(pool: Pool, name: str) -> None:
    """Make `name` the live generation of its alias; the one live before is retired (kept)."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            "UPDATE generations SET status = 'retired' WHERE status = 'live'"
            " AND alias = (SELECT alias FROM generations WHERE name = %s)",
            (name,),
        )
        await conn.execute(
            "UPDATE generations SET status = 'live', live_at = now(), heartbeat_at = now() WHERE name = %s",
            (name,),
        )


async def set_status(pool: Pool, name: str, status: str, *, error: str | None = None) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE generations SET status = %s, error_message = %s WHERE name = %s", (status, error, name)
        )


async def ensure_live_generation(
    pool: Pool, store: VectorStore, alias: str, build: BuildSettings
) -> Generation:
    """The live generation, its collection and the alias to it, all created on first use."""
    generation = await ensure_first(pool, alias, build)
    await store.ensure_collection(generation.name, generation.dimensions)
    if await store.resolve(alias) != generation.name:
        await store.set_alias(alias, generation.name)
    return generation


def embedder_drift(live: Generation, wanted: str) -> str | None:
    """Why the live generation goes on with its own embedder when the settings name another (vectors
    of two embedders, even two runtimes of one model, must never meet in one collection), and how
    to switch; None when they agree."""
    if live.embedding_model == wanted:
        return None
    return (
        f"the live generation {live.name} was built with {live.embedding_model}, and its questions are"
        f" embedded with it too; the settings name {wanted}, which takes over only through a reindex:"
        f" ragstream reindex --from document.chunked --embedding-model {wanted}"
    )


class LiveGenerations:
    """The live generation of an alias, read at most once a `ttl_seconds`: a switch is seen within
    two, without a query per request.

    A reading up to two ttls old is still served while one task reads the new one, so a busy API
    never has a question wait for Postgres; an older one (after a quiet spell) is waited for. Callers
    that need a reading at the same time share one query.
    """

    def __init__(
        self, pool: Pool, *, ttl_seconds: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._pool = pool
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, Generation | None]] = {}
        self._reading: dict[str, asyncio.Task[Generation | None]] = {}
        self._by_name: dict[str, Generation] = {}

    async def get(self, alias: str) -> Generation | None:
        cached = self._cache.get(alias)
        if cached is not None:
            read_at, generation = cached
            age = self._clock() - read_at
            if age < self._ttl:
                return generation
            if age < 2 * self._ttl:
                self._read(alias)
                return generation
        return await asyncio.shield(self._read(alias))

    def _read(self, alias: str) -> asyncio.Task[Generation | None]:
        """The reading under way for `alias`, or a new one."""
        task = self._reading.get(alias)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._query(alias))
            self._reading[alias] = task
            task.add_done_callback(functools.partial(self._read_done, alias))
        return task

    async def _query(self, alias: str) -> Generation | None:
        read_at = self._clock()
        generation = await live(self._pool, alias)
        self._cache[alias] = (read_at, generation)
        return generation

    def _read_done(self, alias: str, task: asyncio.Task[Generation | None]) -> None:
        self._reading.pop(alias, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            # Whoever waited has it too; a reading in the background has only this log.
            log.warning(
                "reading the live generation of %s failed: %s: %s", alias, type(error).__name__, error
            )

    async def close(self) -> None:
        """Stop the readings under way: called before the pool they read from closes."""
        reading = list(self._reading.values())
        for task in reading:
            task.cancel()
        await asyncio.gather(*reading, return_exceptions=True)

    async def for_collection(self, name: str) -> Generation | None:
        """The generation a collection name designates: itself, or the live one if it is an alias."""
        generation = self._by_name.get(name)
        if generation is None:
            generation = await get(self._pool, name)
            if generation is None:
                return await self.get(name)
            self._by_name[name] = generation
        return generation
