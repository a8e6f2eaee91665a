"""The upsert stage: `document.embedded` -> points in Qdrant; `document.indexed` once the version is whole.

Point ids are deterministic, so a redelivered batch overwrites its own points. A batch's points
are written staged, unseen by search: when the last batch of a version is in, the version's points
are published, all at once, and the points of every other version of the document are deleted. A
version that never completes (a batch dead-lettered, the parse failed) is never served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apps.common.vector_store import ChunkPoint, VectorStore
from apps.stream_processors.embed import unpack_vectors
from apps.stream_processors.progress import WrittenVersion
from schemas.events import DocumentEmbedded, DocumentIndexed
from schemas.points import ChunkPayload, point_id

RecordBatch = Callable[[DocumentEmbedded, str], Awaitable[WrittenVersion | None]]


def chunk_points(event: DocumentEmbedded) -> list[ChunkPoint]:
    vectors = unpack_vectors(event)
    return [
        ChunkPoint(
            id=point_id(event.document_id, event.version, chunk.index),
            vector=vectors[row],
            payload=ChunkPayload(
                document_id=event.document_id,
                version=event.version,
                chunk_index=chunk.index,
                content=chunk.text,
                filename=event.filename,
                upload_timestamp=event.uploaded_at,
                page=chunk.page,
                section=chunk.section,
                tenant_id=event.tenant,
                groups=event.groups,
                publication="staged",
            ),
        )
        for row, chunk in enumerate(event.chunks)
    ]


async def upsert(
    event: DocumentEmbedded, *, store: VectorStore, record_batch: RecordBatch
) -> DocumentIndexed | None:
    """Write one batch; returns `document.indexed` when it completed its version, else None."""
    collection = await store.resolve(event.collection)
    await store.ensure_collection(collection, event.dimensions)
    indexed = DocumentIndexed(
        document_id=event.document_id,
        version=event.version,
        workflow_id=event.workflow_id,
        collection=event.collection,
        chunk_count=0,
    )
    if event.operation == "delete":
        await store.delete_document(collection, event.document_id, keep_version=None)
        return indexed
    await store.upsert(collection, chunk_points(event))
    written = await record_batch(event, collection)
    if written is None:
        return None
    await store.publish_version(collection, event.document_id, event.version)
    await store.delete_document(collection, event.document_id, keep_version=event.version)
    return indexed.model_copy(update={"chunk_count": written.chunk_count, "coverage": written.coverage})
