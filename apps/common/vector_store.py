"""The vector-store port: what ragstream needs of Qdrant, with two adapters that behave the same.

`QdrantEdgeStore` runs Qdrant's engine in-process (the embedded default); `QdrantServerStore`
talks to a Qdrant server through qdrant-client. Collections carry one dense vector and one
BM25 sparse vector; `documents` is an alias that points at a versioned collection. A document
version's points are written staged, unseen by search, and published together once it is whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from uuid import UUID

import numpy as np
import numpy.typing as npt
from opentelemetry.trace import SpanKind

from apps.common.identity import Access
from apps.common.settings import Settings
from apps.common.tracing import tracer
from schemas.api import SearchMode
from schemas.points import ChunkPayload

DENSE = "dense"
SPARSE = "bm25"
# Reciprocal rank fusion's constant (the usual 60), and how many candidates each side offers it.
RRF_K = 60
PREFETCH_FACTOR = 4


@dataclass(frozen=True)
class ChunkPoint:
    id: UUID
    vector: npt.NDArray[np.float32]
    payload: ChunkPayload


@dataclass(frozen=True)
class SearchFilter:
    document_ids: Sequence[UUID] | None = None
    uploaded_after: datetime | None = None
    uploaded_before: datetime | None = None


@dataclass(frozen=True)
class ScoredChunk:
    id: UUID
    score: float
    payload: ChunkPayload


def store_span(operation: str, collection: str, **attributes: int) -> AbstractContextManager[object]:
    """A client span around a call to Qdrant, in the trace of whatever made it."""
    fields: dict[str, str | int] = {"db.system": "qdrant", "db.collection.name": collection, **attributes}
    return tracer.start_as_current_span(f"qdrant {operation}", kind=SpanKind.CLIENT, attributes=fields)


class CollectionNotFound(LookupError):
    pass


class VectorStore(Protocol):
    async def ensure_collection(self, name: str, dimensions: int) -> None:
        """Create collection `name` (dense vectors of `dimensions`, cosine; BM25 sparse) if it is missing."""
        ...

    async def collection_exists(self, name: str) -> bool: ...

    async def drop_collection(self, name: str) -> None: ...

    async def set_alias(self, alias: str, collection: str) -> None:
        """Point `alias` at `collection`, atomically replacing where it pointed before."""
        ...

    async def resolve(self, name: str) -> str:
        """The collection `name` designates: itself, or the collection the alias points at."""
        ...

    async def upsert(self, collection: str, points: Sequence[ChunkPoint]) -> None: ...

    async def publish_version(self, collection: str, document_id: UUID, version: str) -> None:
        """Make the version's staged points (`ChunkPayload.publication`) searchable, all at once."""
        ...

    async def search(
        self,
        collection: str,
        vector: npt.NDArray[np.float32],
        *,
        access: Access,
        limit: int,
        where: SearchFilter,
        text: str = "",
        mode: SearchMode = "dense",
    ) -> list[ScoredChunk]:
        """The best chunks `access` may see, staged ones never: by meaning (`dense`, the vector), by
        words (`sparse`: BM25 over `text`), or both fused by reciprocal rank (`hybrid`). `access` has
        no default, so a search that is not scoped to a caller cannot be written."""
        ...

    async def get_chunks(self, collection: str, ids: Sequence[UUID], *, access: Access) -> list[ChunkPayload]:
        """The chunks of `ids` that `access` may see, staged ones never, in no set order: ids of chunks
        it may not see are skipped as if unknown. `access` has no default, as in `search`."""
        ...

    async def delete_document(self, collection: str, document_id: UUID, *, keep_version: str | None) -> None:
        """Delete the document's points, all of them or all but those of `keep_version`."""
        ...

    async def count(self, collection: str, *, document_id: UUID | None = None) -> int:
        """Points in the collection (or of one document), staged or not and whoever may see them: for
        ingestion and operators, never for a caller's answer."""
        ...

    async def close(self) -> None: ...


def open_vector_store(settings: Settings) -> VectorStore:
    """The server adapter for an http(s) URL, else the embedded engine on the local path."""
    url = settings.qdrant_url
    remote = url.startswith(("http://", "https://"))
    if settings.vector_store == "qdrant" or (settings.vector_store == "auto" and remote):
        from apps.common.qdrant_server_store import QdrantServerStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return QdrantServerStore.connect(url, api_key=api_key)
    from apps.common.qdrant_edge_store import QdrantEdgeStore

    return QdrantEdgeStore(Path(url))
