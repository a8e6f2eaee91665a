"""Small-to-big context: each retrieved chunk sent to the model with its neighbours in the same section
(`RAGSTREAM_CONTEXT_NEIGHBOURS` on each side), the nearest first while they fit the token budget."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from apps.common.identity import Access
from apps.common.tokenizer import count_tokens
from apps.common.vector_store import VectorStore
from schemas.points import ChunkPayload, point_id

# A chunk starts with the end of the one before it (the chunker's overlap); a shorter match between
# two chunks' edges is taken for chance, and both are kept whole.
MIN_OVERLAP_CHARS = 8
_JOINER = "\n\n"
# Of two neighbours at the same distance, the preceding one first: it introduces the chunk.
_SIDES = (-1, 1)

ChunkKey = tuple[UUID, str, int]  # document, version, chunk index


@dataclass(frozen=True)
class Anchor:
    """A retrieved chunk, as its neighbours are looked up."""

    document_id: UUID
    version: str
    chunk_index: int
    section: str | None
    text: str

    def key(self, offset: int = 0) -> ChunkKey:
        return self.document_id, self.version, self.chunk_index + offset


def neighbour_ids(anchors: Sequence[Anchor], radius: int) -> list[UUID]:
    """The points of the chunks within `radius` of each anchor, each once, the anchors themselves not."""
    own = {a.key() for a in anchors}
    keys = {
        a.key(offset)
        for a in anchors
        for offset in range(-radius, radius + 1)
        if a.chunk_index + offset >= 0 and a.key(offset) not in own
    }
    return [point_id(document, version, index) for document, version, index in sorted(keys)]


def expand(
    anchors: Sequence[Anchor], found: Iterable[ChunkPayload], *, radius: int, budget_tokens: int
) -> list[str]:
    """Each anchor's text with the `found` chunks next to it (same document version and section, up to
    `radius` away, with none missing in between), in index order. A chunk goes to one anchor only: the
    nearest, the better ranked of two as near. Neighbours are taken nearest first, while all the
    context's chunks (each counted whole) fit `budget_tokens`; the anchors themselves are always in."""
    chunks = {(p.document_id, p.version, p.chunk_index): p for p in found}
    owner: dict[ChunkKey, int] = {a.key(): rank for rank, a in enumerate(anchors)}
    texts: dict[ChunkKey, str] = {a.key(): a.text for a in anchors}
    used = sum(count_tokens(a.text) for a in anchors)
    for distance in range(1, radius + 1):
        for rank, a in enumerate(anchors):
            for side in _SIDES:
                key = a.key(side * distance)
                chunk = chunks.get(key)
                adjacent = owner.get(a.key(side * (distance - 1))) == rank
                if chunk is None or chunk.section != a.section or key in owner or not adjacent:
                    continue
                cost = count_tokens(chunk.content)
                if used + cost <= budget_tokens:
                    owner[key], texts[key] = rank, chunk.content
                    used += cost
    return [
        join_chunks([texts[key] for key in sorted(k for k, r in owner.items() if r == rank)])
        for rank in range(len(anchors))
    ]


def join_chunks(texts: Sequence[str]) -> str:
    """Consecutive chunks as one text: the start of each that repeats the end of the one before, dropped."""
    joined = texts[0] if texts else ""
    for text in texts[1:]:
        overlap = next(
            (
                n
                for n in range(min(len(joined), len(text)), MIN_OVERLAP_CHARS - 1, -1)
                if joined.endswith(text[:n])
            ),
            0,
        )
        joined += text[overlap:] if overlap else _JOINER + text
    return joined


async def with_neighbours(
    store: VectorStore,
    collection: str,
    anchors: Sequence[Anchor],
    *,
    access: Access,
    radius: int,
    budget_tokens: int,
) -> list[str]:
    """`expand` on the neighbours `access` may see (published ones only), fetched in one call."""
    ids = neighbour_ids(anchors, radius)
    found = await store.get_chunks(collection, ids, access=access) if ids else []
    return expand(anchors, found, radius=radius, budget_tokens=budget_tokens)
