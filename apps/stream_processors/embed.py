"""The embed stage: `document.chunked` batches, across documents -> `document.embedded` with vectors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import numpy as np

from apps.common.embeddings import Embedder, Vectors
from schemas.events import DocumentChunked, DocumentEmbedded


def pack_vectors(vectors: Vectors) -> bytes:
    return np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def unpack_vectors(event: DocumentEmbedded) -> Vectors:
    vectors = np.frombuffer(event.vectors, dtype="<f4")
    return vectors.reshape(len(event.chunks), event.dimensions).astype(np.float32, copy=False)


async def embed(
    events: list[DocumentChunked], *, embedder_for: Callable[[DocumentChunked], Awaitable[Embedder]]
) -> list[DocumentEmbedded]:
    """Embed the chunks of many messages, one request stream per embedding model (the provider's
    batch size is the stage's speed); results come back in the order of `events`."""
    by_model: dict[str, tuple[Embedder, list[int]]] = {}
    for position, event in enumerate(events):
        embedder = await embedder_for(event)
        by_model.setdefault(embedder.spec.name, (embedder, []))[1].append(position)
    embedded: dict[int, DocumentEmbedded] = {}
    for embedder, positions in by_model.values():
        texts = [chunk.text for p in positions for chunk in events[p].chunks]
        vectors = await embedder.embed(texts)
        start = 0
        for p in positions:
            event = events[p]
            rows = vectors[start : start + len(event.chunks)]
            start += len(event.chunks)
            embedded[p] = DocumentEmbedded(
                **event.model_dump(),
                embedding_model=embedder.spec.name,
                dimensions=embedder.spec.dimensions,
                vectors=pack_vectors(rows),
            )
    return [embedded[p] for p in range(len(events))]
