"""Search latency with many tenants in one collection: 50 tenants of 20 short documents each,
searched with the tenant filter every search carries, against one tenant's 20 documents alone in a
collection of their own, in the same run, in each search mode (Qdrant Edge, in process)."""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid5

import numpy as np
import numpy.typing as npt

from apps.common.embeddings import Embedder
from apps.common.identity import Access
from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.vector_store import ChunkPoint, SearchFilter, VectorStore
from bench.corpus import manual_pages
from bench.report import Result, progress
from bench.stack import Document, page_text
from schemas.api import SearchMode
from schemas.points import ChunkPayload, point_id

TENANTS = 50
DOCUMENTS_PER_TENANT = 20
SEARCHES = 300
TOP_K = 5
TARGET_RATIO = 1.5
DOCUMENT_CHARS = 1000  # a short document, one point: the manual has too few pages for 1,000 long ones
MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")
_NAMESPACE = UUID("0b7f5f0e-2a53-4d0c-8f7c-5d3b1f6e9a21")
_UPLOADED = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Latency:
    mode: SearchMode
    shared_ms: list[float]  # the tenant's searches in the collection of every tenant
    alone_ms: list[float]  # the same searches in a collection of the tenant's documents alone

    @property
    def ratio(self) -> float:
        return statistics.median(self.shared_ms) / statistics.median(self.alone_ms)


def tenant_documents() -> list[Document]:
    """`TENANTS` x `DOCUMENTS_PER_TENANT` short documents, each from a different page of the manual."""
    count = TENANTS * DOCUMENTS_PER_TENANT
    documents = []
    for page in manual_pages(count * 2, min_bytes=2000):
        text = page_text(page.read_text(errors="replace"), DOCUMENT_CHARS)
        if len(text) >= DOCUMENT_CHARS // 2:
            documents.append(Document(f"manual/{page.stem}.txt", text))
    if len(documents) < count:
        raise RuntimeError(f"the manual has {len(documents)} pages of enough text, not {count}")
    return documents[:count]


def tenant_of(index: int) -> str:
    return f"tenant-{index // DOCUMENTS_PER_TENANT:02d}"


def _points(documents: Sequence[Document], vectors: npt.NDArray[np.float32], first: int) -> list[ChunkPoint]:
    points = []
    for offset, (document, vector) in enumerate(zip(documents, vectors, strict=True)):
        document_id = uuid5(_NAMESPACE, document.key)
        payload = ChunkPayload(
            document_id=document_id,
            version="v1",
            chunk_index=0,
            content=document.text,
            filename=document.key,
            upload_timestamp=_UPLOADED,
            tenant_id=tenant_of(first + offset),
        )
        points.append(ChunkPoint(point_id(document_id, "v1", 0), vector, payload))
    return points


async def _timed(
    store: VectorStore,
    collection: str,
    access: Access,
    vector: npt.NDArray[np.float32],
    text: str,
    mode: SearchMode,
) -> float:
    started = time.perf_counter()
    await store.search(
        collection, vector, access=access, limit=TOP_K, where=SearchFilter(), text=text, mode=mode
    )
    return (time.perf_counter() - started) * 1000


async def measure(embedder: Embedder, documents: Sequence[Document]) -> list[Latency]:
    """Index `TENANTS` x `DOCUMENTS_PER_TENANT` documents (one point each) into one collection and the
    last tenant's alone into another; then time the same searches of that tenant in both."""
    assert len(documents) == TENANTS * DOCUMENTS_PER_TENANT
    root = Path(tempfile.mkdtemp(prefix="ragstream-bench-tenants-"))
    store = QdrantEdgeStore(root)
    try:
        with progress(transient=True) as bar:
            task = bar.add_task(
                f"embed {len(documents)} documents of {TENANTS} tenants", total=len(documents)
            )
            vectors = []
            for start in range(0, len(documents), 64):
                batch = documents[start : start + 64]
                vectors.append(await embedder.embed([d.text for d in batch]))
                bar.advance(task, len(batch))
        every = np.concatenate(vectors)
        points = _points(documents, every, 0)
        await store.ensure_collection("shared", embedder.spec.dimensions)
        await store.upsert("shared", points)
        own = points[-DOCUMENTS_PER_TENANT:]
        await store.ensure_collection("alone", embedder.spec.dimensions)
        await store.upsert("alone", own)
        access = Access(tenant=tenant_of(len(documents) - 1))
        rng = random.Random(7)
        asked = [rng.choice(own) for _ in range(SEARCHES)]
        questions = [" ".join(p.payload.content.split()[:12]) for p in asked]
        question_vectors = await embedder.embed(questions)
        latencies = []
        with progress(transient=True) as bar:
            for mode in MODES:
                task = bar.add_task(f"search ({mode}), shared and alone", total=2 * SEARCHES)
                shared, alone = [], []
                for text, vector in zip(questions, question_vectors, strict=True):
                    shared.append(await _timed(store, "shared", access, vector, text, mode))
                    alone.append(await _timed(store, "alone", access, vector, text, mode))
                    bar.advance(task, 2)
                latencies.append(Latency(mode, shared, alone))
        return latencies
    finally:
        await store.close()
        shutil.rmtree(root, ignore_errors=True)


def result(latencies: Sequence[Latency]) -> Result:
    table = Result(
        "query-tenants",
        f"Search with many tenants: {TENANTS} tenants x {DOCUMENTS_PER_TENANT} short documents in one "
        "collection, against one tenant's alone",
        ("mode", "shared p50 ms", "shared p99 ms", "alone p50 ms", "alone p99 ms", "p50 shared / alone"),
    )
    for latency in latencies:
        shared, alone = sorted(latency.shared_ms), sorted(latency.alone_ms)
        table.add(
            latency.mode,
            statistics.median(shared),
            shared[int(len(shared) * 0.99) - 1],
            statistics.median(alone),
            alone[int(len(alone) * 0.99) - 1],
            f"{latency.ratio:.2f}",
        )
    worst = max(latencies, key=lambda latency: latency.ratio)
    verdict = "met" if worst.ratio <= TARGET_RATIO else "NOT met"
    table.notes += [
        f"{SEARCHES} searches of the last tenant's documents (their first 12 words), top {TOP_K}, in turn in"
        " the collection of every tenant (with the tenant filter every search carries: a tenant index on"
        " tenant_id) and in a collection of that tenant's documents alone (with the same filter).",
        f"Target: p50 with the tenant filter at most {TARGET_RATIO}x that of the tenant alone, in every mode;"
        f" worst: {worst.mode} {worst.ratio:.2f}x: {verdict}.",
    ]
    return table
