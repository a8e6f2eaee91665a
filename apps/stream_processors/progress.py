"""Which chunk batches of a document version are in the index (`ingest_batches`), so the upsert
stage knows when the version is complete. Recording a batch twice is harmless."""

from __future__ import annotations

from apps.common.database import Pool
from schemas.events import DocumentChunked


async def record_batch(pool: Pool, event: DocumentChunked, collection: str) -> int | None:
    """Record that `event`'s batch is written; the version's chunk count once every batch is in, else None."""
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO ingest_batches"
            " (collection, document_id, version, batch_index, batch_count, chunk_count)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                collection,
                event.document_id,
                event.version,
                event.batch_index,
                event.batch_count,
                len(event.chunks),
            ),
        )
        cur = await conn.execute(
            "SELECT count(*) AS batches, coalesce(sum(chunk_count), 0) AS chunks FROM ingest_batches"
            " WHERE collection = %s AND document_id = %s AND version = %s",
            (collection, event.document_id, event.version),
        )
        row = await cur.fetchone()
    if row is None or int(row["batches"]) < event.batch_count:
        return None
    return int(row["chunks"])
