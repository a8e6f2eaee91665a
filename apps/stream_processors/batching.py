"""Chunks grouped into `document.chunked` messages: at most 64 chunks and 256 KiB of text each."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from schemas.events import Chunk

CHUNKS_PER_MESSAGE = 64
# Messages stay well under Kafka's 1 MiB default even after the embed stage adds vectors.
TEXT_BYTES_PER_MESSAGE = 256 * 1024


def message_batches(chunks: Iterable[Chunk]) -> Iterator[list[Chunk]]:
    """Group chunks into message-sized batches, in order, each yielded as soon as it is full."""
    batch: list[Chunk] = []
    size = 0
    for chunk in chunks:
        chunk_bytes = len(chunk.text.encode())
        if batch and (len(batch) >= CHUNKS_PER_MESSAGE or size + chunk_bytes > TEXT_BYTES_PER_MESSAGE):
            yield batch
            batch, size = [], 0
        batch.append(chunk)
        size += chunk_bytes
    if batch:
        yield batch
