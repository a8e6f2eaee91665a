"""The embedded vector store: Qdrant Edge shards in one directory, one shard per collection.

Qdrant Edge has no aliases, so they live in `aliases.json` beside the shards, replaced
atomically. A shard directory can be open in one process only (its WAL is locked): the
process that owns this store is the only one that reads or writes it. Edge calls are short
and hold the GIL, so they run on the event loop directly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import numpy as np
import numpy.typing as npt
from qdrant_edge import (
    Bm25,
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    Fusion,
    HasIdCondition,
    IsEmptyCondition,
    KeywordIndexParams,
    MatchAny,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    Prefetch,
    Query,
    QueryRequest,
    RangeDateTime,
    ScrollRequest,
    UpdateOperation,
)

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

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
# The tenant's index is Qdrant's multitenancy one: it keeps each tenant's points together on disk.
_INDEXES: dict[str, PayloadSchemaType | KeywordIndexParams] = {
    "document_id": PayloadSchemaType.Keyword,
    "upload_timestamp": PayloadSchemaType.Datetime,
    "tenant_id": KeywordIndexParams(is_tenant=True),
    "groups": PayloadSchemaType.Keyword,
    "publication": PayloadSchemaType.Keyword,
}
# Searches leave staged points out; points written before staging have no such field, and are in.
_STAGED = FieldCondition(key="publication", match=MatchValue("staged"))


def _conditions(where: SearchFilter) -> list[Any]:
    must: list[Any] = []
    if where.document_ids is not None:
        must.append(FieldCondition(key="document_id", match=MatchAny([str(d) for d in where.document_ids])))
    if where.uploaded_after or where.uploaded_before:
        must.append(
            FieldCondition(
                key="upload_timestamp",
                range=RangeDateTime(
                    gte=where.uploaded_after.isoformat() if where.uploaded_after else None,
                    lte=where.uploaded_before.isoformat() if where.uploaded_before else None,
                ),
            )
        )
    return must


def _visible(access: Access) -> list[Any]:
    """`Access.sees` as conditions: the caller's tenant and, unless it sees every group, no groups
    or one of the caller's."""
    tenant = FieldCondition(key="tenant_id", match=MatchValue(access.tenant))
    if access.every_group:
        return [tenant]
    either: list[Any] = [IsEmptyCondition("groups")]
    if access.groups:
        either.append(FieldCondition(key="groups", match=MatchAny(sorted(access.groups))))
    return [tenant, Filter(should=either)]


class QdrantEdgeStore:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._shards: dict[str, EdgeShard] = {}
        self._bm25 = Bm25()

    @property
    def _aliases_file(self) -> Path:
        return self._root / "aliases.json"

    def _shard_dir(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"invalid collection name {name!r}")
        return self._root / "collections" / name

    def _aliases(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(self._aliases_file.read_text())
        except FileNotFoundError:
            return {}
        return data

    def _shard(self, name: str) -> EdgeShard:
        collection = self._resolve(name)
        shard = self._shards.get(collection)
        if shard is None:
            path = self._shard_dir(collection)
            if not (path / "edge_config.json").exists():
                raise CollectionNotFound(f"collection {name!r} does not exist")
            shard = self._open(collection)
        return shard

    def _open(self, name: str, config: EdgeConfig | None = None) -> EdgeShard:
        """Load the shard (created, given a config) with the payload indexes it lacks: one made
        before tenants or staging gains theirs, and none is rebuilt."""
        shard = EdgeShard.load(str(self._shard_dir(name)), config)
        present = shard.info().payload_schema
        for field, schema in _INDEXES.items():
            if field not in present:
                shard.update(UpdateOperation.create_field_index(field, schema))
        self._shards[name] = shard
        return shard

    def _resolve(self, name: str) -> str:
        return self._aliases().get(name, name)

    async def ensure_collection(self, name: str, dimensions: int) -> None:
        if name in self._shards:
            return
        path = self._shard_dir(name)
        path.mkdir(parents=True, exist_ok=True)
        config = EdgeConfig(
            vectors={DENSE: EdgeVectorParams(size=dimensions, distance=Distance.Cosine)},
            sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
        )
        self._open(name, config)

    async def collection_exists(self, name: str) -> bool:
        return (self._shard_dir(self._resolve(name)) / "edge_config.json").exists()

    async def drop_collection(self, name: str) -> None:
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        shutil.rmtree(self._shard_dir(name), ignore_errors=True)
        # As on a Qdrant server, aliases of a dropped collection go with it.
        self._write_aliases({a: c for a, c in self._aliases().items() if c != name})

    async def set_alias(self, alias: str, collection: str) -> None:
        self._write_aliases(self._aliases() | {alias: collection})

    def _write_aliases(self, aliases: dict[str, str]) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self._root, delete=False, suffix=".tmp") as tmp:
            json.dump(aliases, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        Path(tmp.name).replace(self._aliases_file)

    async def resolve(self, name: str) -> str:
        return self._resolve(name)

    async def upsert(self, collection: str, points: Sequence[ChunkPoint]) -> None:
        if not points:
            return
        with store_span("upsert", collection, points=len(points)):
            await self._upsert(collection, points)

    async def _upsert(self, collection: str, points: Sequence[ChunkPoint]) -> None:
        edge_points = [
            Point(
                id=str(p.id),
                vector={
                    DENSE: p.vector.tolist(),
                    SPARSE: self._bm25.embed_document(sparse_text(p.payload.content)),
                },
                payload=p.payload.model_dump(mode="json"),
            )
            for p in points
        ]
        self._shard(collection).update(UpdateOperation.upsert_points(edge_points))

    async def publish_version(self, collection: str, document_id: UUID, version: str) -> None:
        staged = Filter(
            must=[
                FieldCondition(key="document_id", match=MatchValue(str(document_id))),
                FieldCondition(key="version", match=MatchValue(version)),
                _STAGED,
            ]
        )
        with store_span("publish", collection):
            self._shard(collection).update(
                UpdateOperation.set_payload_by_filter(staged, {"publication": "published"})
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
        dense = Query.Nearest(vector.tolist(), using=DENSE)
        sparse = Query.Nearest(self._bm25.embed_query(sparse_text(text)), using=SPARSE)
        flt = Filter(must=[*_visible(access), *_conditions(where)], must_not=[_STAGED])
        if mode == "hybrid":
            candidates = limit * PREFETCH_FACTOR
            # The filter on each prefetch too (Edge passes the request's down as well, but does not
            # say so), so each side offers the caller's own best candidates: none of its slots go to
            # points the fusion would then drop.
            request = QueryRequest(
                limit=limit,
                prefetches=[
                    Prefetch(limit=candidates, query=dense, filter=flt),
                    Prefetch(limit=candidates, query=sparse, filter=flt),
                ],
                query=cast(Fusion, Fusion.Rrf(k=RRF_K)),  # a Fusion variant the stub types apart
                filter=flt,
                with_payload=True,
            )
        else:
            request = QueryRequest(
                limit=limit, query=dense if mode == "dense" else sparse, filter=flt, with_payload=True
            )
        return [
            ScoredChunk(
                id=UUID(str(p.id)), score=float(p.score), payload=ChunkPayload.model_validate(p.payload)
            )
            for p in self._shard(collection).query(request)
        ]

    async def get_chunks(self, collection: str, ids: Sequence[UUID], *, access: Access) -> list[ChunkPayload]:
        if not ids:
            return []
        with store_span("get", collection, ids=len(ids)):
            flt = Filter(must=[HasIdCondition({str(i) for i in ids}), *_visible(access)], must_not=[_STAGED])
            records, _ = self._shard(collection).scroll(
                ScrollRequest(limit=len(ids), filter=flt, with_payload=True)
            )
        return [ChunkPayload.model_validate(r.payload) for r in records]

    async def delete_document(self, collection: str, document_id: UUID, *, keep_version: str | None) -> None:
        same_document: list[Any] = [FieldCondition(key="document_id", match=MatchValue(str(document_id)))]
        keep: list[Any] | None = (
            [FieldCondition(key="version", match=MatchValue(keep_version))] if keep_version else None
        )
        self._shard(collection).update(
            UpdateOperation.delete_points_by_filter(Filter(must=same_document, must_not=keep))
        )

    async def count(self, collection: str, *, document_id: UUID | None = None) -> int:
        where = SearchFilter(document_ids=[document_id]) if document_id else SearchFilter()
        must = _conditions(where)
        flt = Filter(must=must) if must else None
        return int(self._shard(collection).count(CountRequest(filter=flt, exact=True)))

    async def close(self) -> None:
        for shard in self._shards.values():
            shard.flush()
            shard.close()
        self._shards.clear()
