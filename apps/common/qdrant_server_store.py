"""The vector store on a Qdrant server, through qdrant-client (in tests, its local mode stands in)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt
from qdrant_client import AsyncQdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse
from qdrant_edge import Bm25

from apps.common.identity import Access
from apps.common.sparse_terms import sparse_text
from apps.common.vector_store import (
    DENSE,
    PREFETCH_FACTOR,
    RRF_K,
    SPARSE,
    ChunkPoint,
    CollectionNotFound,
    ScoredChunk,
    SearchFilter,
    store_span,
)
from schemas.api import SearchMode
from schemas.points import ChunkPayload

# The tenant's index is Qdrant's multitenancy one: it keeps each tenant's points together on disk.
_INDEXES: dict[str, models.PayloadSchemaType | models.KeywordIndexParams] = {
    "document_id": models.PayloadSchemaType.KEYWORD,
    "upload_timestamp": models.PayloadSchemaType.DATETIME,
    "tenant_id": models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True),
    "groups": models.PayloadSchemaType.KEYWORD,
    "publication": models.PayloadSchemaType.KEYWORD,
}
# Searches leave staged points out; points written before staging have no such field, and are in.
_STAGED = models.FieldCondition(key="publication", match=models.MatchValue(value="staged"))


def _conditions(where: SearchFilter) -> list[models.Condition]:
    must: list[models.Condition] = []
    if where.document_ids is not None:
        must.append(
            models.FieldCondition(
                key="document_id", match=models.MatchAny(any=[str(d) for d in where.document_ids])
            )
        )
    if where.uploaded_after or where.uploaded_before:
        must.append(
            models.FieldCondition(
                key="upload_timestamp",
                range=models.DatetimeRange(gte=where.uploaded_after, lte=where.uploaded_before),
            )
        )
    return must


def _visible(access: Access) -> list[models.Condition]:
    """`Access.sees` as conditions: the caller's tenant and, unless it sees every group, no groups
    or one of the caller's."""
    tenant = models.FieldCondition(key="tenant_id", match=models.MatchValue(value=access.tenant))
    if access.every_group:
        return [tenant]
    either: list[models.Condition] = [models.IsEmptyCondition(is_empty=models.PayloadField(key="groups"))]
    if access.groups:
        either.append(models.FieldCondition(key="groups", match=models.MatchAny(any=sorted(access.groups))))
    return [tenant, models.Filter(should=either)]


class QdrantServerStore:
    def __init__(self, client: AsyncQdrantClient) -> None:
        self._client = client
        # The same BM25 over the same text as the embedded engine: both index the same sparse vectors.
        self._bm25 = Bm25()
        # Collections whose payload indexes this process has seen to.
        self._indexed: set[str] = set()

    @classmethod
    def connect(cls, url: str, *, api_key: str | None = None) -> QdrantServerStore:
        if url == ":memory:" or not url.startswith(("http://", "https://")):
            return cls(
                AsyncQdrantClient(location=":memory:") if url == ":memory:" else AsyncQdrantClient(path=url)
            )
        return cls(AsyncQdrantClient(url=url, api_key=api_key))

    async def ensure_collection(self, name: str, dimensions: int) -> None:
        if await self._client.collection_exists(name):
            if name not in self._indexed:
                await self._index(name)
            return
        try:
            await self._client.create_collection(
                name,
                vectors_config={DENSE: models.VectorParams(size=dimensions, distance=models.Distance.COSINE)},
                sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            )
        except (UnexpectedResponse, ValueError):
            # Another process (the API and the processors start together) created it first.
            if not await self._client.collection_exists(name):
                raise
        await self._index(name)

    async def _index(self, name: str) -> None:
        """Create the payload indexes the collection lacks (one made before tenants or staging gains
        theirs; none is rebuilt), once per collection and process rather than on every batch."""
        present = (await self._client.get_collection(name)).payload_schema
        for field, schema in _INDEXES.items():
            if field not in present:
                await self._client.create_payload_index(name, field, schema)
        self._indexed.add(name)

    async def collection_exists(self, name: str) -> bool:
        return bool(await self._client.collection_exists(await self.resolve(name)))

    async def drop_collection(self, name: str) -> None:
        await self._client.delete_collection(name)
        self._indexed.discard(name)

    async def set_alias(self, alias: str, collection: str) -> None:
        operations: list[Any] = []
        if any(a.alias_name == alias for a in (await self._client.get_aliases()).aliases):
            operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        operations.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=collection, alias_name=alias)
            )
        )
        await self._client.update_collection_aliases(change_aliases_operations=operations)

    async def resolve(self, name: str) -> str:
        for alias in (await self._client.get_aliases()).aliases:
            if alias.alias_name == name:
                return str(alias.collection_name)
        return name

    async def _require(self, collection: str) -> None:
        if not await self._client.collection_exists(await self.resolve(collection)):
            raise CollectionNotFound(f"collection {collection!r} does not exist")

    async def upsert(self, collection: str, points: Sequence[ChunkPoint]) -> None:
        if not points:
            return
        with store_span("upsert", collection, points=len(points)):
            await self._upsert(collection, points)

    async def _upsert(self, collection: str, points: Sequence[ChunkPoint]) -> None:
        await self._require(collection)
        structs = []
        for p in points:
            sparse = self._bm25.embed_document(sparse_text(p.payload.content))
            structs.append(
                models.PointStruct(
                    id=str(p.id),
                    vector={
                        DENSE: p.vector.tolist(),
                        SPARSE: models.SparseVector(indices=list(sparse.indices), values=list(sparse.values)),
                    },
                    payload=p.payload.model_dump(mode="json"),
                )
            )
        await self._client.upsert(collection, points=structs, wait=True)

    async def publish_version(self, collection: str, document_id: UUID, version: str) -> None:
        with store_span("publish", collection):
            await self._require(collection)
            staged = models.Filter(
                must=[
                    models.FieldCondition(key="document_id", match=models.MatchValue(value=str(document_id))),
                    models.FieldCondition(key="version", match=models.MatchValue(value=version)),
                    _STAGED,
                ]
            )
            await self._client.set_payload(
                collection,
                payload={"publication": "published"},
                points=models.FilterSelector(filter=staged),
                wait=True,
            )

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
        with store_span(f"search {mode}", collection, limit=limit):
            return await self._search(
                collection, vector, access=access, limit=limit, where=where, text=text, mode=mode
            )

    async def _search(
        self,
        collection: str,
        vector: npt.NDArray[np.float32],
        *,
        access: Access,
        limit: int,
        where: SearchFilter,
        text: str,
        mode: SearchMode,
    ) -> list[ScoredChunk]:
        words = self._bm25.embed_query(sparse_text(text))
        sparse = models.SparseVector(indices=list(words.indices), values=list(words.values))
        flt = models.Filter(must=[*_visible(access), *_conditions(where)], must_not=[_STAGED])
        try:
            if mode == "hybrid":
                candidates = limit * PREFETCH_FACTOR
                # The filter on each prefetch too, so each side offers the caller's own best
                # candidates: none of its slots go to points the fusion would then drop.
                response = await self._client.query_points(
                    collection,
                    prefetch=[
                        models.Prefetch(query=vector.tolist(), using=DENSE, limit=candidates, filter=flt),
                        models.Prefetch(query=sparse, using=SPARSE, limit=candidates, filter=flt),
                    ],
                    query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
                    query_filter=flt,
                    limit=limit,
                    with_payload=True,
                )
            else:
                response = await self._client.query_points(
                    collection,
                    query=vector.tolist() if mode == "dense" else sparse,
                    using=DENSE if mode == "dense" else SPARSE,
                    query_filter=flt,
                    limit=limit,
                    with_payload=True,
                )
        except (UnexpectedResponse, ValueError) as exc:
            if not await self.collection_exists(collection):
                raise CollectionNotFound(f"collection {collection!r} does not exist") from exc
            raise
        return [
            ScoredChunk(
                id=UUID(str(p.id)), score=float(p.score), payload=ChunkPayload.model_validate(p.payload)
            )
            for p in response.points
        ]

    async def get_chunks(self, collection: str, ids: Sequence[UUID], *, access: Access) -> list[ChunkPayload]:
        if not ids:
            return []
        with store_span("get", collection, ids=len(ids)):
            await self._require(collection)
            flt = models.Filter(
                must=[models.HasIdCondition(has_id=[str(i) for i in ids]), *_visible(access)],
                must_not=[_STAGED],
            )
            records, _ = await self._client.scroll(
                collection, scroll_filter=flt, limit=len(ids), with_payload=True
            )
        return [ChunkPayload.model_validate(r.payload) for r in records]

    async def delete_document(self, collection: str, document_id: UUID, *, keep_version: str | None) -> None:
        await self._require(collection)
        keep: list[models.Condition] | None = (
            [models.FieldCondition(key="version", match=models.MatchValue(value=keep_version))]
            if keep_version is not None
            else None
        )
        selector = models.Filter(
            must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=str(document_id)))],
            must_not=keep,
        )
        await self._client.delete(
            collection, points_selector=models.FilterSelector(filter=selector), wait=True
        )

    async def count(self, collection: str, *, document_id: UUID | None = None) -> int:
        await self._require(collection)
        where = SearchFilter(document_ids=[document_id]) if document_id else SearchFilter()
        must = _conditions(where)
        flt = models.Filter(must=must) if must else None
        result = await self._client.count(collection, count_filter=flt, exact=True)
        return int(result.count)

    async def close(self) -> None:
        await self._client.close()
