"""The parse stage: `document.ready` -> the document's chunks, in `document.chunked` batches published
while parsing goes on; the last batch says how many there are."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from apps.stream_processors.parsing import ParsedBatch
from schemas.events import DocumentChunked, DocumentReady

Download = Callable[[DocumentReady], Awaitable[bytes]]
ParseDocument = Callable[[bytes, DocumentReady], AsyncIterator[ParsedBatch]]


async def parse(
    event: DocumentReady, *, download: Download, parse_document: ParseDocument
) -> AsyncIterator[DocumentChunked]:
    """Download and chunk one document version, a batch at a time; a deletion passes through as a
    single empty batch."""
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
        yield DocumentChunked(**common, batch_index=0, batch_count=1, chunks=[])
        return
    data = await download(event)
    index = 0
    async for batch in parse_document(data, event):
        yield DocumentChunked(
            **common,
            batch_index=index,
            batch_count=index + 1 if batch.last else None,
            chunks=batch.chunks,
            coverage=batch.coverage,
        )
        index += 1
