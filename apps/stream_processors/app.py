"""Wires the stages to Kafka: one consumer group per stage, each committing after its work.

parse (document.ready) -> embed (document.chunked, batched across documents) -> upsert
(document.embedded) -> report (document.indexed, document.failed) -> Temporal signal.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker, KafkaMessage
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from temporalio.client import Client

from apps.common import documents
from apps.common.database import Pool
from apps.common.embeddings import Embedder, Embedders
from apps.common.generations import LiveGenerations
from apps.common.kafka import consumer_options, publish_event
from apps.common.logs import log_context
from apps.common.settings import Settings
from apps.common.tracing import consuming, extracted, tracer
from apps.common.vector_store import VectorStore
from apps.stream_processors import progress
from apps.stream_processors.chunking import ChunkingPolicy
from apps.stream_processors.embed import embed
from apps.stream_processors.metrics import CHUNKS_EMBEDDED
from apps.stream_processors.parse import parse
from apps.stream_processors.parsing import DocumentParser, ParsedBatch
from apps.stream_processors.report import report
from apps.stream_processors.stage import FailedMessage, Stage
from apps.stream_processors.upsert import upsert
from schemas.events import (
    DocumentChunked,
    DocumentEmbedded,
    DocumentFailed,
    DocumentIndexed,
    DocumentReady,
    DocumentRef,
)
from schemas.generations import Generation
from schemas.topics import (
    DOCUMENT_CHUNKED,
    DOCUMENT_EMBEDDED,
    DOCUMENT_FAILED,
    DOCUMENT_INDEXED,
    DOCUMENT_READY,
)
from schemas.workflows import Finalization


@dataclass
class Resources:
    """The clients the stages use, opened by whoever runs them (`ragstream processors` or `dev`)."""

    settings: Settings
    s3: Any
    embedders: Embedders
    store: VectorStore
    pool: Pool
    temporal: Client
    parser: DocumentParser
    generations: LiveGenerations

    async def generation_of(self, event: DocumentRef) -> Generation:
        """How the event's target collection is built (its chunking, its embedding model)."""
        generation = await self.generations.for_collection(event.collection)
        if generation is None:
            raise RuntimeError(f"no generation {event.collection!r}: see `ragstream status`")
        return generation

    async def download(self, event: DocumentReady) -> bytes:
        """The object version's bytes, from S3."""
        kwargs = {"Bucket": event.bucket, "Key": event.key}
        if event.version_id:
            kwargs["VersionId"] = event.version_id
        response = await self.s3.get_object(**kwargs)
        body = response["Body"]
        async with body:
            data: bytes = await body.read()
        return data

    async def finalize_late(self, event: DocumentIndexed) -> bool:
        """Record a version indexed after its workflow closed (a redriven dead letter): only while it is
        still the document's version, failed (never a deleted one, nor one indexed again since), and
        only into the live generation."""
        live = await self.generations.get(self.settings.qdrant_collection)
        if live is None or event.collection not in (live.name, live.alias):
            return False
        # Only a removal is indexed with no chunks: a document without text fails in parse.
        removal = event.chunk_count == 0
        final = Finalization(
            document_id=event.document_id,
            version=event.version,
            status="deleted" if removal else "complete",
            chunk_count=event.chunk_count,
            coverage=event.coverage,
        )
        return await documents.finalize(self.pool, final, if_status="failed")


def _about(event: DocumentRef) -> contextlib.AbstractContextManager[None]:
    """Log records written while handling `event` name its document and workflow."""
    return log_context(document_id=event.document_id, version=event.version, workflow_id=event.workflow_id)


def _failed_message(message: KafkaMessage) -> FailedMessage:
    raw: Any = message.raw_message
    return FailedMessage(topic=raw.topic, key=raw.key, body=message.body)


def register_stages(broker: KafkaBroker, resources: Resources) -> None:
    """Subscribe the four stages on `broker` (then start it with `await broker.start()`)."""
    settings = resources.settings
    options = consumer_options(settings)
    topic = settings.topic

    def stage(name: str) -> Stage:
        return Stage(
            name,
            broker,
            topic(DOCUMENT_FAILED),
            max_attempts=settings.stage_max_attempts,
            backoff_seconds=settings.stage_retry_backoff_seconds,
        )

    async def parse_document(data: bytes, event: DocumentReady) -> AsyncIterator[ParsedBatch]:
        generation = await resources.generation_of(event)
        policy = ChunkingPolicy(size=generation.chunk_size, overlap=generation.chunk_overlap)
        async for batch in resources.parser.parse(data, event, policy):
            yield batch

    async def parse_and_publish(event: DocumentReady) -> None:
        async for out in parse(event, download=resources.download, parse_document=parse_document):
            await publish_event(broker, topic(DOCUMENT_CHUNKED), out)

    async def embedder_for(event: DocumentChunked) -> Embedder:
        return resources.embedders.get((await resources.generation_of(event)).embedding_model)

    @broker.subscriber(topic(DOCUMENT_READY), group_id=settings.consumer_group("parse"), **options)
    async def on_ready(event: DocumentReady, message: KafkaMessage) -> None:
        with consuming("parse", message.headers), _about(event):
            # A retry publishes the batches again: they overwrite their own points downstream.
            await stage("parse").run(
                [event], lambda: parse_and_publish(event), messages=[_failed_message(message)]
            )

    @broker.subscriber(
        topic(DOCUMENT_CHUNKED),
        group_id=settings.consumer_group("embed"),
        batch=True,
        max_records=settings.embed_batch_messages,
        batch_timeout_ms=settings.embed_batch_timeout_ms,
        **options,
    )
    async def on_chunked(events: list[DocumentChunked], message: KafkaMessage) -> None:
        records: tuple[Any, ...] = message.raw_message  # a batch: one record per event
        failed = [FailedMessage(topic=r.topic, key=r.key, body=r.value) for r in records]
        # One span per message, in its document's trace: batching does not end the trace.
        spans = [
            tracer.start_span("embed", context=extracted(headers), kind=SpanKind.CONSUMER)
            for headers in message.batch_headers
        ]
        try:
            embedded = await stage("embed").run(
                list(events), lambda: embed(events, embedder_for=embedder_for), messages=failed
            )
            for out, span in zip(embedded or [], spans, strict=False):
                span.set_attribute("ragstream.batch_messages", len(events))
                CHUNKS_EMBEDDED.labels(out.embedding_model).inc(len(out.chunks))
                with trace.use_span(span), _about(out):
                    await publish_event(broker, topic(DOCUMENT_EMBEDDED), out)
        finally:
            for span in spans:
                span.end()

    async def record_batch(event: DocumentEmbedded, collection: str) -> progress.WrittenVersion | None:
        return await progress.record_batch(resources.pool, event, collection)

    @broker.subscriber(topic(DOCUMENT_EMBEDDED), group_id=settings.consumer_group("upsert"), **options)
    async def on_embedded(event: DocumentEmbedded, message: KafkaMessage) -> None:
        with consuming("upsert", message.headers), _about(event):
            indexed = await stage("upsert").run(
                [event],
                lambda: upsert(event, store=resources.store, record_batch=record_batch),
                messages=[_failed_message(message)],
            )
            if indexed is not None:
                await publish_event(broker, topic(DOCUMENT_INDEXED), indexed)

    @broker.subscriber(topic(DOCUMENT_INDEXED), group_id=settings.consumer_group("report-indexed"), **options)
    async def on_indexed(event: DocumentIndexed, message: KafkaMessage) -> None:
        with consuming("report", message.headers), _about(event):
            await report(event, temporal=resources.temporal, finalize_late=resources.finalize_late)

    @broker.subscriber(topic(DOCUMENT_FAILED), group_id=settings.consumer_group("report-failed"), **options)
    async def on_failed(event: DocumentFailed, message: KafkaMessage) -> None:
        with consuming("report", message.headers), _about(event):
            await report(event, temporal=resources.temporal, finalize_late=resources.finalize_late)
