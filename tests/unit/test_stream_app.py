"""The stream processors wired by `register_stages`, on FastStream's in-memory `TestKafkaBroker`:
parse -> embed -> upsert -> report with fakes for S3, the parser, the embedder and Temporal,
the real Qdrant Edge store, and spy subscribers on every output topic."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from pydantic import BaseModel
from temporalio.client import Client

from apps.common.database import Pool
from apps.common.embeddings import MODEL_SPECS, Embedders, EmbeddingModelSpec, QuestionsAsRequests, Vectors
from apps.common.generations import LiveGenerations
from apps.common.identity import DEFAULT_TENANT, Access
from apps.common.kafka import make_broker
from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.settings import Settings
from apps.common.vector_store import ChunkPoint, SearchFilter
from apps.stream_processors import progress
from apps.stream_processors.app import Resources, register_stages
from apps.stream_processors.batching import CHUNKS_PER_MESSAGE, message_batches
from apps.stream_processors.chunking import ChunkingPolicy
from apps.stream_processors.parsing import DocumentParser, ParsedBatch
from apps.stream_processors.stage import DocumentError
from schemas.events import (
    Chunk,
    DocumentChunked,
    DocumentEmbedded,
    DocumentFailed,
    DocumentIndexed,
    DocumentReady,
)
from schemas.generations import Generation
from schemas.points import ChunkPayload, point_id
from schemas.topics import (
    DOCUMENT_CHUNKED,
    DOCUMENT_EMBEDDED,
    DOCUMENT_FAILED,
    DOCUMENT_INDEXED,
    DOCUMENT_READY,
    dlq_topic,
)
from schemas.workflows import (
    SIGNAL_INDEXING_FAILED,
    SIGNAL_INDEXING_FINISHED,
    IndexingFailure,
    IndexingResult,
)

PREFIX = "unit."
COLLECTION = "documents"
SPEC = MODEL_SPECS["all-MiniLM-L6-v2"]
TEXT = b"Emperor penguins breed in winter.\n\nThe male incubates the egg.\n\nThe female feeds at sea."


class FakeBody:
    """An aiobotocore streaming body: an async context manager with `read()`."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aenter__(self) -> FakeBody:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return self._data


@dataclass
class FakeS3:
    objects: dict[str, bytes] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    async def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        return {"Body": FakeBody(self.objects[kwargs["Key"]])}


GENERATION = Generation(
    name=f"{COLLECTION}_g1",
    alias=COLLECTION,
    number=1,
    embedding_model=SPEC.name,
    dimensions=SPEC.dimensions,
    chunk_size=200,
    chunk_overlap=30,
    source="ingestion",
    status="live",
    created_at=datetime.now(UTC),
)


class FakeGenerations:
    """Every collection is built as the live generation is."""

    async def get(self, alias: str) -> Generation:
        return GENERATION

    async def for_collection(self, name: str) -> Generation:
        return GENERATION


@dataclass
class FakeEmbedders:
    embedder: FakeEmbedder

    def get(self, model: str) -> FakeEmbedder:
        assert model == SPEC.name
        return self.embedder


@dataclass
class FakeParser:
    """Chunks a document by paragraphs, every word kept; or fails, as `DocumentParser.parse` does."""

    error: str | None = None
    calls: list[tuple[bytes, DocumentReady]] = field(default_factory=list)

    async def parse(
        self, data: bytes, event: DocumentReady, policy: ChunkingPolicy
    ) -> AsyncIterator[ParsedBatch]:
        self.calls.append((data, event))
        if self.error is not None:
            raise DocumentError(self.error)
        paragraphs = [p for p in data.decode().split("\n\n") if p]
        chunks = [
            Chunk(index=i, text=text, token_count=len(text.split()), page=1, section="penguins")
            for i, text in enumerate(paragraphs)
        ]
        batches = list(message_batches(chunks))
        for batch in batches[:-1]:
            yield ParsedBatch(batch)
        yield ParsedBatch(batches[-1], last=True, coverage=1.0)


def unit_vector(text: str, dimensions: int = SPEC.dimensions) -> Vectors:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimensions).astype(np.float32)
    normalised: Vectors = vector / np.linalg.norm(vector)
    return normalised


@dataclass
class FakeEmbedder(QuestionsAsRequests):
    spec: EmbeddingModelSpec = SPEC
    error: str | None = None
    calls: list[list[str]] = field(default_factory=list)

    async def warm_up(self) -> None:
        """Nothing to load."""

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        if self.error is not None:
            raise RuntimeError(self.error)
        if not texts:
            return np.zeros((0, self.spec.dimensions), dtype=np.float32)
        return np.stack([unit_vector(text) for text in texts])


@dataclass
class FakeHandle:
    workflow_id: str
    signals: list[tuple[str, str, BaseModel]]

    async def signal(self, name: str, arg: BaseModel) -> None:
        self.signals.append((self.workflow_id, name, arg))


@dataclass
class FakeTemporal:
    signals: list[tuple[str, str, BaseModel]] = field(default_factory=list)

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(workflow_id, self.signals)


@dataclass
class FakeProgress:
    """`progress.record_batch` in memory, with the SQL's semantics: a batch counts once
    (primary key collection, document, version, batch index); the version once all are in, the last
    batch (the one that knows how many there are) included."""

    rows: dict[tuple[str, uuid.UUID, str], dict[int, DocumentChunked]] = field(default_factory=dict)

    async def record_batch(
        self, pool: Pool, event: DocumentChunked, collection: str
    ) -> progress.WrittenVersion | None:
        batches = self.rows.setdefault((collection, event.document_id, event.version), {})
        batches.setdefault(event.batch_index, event)
        counts = [b.batch_count for b in batches.values() if b.batch_count is not None]
        if not counts or len(batches) < max(counts):
            return None
        coverages = [b.coverage for b in batches.values() if b.coverage is not None]
        chunks = sum(len(b.chunks) for b in batches.values())
        return progress.WrittenVersion(chunks, max(coverages) if coverages else None)


@dataclass(frozen=True)
class Received:
    key: bytes | None
    headers: dict[str, str]
    body: bytes


@dataclass
class Pipeline:
    broker: KafkaBroker
    s3: FakeS3
    parser: FakeParser
    embedder: FakeEmbedder
    store: QdrantEdgeStore
    temporal: FakeTemporal
    progress: FakeProgress
    received: dict[str, list[Received]]

    def on(self, topic: str) -> list[Received]:
        return self.received[PREFIX + topic]

    def models(self, topic: str, model: type[BaseModel]) -> list[Any]:
        return [model.model_validate_json(message.body) for message in self.on(topic)]


def _spy(broker: KafkaBroker, topic: str, into: list[Received]) -> None:
    async def record(body: Any, message: KafkaMessage) -> None:
        raw: Any = message.raw_message
        into.append(Received(key=raw.key, headers=dict(message.headers), body=bytes(message.body)))

    # No consumer group: the in-memory broker delivers to each group once, and the stages have theirs.
    broker.subscriber(topic)(record)


SPIED = [DOCUMENT_CHUNKED, DOCUMENT_EMBEDDED, DOCUMENT_INDEXED, DOCUMENT_FAILED]
SPIED += [dlq_topic(name) for name in (DOCUMENT_READY, DOCUMENT_CHUNKED, DOCUMENT_EMBEDDED)]


async def _pipeline(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    parser: FakeParser | None = None,
    embedder: FakeEmbedder | None = None,
    **overrides: Any,
) -> Pipeline:
    settings = Settings(_env_file=None, kafka_topic_prefix=PREFIX, **overrides)
    broker = make_broker(settings, client_id="unit")
    store = QdrantEdgeStore(tmp_path / "qdrant")
    await store.ensure_collection(GENERATION.name, GENERATION.dimensions)
    await store.set_alias(COLLECTION, GENERATION.name)
    pipeline = Pipeline(
        broker=broker,
        s3=FakeS3(),
        parser=parser or FakeParser(),
        embedder=embedder or FakeEmbedder(),
        store=store,
        temporal=FakeTemporal(),
        progress=FakeProgress(),
        received={settings.topic(name): [] for name in SPIED},
    )
    monkeypatch.setattr(progress, "record_batch", pipeline.progress.record_batch)
    resources = Resources(
        settings=settings,
        s3=pipeline.s3,
        embedders=cast(Embedders, FakeEmbedders(pipeline.embedder)),
        store=store,
        pool=cast(Pool, object()),  # only `progress.record_batch` uses it, and that is faked
        temporal=cast(Client, pipeline.temporal),
        parser=cast(DocumentParser, pipeline.parser),
        generations=cast(LiveGenerations, FakeGenerations()),
    )
    register_stages(broker, resources)
    for topic, received in pipeline.received.items():
        _spy(broker, topic, received)
    return pipeline


@pytest.fixture
async def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Pipeline]:
    built = await _pipeline(tmp_path, monkeypatch)
    try:
        yield built
    finally:
        await built.store.close()


def _ready(key: str = "notes/penguins.txt", **overrides: Any) -> DocumentReady:
    values: dict[str, Any] = {
        "document_id": uuid.uuid4(),
        "version": "v1",
        "workflow_id": f"upload:ragstream/{key}@v1",
        "collection": COLLECTION,
        "bucket": "ragstream",
        "key": key,
        "version_id": "s3-version-1",
        "filename": Path(key).name,
        "content_type": "text/plain",
        "size": len(TEXT),
        "uploaded_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    return DocumentReady.model_validate(values | overrides)


async def _publish(broker: KafkaBroker, event: DocumentReady) -> None:
    await broker.publish(event, PREFIX + DOCUMENT_READY, key=str(event.document_id).encode())


async def test_a_ready_document_is_parsed_embedded_upserted_and_reported(pipeline: Pipeline) -> None:
    event = _ready()
    pipeline.s3.objects[event.key] = TEXT
    key = str(event.document_id).encode()

    async with TestKafkaBroker(pipeline.broker) as broker:
        await _publish(broker, event)

    assert pipeline.s3.requests == [{"Bucket": "ragstream", "Key": event.key, "VersionId": "s3-version-1"}]
    assert [(data, ready.document_id) for data, ready in pipeline.parser.calls] == [(TEXT, event.document_id)]

    [chunked] = pipeline.models(DOCUMENT_CHUNKED, DocumentChunked)
    assert [m.key for m in pipeline.on(DOCUMENT_CHUNKED)] == [key]
    assert (chunked.document_id, chunked.version, chunked.workflow_id) == (
        event.document_id,
        "v1",
        event.workflow_id,
    )
    assert (chunked.batch_index, chunked.batch_count) == (0, 1)
    texts = ["Emperor penguins breed in winter.", "The male incubates the egg.", "The female feeds at sea."]
    assert [c.text for c in chunked.chunks] == texts

    [embedded] = pipeline.models(DOCUMENT_EMBEDDED, DocumentEmbedded)
    assert [m.key for m in pipeline.on(DOCUMENT_EMBEDDED)] == [key]
    assert (embedded.embedding_model, embedded.dimensions) == ("all-MiniLM-L6-v2", 384)
    assert len(embedded.vectors) == 3 * 384 * 4
    assert pipeline.embedder.calls == [texts]

    assert await pipeline.store.count(COLLECTION, document_id=event.document_id) == 3
    [hit] = await pipeline.store.search(
        COLLECTION,
        unit_vector(texts[1]),
        access=Access(tenant=DEFAULT_TENANT, every_group=True),
        limit=1,
        where=SearchFilter(document_ids=[event.document_id]),
    )
    assert hit.id == point_id(event.document_id, "v1", 1)
    assert hit.payload.content == texts[1]
    assert hit.payload.filename == "penguins.txt"
    assert hit.payload.upload_timestamp == event.uploaded_at
    assert (hit.payload.page, hit.payload.section) == (1, "penguins")
    assert hit.score == pytest.approx(1.0, abs=1e-5)

    [indexed] = pipeline.models(DOCUMENT_INDEXED, DocumentIndexed)
    assert [m.key for m in pipeline.on(DOCUMENT_INDEXED)] == [key]
    assert (indexed.document_id, indexed.version, indexed.chunk_count) == (event.document_id, "v1", 3)
    assert pipeline.temporal.signals == [
        (
            event.workflow_id,
            SIGNAL_INDEXING_FINISHED,
            IndexingResult(version="v1", chunk_count=3, coverage=1.0),
        )
    ]
    assert pipeline.on(DOCUMENT_FAILED) == []


async def test_a_long_document_is_indexed_once_every_batch_is_in(pipeline: Pipeline) -> None:
    event = _ready("notes/long.txt")
    paragraphs = [f"Paragraph number {i} about penguins." for i in range(CHUNKS_PER_MESSAGE + 6)]
    pipeline.s3.objects[event.key] = "\n\n".join(paragraphs).encode()

    async with TestKafkaBroker(pipeline.broker) as broker:
        await _publish(broker, event)

    batches = pipeline.models(DOCUMENT_CHUNKED, DocumentChunked)
    # Published while parsing goes on: only the last batch knows how many there are, and the coverage.
    assert [(b.batch_index, b.batch_count, len(b.chunks), b.coverage) for b in batches] == [
        (0, None, CHUNKS_PER_MESSAGE, None),
        (1, 2, 6, 1.0),
    ]
    assert await pipeline.store.count(COLLECTION, document_id=event.document_id) == len(paragraphs)
    [indexed] = pipeline.models(DOCUMENT_INDEXED, DocumentIndexed)
    assert (indexed.chunk_count, indexed.coverage) == (len(paragraphs), 1.0)
    assert [name for _, name, _ in pipeline.temporal.signals] == [SIGNAL_INDEXING_FINISHED]


async def test_a_new_version_replaces_the_points_of_the_old_one(pipeline: Pipeline) -> None:
    first = _ready()
    second = _ready(document_id=first.document_id, version="v2", workflow_id="upload:ragstream/x@v2")
    pipeline.s3.objects[first.key] = TEXT

    async with TestKafkaBroker(pipeline.broker) as broker:
        await _publish(broker, first)
        pipeline.s3.objects[first.key] = b"Only one paragraph now."
        await _publish(broker, second)

    assert await pipeline.store.count(COLLECTION, document_id=first.document_id) == 1
    hits = await pipeline.store.search(
        COLLECTION,
        unit_vector("Only one paragraph now."),
        access=Access(tenant=DEFAULT_TENANT, every_group=True),
        limit=10,
        where=SearchFilter(),
    )
    assert [(h.payload.version, h.payload.content) for h in hits] == [("v2", "Only one paragraph now.")]
    assert [signal for _, _, signal in pipeline.temporal.signals] == [
        IndexingResult(version="v1", chunk_count=3, coverage=1.0),
        IndexingResult(version="v2", chunk_count=1, coverage=1.0),
    ]


def _chunked(ready: DocumentReady, texts: Sequence[str], *, batch_index: int, last: bool) -> DocumentChunked:
    """One batch of `ready`'s version, as the parse stage publishes it: only the last knows the count."""
    first = batch_index * CHUNKS_PER_MESSAGE
    return DocumentChunked(
        document_id=ready.document_id,
        version=ready.version,
        workflow_id=ready.workflow_id,
        collection=ready.collection,
        filename=ready.filename,
        uploaded_at=ready.uploaded_at,
        batch_index=batch_index,
        batch_count=batch_index + 1 if last else None,
        chunks=[
            Chunk(index=first + i, text=text, token_count=len(text.split())) for i, text in enumerate(texts)
        ],
        coverage=1.0 if last else None,
    )


async def test_a_version_is_searchable_only_once_every_batch_is_in(pipeline: Pipeline) -> None:
    first = _ready()
    second = _ready(document_id=first.document_id, version="v2", workflow_id="upload:ragstream/x@v2")
    key = str(first.document_id).encode()
    pipeline.s3.objects[first.key] = TEXT
    batches = [
        [f"Version two, paragraph {i} about krill." for i in range(CHUNKS_PER_MESSAGE)],
        ["Version two, the last paragraph about krill."],
    ]

    async def versions_found() -> set[str]:
        hits = await pipeline.store.search(
            COLLECTION,
            unit_vector(batches[0][0]),
            access=Access(tenant=DEFAULT_TENANT, every_group=True),
            limit=100,
            where=SearchFilter(document_ids=[first.document_id]),
            text="krill penguins",
            mode="hybrid",
        )
        return {h.payload.version for h in hits}

    async with TestKafkaBroker(pipeline.broker) as broker:
        await _publish(broker, first)
        assert await versions_found() == {"v1"}

        await broker.publish(
            _chunked(second, batches[0], batch_index=0, last=False), PREFIX + DOCUMENT_CHUNKED, key=key
        )
        # Written, but only the old version is served while the new one is not whole.
        assert await pipeline.store.count(COLLECTION, document_id=first.document_id) == 3 + CHUNKS_PER_MESSAGE
        assert await versions_found() == {"v1"}

        await broker.publish(
            _chunked(second, batches[1], batch_index=1, last=True), PREFIX + DOCUMENT_CHUNKED, key=key
        )

    assert await versions_found() == {"v2"}
    assert await pipeline.store.count(COLLECTION, document_id=first.document_id) == CHUNKS_PER_MESSAGE + 1
    assert [(i.version, i.chunk_count) for i in pipeline.models(DOCUMENT_INDEXED, DocumentIndexed)] == [
        ("v1", 3),
        ("v2", CHUNKS_PER_MESSAGE + 1),
    ]


async def test_a_bad_document_fails_at_once_without_dead_lettering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = FakeParser(error="the document holds no text")
    pipeline = await _pipeline(tmp_path, monkeypatch, parser=parser, stage_max_attempts=3)
    event = _ready()
    pipeline.s3.objects[event.key] = b"   "
    try:
        async with TestKafkaBroker(pipeline.broker) as broker:
            await _publish(broker, event)
    finally:
        await pipeline.store.close()

    assert len(parser.calls) == 1  # not retried
    [failed] = pipeline.models(DOCUMENT_FAILED, DocumentFailed)
    assert [m.key for m in pipeline.on(DOCUMENT_FAILED)] == [str(event.document_id).encode()]
    assert (failed.document_id, failed.version, failed.workflow_id) == (
        event.document_id,
        "v1",
        event.workflow_id,
    )
    assert (failed.stage, failed.error) == ("parse", "the document holds no text")
    assert pipeline.on(dlq_topic(DOCUMENT_READY)) == []
    assert pipeline.on(DOCUMENT_CHUNKED) == []
    assert pipeline.temporal.signals == [
        (
            event.workflow_id,
            SIGNAL_INDEXING_FAILED,
            IndexingFailure(version="v1", stage="parse", error="the document holds no text"),
        )
    ]


@pytest.mark.parametrize("backoff", [0.0, 0.5], ids=["no-backoff", "default-backoff"])
async def test_a_message_that_keeps_failing_goes_to_the_dead_letter_topic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backoff: float
) -> None:
    embedder = FakeEmbedder(error="the embedding server is down")
    pipeline = await _pipeline(
        tmp_path,
        monkeypatch,
        embedder=embedder,
        stage_max_attempts=2,
        stage_retry_backoff_seconds=backoff,
    )
    event = _ready()
    key = str(event.document_id).encode()
    pipeline.s3.objects[event.key] = TEXT
    started = time.monotonic()
    try:
        async with TestKafkaBroker(pipeline.broker) as broker:
            await _publish(broker, event)
    finally:
        await pipeline.store.close()
    elapsed = time.monotonic() - started

    assert len(embedder.calls) == 2
    [dead] = pipeline.on(dlq_topic(DOCUMENT_CHUNKED))
    assert dead.key == key
    assert dead.headers["x-error"] == "RuntimeError: the embedding server is down"
    assert dead.headers["x-attempts"] == "2"
    assert dead.headers["x-stage"] == "embed"
    # The original message, byte for byte, so it can be replayed.
    assert dead.body == pipeline.on(DOCUMENT_CHUNKED)[0].body

    [failed] = pipeline.models(DOCUMENT_FAILED, DocumentFailed)
    assert [m.key for m in pipeline.on(DOCUMENT_FAILED)] == [key]
    assert failed.stage == "embed"
    assert failed.error.startswith("RuntimeError: the embedding server is down (after 2 attempts;")
    assert PREFIX + "document.chunked.dlq" in failed.error
    assert pipeline.on(DOCUMENT_EMBEDDED) == []
    assert [name for _, name, _ in pipeline.temporal.signals] == [SIGNAL_INDEXING_FAILED]
    # One wait between the two attempts: `backoff` seconds (tenacity's exponential wait, first step).
    assert backoff <= elapsed < backoff + 2.0


async def test_a_delete_passes_through_and_removes_the_documents_points(pipeline: Pipeline) -> None:
    doomed, kept = uuid.uuid4(), uuid.uuid4()
    collection = await pipeline.store.resolve(COLLECTION)
    await pipeline.store.upsert(collection, [_point(doomed, i) for i in range(3)] + [_point(kept, 0)])
    event = _ready(document_id=doomed, operation="delete", version="v2", version_id=None)

    async with TestKafkaBroker(pipeline.broker) as broker:
        await _publish(broker, event)

    assert pipeline.s3.requests == []
    assert pipeline.parser.calls == []
    [chunked] = pipeline.models(DOCUMENT_CHUNKED, DocumentChunked)
    assert (chunked.operation, chunked.chunks, chunked.batch_count) == ("delete", [], 1)
    [embedded] = pipeline.models(DOCUMENT_EMBEDDED, DocumentEmbedded)
    assert (embedded.operation, embedded.vectors) == ("delete", b"")
    assert await pipeline.store.count(COLLECTION, document_id=doomed) == 0
    assert await pipeline.store.count(COLLECTION, document_id=kept) == 1
    [indexed] = pipeline.models(DOCUMENT_INDEXED, DocumentIndexed)
    assert [m.key for m in pipeline.on(DOCUMENT_INDEXED)] == [str(doomed).encode()]
    assert (indexed.document_id, indexed.version, indexed.chunk_count) == (doomed, "v2", 0)
    assert pipeline.temporal.signals == [
        (event.workflow_id, SIGNAL_INDEXING_FINISHED, IndexingResult(version="v2", chunk_count=0))
    ]


def _point(document_id: uuid.UUID, index: int) -> ChunkPoint:
    text = f"chunk {index} of {document_id}"
    return ChunkPoint(
        id=point_id(document_id, "v1", index),
        vector=unit_vector(text),
        payload=ChunkPayload(
            document_id=document_id,
            version="v1",
            chunk_index=index,
            content=text,
            filename="old.txt",
            upload_timestamp=datetime(2025, 1, 1, tzinfo=UTC),
        ),
    )
