"""Freshness: seconds from the S3 event of a one-page document to its first search hit, one document
at a time (latency, not throughput), through the real local stack.

The clock starts when `put_object` returns (moto has queued the bucket's event notification by
then) and stops when a search restricted to the document, in the vector store the query API
searches, returns one of its chunks; it is polled every 20 ms. The document's trace (the pipeline
traces every document from its S3 event through the workflow and each Kafka hop into Qdrant)
splits that time into the pipeline's steps, and the baseline measures the steps' work alone on the
same document in the same run: parsing, embedding, upserting, searching, answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from rich.progress import Progress

from apps.cli.system import System
from apps.common.documents import document_id_for
from apps.common.embeddings import Embedder
from apps.common.identity import ANONYMOUS
from apps.common.kafka import admin_client
from apps.common.s3 import s3_client
from apps.common.settings import DEFAULT_LOCAL_EMBEDDING_MODEL, EXTRACTIVE_CHAT_MODEL, Settings
from apps.common.vector_store import ChunkPoint, SearchFilter, VectorStore
from apps.stream_processors.chunking import ChunkingPolicy
from apps.stream_processors.parsing import parse_and_chunk
from apps.stream_processors.partitioning import configure_offline
from bench.report import Result, progress, publish
from bench.stack import (
    Document,
    local_stack,
    one_page_documents,
    percentile,
    running_ragstream,
)
from schemas.generations import Generation
from schemas.points import ChunkPayload

DOCUMENTS = int(os.environ.get("RAGSTREAM_BENCH_FRESHNESS_DOCUMENTS", "50"))
WARM_UP_DOCUMENTS = 2
POLL_SECONDS = 0.020
DEADLINE_SECONDS = 60.0
TARGET_P50_SECONDS = 1.0
_PROBE_QUERY = "What does this page describe?"
Vector = npt.NDArray[np.float32]
KAFKA_HOP = "a Kafka hop: publish -> an idle consumer has it"


class SpanLog(SpanProcessor):
    """Keeps every span that ends while it records (the tracer provider offers no way to remove it)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.recording = True

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if self.recording:
            self.spans.append(span)

    def shutdown(self) -> None:
        self.recording = False

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def trace_of(self, key: str) -> list[ReadableSpan]:
        """The spans of the trace of object `key`'s S3 event (none before its first span ended)."""
        roots = [
            s
            for s in self.spans
            if s.name.startswith("s3 event ") and (s.attributes or {}).get("s3.key") == key
        ]
        if not roots or roots[-1].context is None:
            return []
        trace_id = roots[-1].context.trace_id
        return [s for s in self.spans if s.context is not None and s.context.trace_id == trace_id]


@contextlib.contextmanager
def recorded_spans() -> Iterator[SpanLog]:
    """Record the spans this process ends, on the SDK tracer provider (set here if none is)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, SdkTracerProvider):
        provider = SdkTracerProvider()
        trace.set_tracer_provider(provider)
    log = SpanLog()
    provider.add_span_processor(log)
    try:
        yield log
    finally:
        log.recording = False
        log.spans.clear()


# The steps of a document's way, each from one point of its trace to the next; a point is the
# start or the end (first or last, if there are several) of the spans whose name matches.
Point = Callable[[list[ReadableSpan]], int | None]


def _at(test: Callable[[str], bool], *, end: bool, last: bool = False) -> Point:
    def point(spans: list[ReadableSpan]) -> int | None:
        times = [(s.end_time if end else s.start_time) for s in spans if test(s.name)]
        present = [t for t in times if t is not None]
        if not present:
            return None
        return max(present) if last else min(present)

    return point


READY = _at(lambda n: n.startswith("publish ") and n.endswith("document.ready"), end=True)
PARSING = _at(lambda n: n == "parse", end=False)
CHUNKED = _at(lambda n: n.startswith("publish ") and n.endswith("document.chunked"), end=True, last=True)
EMBEDDING = _at(lambda n: n == "embed", end=False)
EMBEDDED = _at(lambda n: n.startswith("publish ") and n.endswith("document.embedded"), end=True, last=True)
UPSERTING = _at(lambda n: n == "upsert", end=False)
UPSERTED = _at(lambda n: n == "qdrant upsert", end=True, last=True)
FINALIZED = _at(lambda n: n == "RunActivity:finalize_document", end=True)

STEPS: tuple[tuple[str, Point | None, Point | None], ...] = (
    # (step, from, to); None: the S3 put returned / the probe's first hit
    # moto sends the event before put_object returns: the intake may start it first.
    ("S3 event -> SQS -> intake -> workflow: validate, register, publish document.ready", None, READY),
    ("Kafka -> parse stage", READY, PARSING),
    ("parse stage: download, parse, chunk (worker process)", PARSING, CHUNKED),
    ("Kafka -> embed stage (batching)", CHUNKED, EMBEDDING),
    ("embed stage: embed the chunks", EMBEDDING, EMBEDDED),
    ("Kafka -> upsert stage", EMBEDDED, UPSERTING),
    ("upsert stage: write the points into Qdrant", UPSERTING, UPSERTED),
    ("written -> seen by the search probe", UPSERTED, None),
)


@dataclass
class Measured:
    """One document: seconds from its S3 put to its first search hit and to status `complete`,
    its steps (seconds, from its trace), and the baseline: its parts alone (seconds)."""

    key: str
    chunks: int
    put_seconds: float
    searchable: float
    complete: float | None = None
    steps: dict[str, float] = field(default_factory=dict)
    alone: dict[str, float] = field(default_factory=dict)


@dataclass
class Freshness:
    documents: list[Measured] = field(default_factory=list)

    def values(self, pick: Callable[[Measured], float | None]) -> list[float]:
        return [v for v in (pick(d) for d in self.documents) if v is not None]


class Probe:
    """A search restricted to one document in the live collection, as the query API searches it,
    with a query vector made once (the filter makes any vector find the document's chunks)."""

    def __init__(self, store: VectorStore, generation: Generation, vector: Vector) -> None:
        self.store = store
        self.generation = generation
        self.vector = vector
        self.seconds: list[float] = []

    async def hit(self, document_id: uuid.UUID) -> bool:
        started = time.perf_counter()
        # The benchmark's API has no auth configured: it searches as the anonymous caller.
        hits = await self.store.search(
            self.generation.name,
            self.vector,
            access=ANONYMOUS.access,
            limit=1,
            where=SearchFilter(document_ids=[document_id]),
        )
        self.seconds.append(time.perf_counter() - started)
        return bool(hits)


async def _probe(settings: Settings, system: System) -> Probe:
    assert system.store is not None
    assert system.embedder is not None
    generation = await system.generations.get(settings.qdrant_collection)
    if generation is None:
        raise RuntimeError("no live generation: the system did not start")
    vector = await system.embedder.embed_question(_PROBE_QUERY)
    return Probe(system.store, generation, vector)


async def _poll(
    condition: Callable[[], Awaitable[bool]], what: str, *, interval: float = POLL_SECONDS
) -> float:
    """The perf counter's reading when `condition` first held, polling every `interval` seconds."""
    deadline = time.perf_counter() + DEADLINE_SECONDS
    while True:
        held = await condition()
        now = time.perf_counter()
        if held:
            return now
        if now > deadline:
            raise TimeoutError(f"{what} took more than {DEADLINE_SECONDS:.0f} s")
        await asyncio.sleep(interval)


async def _complete(client: httpx.AsyncClient, document_id: uuid.UUID) -> bool:
    """Whether the API says the document is complete (its workflow finished); fails if it failed."""
    response = await client.get(f"/v1/documents/{document_id}")
    if response.status_code == 404:
        return False
    response.raise_for_status()
    document = response.json()
    if document["status"] == "failed":
        raise RuntimeError(f"document {document_id} failed: {document['error_message']}")
    return bool(document["status"] == "complete")


class KafkaHop:
    """One message through the broker alone: published (acks=all, as the stages publish, keyed as a
    document's events are) until an idle consumer of a topic of as many partitions as the pipeline's
    receives it, with aiokafka's defaults as the stages' consumers have them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topic(f"bench.hop.{uuid.uuid4().hex[:8]}")
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=settings.kafka_idempotent_producer,
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None, enable_auto_commit=False
        )
        self._random = random.Random(0)

    async def start(self) -> None:
        partitions = self.settings.kafka_partitions
        async with admin_client(self.settings) as admin:
            await admin.create_topics([NewTopic(self.topic, num_partitions=partitions, replication_factor=1)])
        await self._producer.start()
        await self._consumer.start()
        assigned = [TopicPartition(self.topic, p) for p in range(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for partition in assigned:
            await self._consumer.position(partition)

    async def seconds(self, payload: bytes) -> float:
        """One hop, published at a random moment of the consumer's wait for data (as a document's
        events come), not in step with it."""
        await asyncio.sleep(self._random.uniform(0, 0.5))
        started = time.perf_counter()
        await self._producer.send_and_wait(self.topic, payload, key=uuid.uuid4().bytes)
        await asyncio.wait_for(self._consumer.getone(), DEADLINE_SECONDS)
        return time.perf_counter() - started

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._producer.stop()


@dataclass
class Bench:
    """What measuring needs, opened once for all the documents."""

    settings: Settings
    system: System
    probe: Probe
    spans: SpanLog
    client: httpx.AsyncClient
    s3: Any
    scratch: str  # a collection for upserting alone
    kafka: KafkaHop

    @property
    def store(self) -> VectorStore:
        assert self.system.store is not None
        return self.system.store

    @property
    def embedder(self) -> Embedder:
        assert self.system.embedder is not None
        return self.system.embedder


async def _parts_alone(bench: Bench, document: Document) -> tuple[int, dict[str, float]]:
    """The document's chunk count and the time of each part of its way, each measured alone."""
    generation = bench.probe.generation
    policy = ChunkingPolicy(size=generation.chunk_size, overlap=generation.chunk_overlap)
    alone = {KAFKA_HOP: await bench.kafka.seconds(document.body)}

    def parse() -> list[str]:
        chunks = parse_and_chunk(document.body, document.key.rsplit("/", 1)[-1], "text/plain", policy)
        return [chunk.text for chunk in chunks]

    started = time.perf_counter()
    texts = await asyncio.to_thread(parse)
    alone["parse and chunk the page (in process)"] = time.perf_counter() - started

    started = time.perf_counter()
    vectors = await bench.embedder.embed(texts)
    alone[f"embed its chunks ({bench.embedder.spec.name})"] = time.perf_counter() - started

    scratch_id = uuid.uuid4()
    points = [
        ChunkPoint(
            id=uuid.uuid4(),
            vector=vectors[i],
            payload=ChunkPayload(
                document_id=scratch_id,
                version="bench",
                chunk_index=i,
                content=text,
                filename=document.key,
                upload_timestamp=datetime.now(UTC),
            ),
        )
        for i, text in enumerate(texts)
    ]
    started = time.perf_counter()
    await bench.store.upsert(bench.scratch, points)
    alone["upsert its points into Qdrant"] = time.perf_counter() - started

    document_id = document_id_for(bench.settings.s3_bucket, document.key)
    started = time.perf_counter()
    await bench.probe.hit(document_id)
    alone["search restricted to it (the probe)"] = time.perf_counter() - started

    started = time.perf_counter()
    body = {"query": _PROBE_QUERY, "document_ids": [str(document_id)], "stream": False}
    response = await bench.client.post("/v1/query", json=body)
    response.raise_for_status()
    if not response.json()["sources"]:
        raise RuntimeError(f"the API does not find {document.key} though the store does")
    alone["/v1/query restricted to it (extractive answer)"] = time.perf_counter() - started
    return len(texts), alone


async def measure_one(bench: Bench, document: Document) -> Measured:
    """Put one document, time it to searchable and to complete, then time its parts alone."""
    document_id = document_id_for(bench.settings.s3_bucket, document.key)
    started_ns = time.time_ns()
    started = time.perf_counter()
    await bench.s3.put_object(Bucket=bench.settings.s3_bucket, Key=document.key, Body=document.body)
    put = time.perf_counter()
    put_ns = started_ns + round((put - started) * 1e9)  # the traces' clock, read without a second call

    async def searchable() -> bool:
        return await bench.probe.hit(document_id)

    async def complete() -> bool:
        return await _complete(bench.client, document_id)

    async def traced() -> bool:
        return FINALIZED(bench.spans.trace_of(document.key)) is not None

    hit = await _poll(searchable, f"{document.key} to be searchable")
    complete_at = await _poll(complete, f"{document.key} to be complete", interval=0.05)
    # The workflow's last span ends just after it wrote the status: give it a moment.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(_poll(traced, "the document's trace"), 5)
    spans = bench.spans.trace_of(document.key)
    chunks, alone = await _parts_alone(bench, document)

    measured = Measured(document.key, chunks, put - started, hit - put)
    finalized = FINALIZED(spans)
    measured.complete = (finalized - put_ns) / 1e9 if finalized is not None else complete_at - put
    hit_ns = put_ns + round((hit - put) * 1e9)
    for step, begins, ends in STEPS:
        since = put_ns if begins is None else begins(spans)
        until = hit_ns if ends is None else ends(spans)
        if since is not None and until is not None:
            measured.steps[step] = (until - since) / 1e9
    measured.alone = {"S3 put_object (moto queues the event)": measured.put_seconds, **alone}
    return measured


async def measure(
    settings: Settings,
    system: System,
    documents: Sequence[Document],
    *,
    warm_up: Sequence[Document] = (),
    bar: Progress | None = None,
) -> Freshness:
    """Each document in turn: put, poll until searchable and complete, then its parts alone.
    The `warm_up` documents go the same way first, unmeasured."""
    assert system.store is not None
    assert system.embedder is not None
    assert system.api_url is not None
    configure_offline()
    probe = await _probe(settings, system)
    scratch = f"bench_scratch_{uuid.uuid4().hex[:8]}"
    await system.store.ensure_collection(scratch, system.embedder.spec.dimensions)
    kafka = KafkaHop(settings)
    await kafka.start()
    freshness = Freshness()
    task = bar.add_task("S3 put -> first search hit", total=len(documents)) if bar else None
    try:
        with recorded_spans() as spans:
            async with (
                httpx.AsyncClient(base_url=system.api_url, timeout=30) as client,
                s3_client(settings) as s3,
            ):
                bench = Bench(settings, system, probe, spans, client, s3, scratch, kafka)
                for document in warm_up:
                    await measure_one(bench, document)
                for document in documents:
                    spans.spans.clear()
                    freshness.documents.append(await measure_one(bench, document))
                    if bar is not None and task is not None:
                        bar.advance(task)
    finally:
        await kafka.stop()
        await system.store.drop_collection(scratch)
    return freshness


def _step(name: str) -> Callable[[Measured], float | None]:
    return lambda document: document.steps.get(name)


def _part(name: str) -> Callable[[Measured], float | None]:
    return lambda document: document.alone.get(name)


def _kafka_hops(document: Measured) -> float | None:
    hops = [seconds for step, seconds in document.steps.items() if step.startswith("Kafka ->")]
    return sum(hops) if len(hops) == 3 else None


def _seconds(values: Sequence[float]) -> tuple[float, float, float]:
    return percentile(values, 50), percentile(values, 95), max(values)


def result(freshness: Freshness, *, model: str) -> Result:
    documents = freshness.documents
    chunks = sorted(d.chunks for d in documents)
    table = Result(
        "freshness",
        f"Freshness: {len(documents)} one-page documents ({chunks[0]}-{chunks[-1]} chunks each), "
        "one at a time, from the S3 event to the first search hit",
        ["step", "p50 s", "p95 s", "max s"],
    )
    searchable = freshness.values(lambda d: d.searchable)
    table.add("S3 put -> first search hit (end to end)", *_seconds(searchable))
    table.add(
        "S3 put -> status complete (workflow finished)", *_seconds(freshness.values(lambda d: d.complete))
    )
    for step, _, _ in STEPS:
        values = freshness.values(_step(step))
        if values:
            table.add(f"in the pipeline: {step}", *_seconds(values))
    for part in documents[0].alone:
        table.add(f"alone: {part}", *_seconds(freshness.values(_part(part))))
    p50, p95 = percentile(searchable, 50), percentile(searchable, 95)
    verdict = "met" if p50 <= TARGET_P50_SECONDS else "NOT met"
    hops = freshness.values(_kafka_hops)
    share = [h / d.searchable for d in documents if (h := _kafka_hops(d)) is not None]
    table.notes += [
        f"Target: p50 <= {TARGET_P50_SECONDS:.0f} s from the S3 event to the first search hit; measured p50 "
        f"{p50:.3f} s, p95 {p95:.3f} s: {verdict}.",
        f"The three Kafka hops together took p50 {percentile(hops, 50):.3f} s a document"
        f" ({percentile(share, 50):.0%} of its time), where one hop alone takes"
        f" {percentile(freshness.values(_part(KAFKA_HOP)), 50):.3f} s with one consumer waiting: the rest"
        " is the stages' consumers waiting for the broker to answer their fetches. With several consumers"
        " waiting at once, as the stages do, Tansu answers some late, by ~30, 60 or 125 ms (a chain of"
        " four plain aiokafka consumers alone shows it too).",
        f"The clock starts when put_object returns and stops when a search restricted to the document (in"
        f" the collection the query API searches) returns a chunk of it, polled every"
        f" {POLL_SECONDS * 1000:.0f} ms; documents go one after another, after {WARM_UP_DOCUMENTS} unmeasured"
        f" ones; embeddings by {model}.",
        "'in the pipeline' rows split each document's end-to-end time along its trace (each document is"
        " one trace, from its S3 event through the workflow and every Kafka hop into Qdrant): per"
        " document the steps add up to the end-to-end time; their p50s need not.",
        "'alone' rows are the baseline: the same document's parts measured directly in this process,"
        " after it was complete (the pipeline idle): what the steps would cost without the hops.",
    ]
    return table


async def run() -> None:
    documents = one_page_documents(WARM_UP_DOCUMENTS + DOCUMENTS)
    model = DEFAULT_LOCAL_EMBEDDING_MODEL
    with local_stack() as stack:
        async with running_ragstream(stack, embedding_model=model, chat_model=EXTRACTIVE_CHAT_MODEL) as (
            settings,
            system,
        ):
            with progress() as bar:
                freshness = await measure(
                    settings,
                    system,
                    documents[WARM_UP_DOCUMENTS:],
                    warm_up=documents[:WARM_UP_DOCUMENTS],
                    bar=bar,
                )
    publish(result(freshness, model=model))
