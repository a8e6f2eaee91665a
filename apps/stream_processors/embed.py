"""The embed stage: `document.chunked` batches, across documents -> `document.embedded` with vectors."""

from __future__ import annotations

import numpy as np

from apps.common.embeddings import Embedder, Vectors
from schemas.events import DocumentChunked, DocumentEmbedded


def pack_vectors(vectors: Vectors) -> bytes:
    return np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def unpack_vectors(event: DocumentEmbedded) -> Vectors:
    vectors = np.frombuffer(event.vectors, dtype="<f4")
    return vectors.reshape(len(event.chunks), event.dimensions).astype(np.float32, copy=False)


async def embed(events: list[DocumentChunked], *, embedder: Embedder) -> list[DocumentEmbedded]:
    """Embed the chunks of many messages in one go (the provider's batch size is the stage's speed)."""
    texts = [chunk.text for event in events for chunk in event.chunks]
    vectors = await embedder.embed(texts)
    embedded = []
    start = 0
    for event in events:
        rows = vectors[start : start + len(event.chunks)]
        start += len(event.chunks)
        embedded.append(
            DocumentEmbedded(
                **event.model_dump(),
                embedding_model=embedder.spec.name,
                dimensions=embedder.spec.dimensions,
                vectors=pack_vectors(rows),
            )
        )
    return embedded
