"""Which chunk batches of a document version are in the index (`ingest_batches`), so the upsert
stage knows when the version is complete (recording a batch twice is harmless); and what a replay
reads of a document's row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from apps.common.database import Pool
from schemas.events import DocumentChunked


@dataclass(frozen=True)
class WrittenVersion:
    """A version whose every batch is in the index: its chunks, and the share of its words they hold."""

    chunk_count: int
    coverage: float | None


async def record_batch(pool: Pool, event: DocumentChunked, collection: str) -> WrittenVersion | None:
    """Record that `event`'s batch is written; the version once every batch is in (the last batch, which
    says how many there are, included), else None."""
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO ingest_batches"
            " (collection, document_id, version, batch_index, batch_count, chunk_count, coverage)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                collection,
                event.document_id,
                event.version,
                event.batch_index,
                event.batch_count,
                len(event.chunks),
                event.coverage,
            ),
        )
        cur = await conn.execute(
            "SELECT count(*) AS batches, max(batch_count) AS batch_count,"
            " coalesce(sum(chunk_count), 0) AS chunks, max(coverage) AS coverage FROM ingest_batches"
            " WHERE collection = %s AND document_id = %s AND version = %s",
            (collection, event.document_id, event.version),
        )
        row = await cur.fetchone()
    if row is None or row["batch_count"] is None or int(row["batches"]) < int(row["batch_count"]):
        return None
    coverage = row["coverage"]
    return WrittenVersion(int(row["chunks"]), None if coverage is None else float(coverage))


async def generation_progress(pool: Pool, collection: str, alias: str) -> tuple[int, int, int]:
    """For a collection being rebuilt: (live documents, those whose indexed version is wholly in
    it, their chunks). Live documents are the complete ones; deleted and failed ones are not."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "WITH written AS ("
            " SELECT document_id, version, count(*) AS batches, max(batch_count) AS batch_count,"
            " sum(chunk_count) AS chunks FROM ingest_batches WHERE collection = %s GROUP BY 1, 2)"
            " SELECT count(*) AS total,"
            " count(*) FILTER (WHERE w.batches >= w.batch_count) AS done,"
            " coalesce(sum(w.chunks) FILTER (WHERE w.batches >= w.batch_count), 0) AS chunks"
            " FROM documents d LEFT JOIN written w"
            " ON w.document_id = d.id AND w.version = coalesce(d.indexed_version, d.version)"
            " WHERE d.status = 'complete' AND d.collection = %s",
            (collection, alias),
        )
        row = await cur.fetchone()
    if row is None:
        return 0, 0, 0
    return int(row["total"]), int(row["done"]), int(row["chunks"])


async def indexed_state(pool: Pool, document_id: UUID) -> dict[str, Any] | None:
    """What a replay needs of a document's row: its status, versions and collection."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT status, version, indexed_version, collection FROM documents WHERE id = %s", (document_id,)
        )
        return await cur.fetchone()
