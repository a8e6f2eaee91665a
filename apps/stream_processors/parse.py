"""The parse stage: `document.ready` -> the document's chunks, in `document.chunked` batches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apps.stream_processors.parsing import ParsedDocument
from schemas.events import Chunk, DocumentChunked, DocumentReady

CHUNKS_PER_MESSAGE = 64
# Messages stay well under Kafka's 1 MiB default even after the embed stage adds vectors.
TEXT_BYTES_PER_MESSAGE = 256 * 1024

Download = Callable[[DocumentReady], Awaitable[bytes]]
ParseDocument = Callable[[bytes, DocumentReady], Awaitable[ParsedDocument]]


def batch_chunks(chunks: list[Chunk]) -> list[list[Chunk]]:
    """Group chunks into message-sized batches, in order."""
    batches: list[list[Chunk]] = []
    size = 0
    for chunk in chunks:
        chunk_bytes = len(chunk.text.encode())
        if (
            not batches
            or len(batches[-1]) >= CHUNKS_PER_MESSAGE
            or size + chunk_bytes > TEXT_BYTES_PER_MESSAGE
        ):
            batches.append([])
            size = 0
        batches[-1].append(chunk)
        size += chunk_bytes
    return batches


async def parse(
    event: DocumentReady, *, download: Download, parse_document: ParseDocument
) -> list[DocumentChunked]:
    """Download and chunk one document version; a deletion passes through as a single empty batch."""
    common = {
        "document_id": event.document_id,
        "version": event.version,
        "workflow_id": event.workflow_id,
        "collection": event.collection,
        "operation": event.operation,
        "filename": event.filename,
        "uploaded_at": event.uploaded_at,
        "tenant": event.tenant,
        "groups": event.groups,
    }
    if event.operation == "delete":
        return [DocumentChunked(**common, batch_index=0, batch_count=1, chunks=[])]
    data = await download(event)
    parsed = await parse_document(data, event)
    batches = batch_chunks(parsed.chunks)
    return [
        DocumentChunked(
            **common, batch_index=i, batch_count=len(batches), chunks=batch, coverage=parsed.coverage
        )
        for i, batch in enumerate(batches)
    ]
