"""Reindex by replay: a new collection generation is built by reading a topic from its beginning
under a consumer group of its own, with the generation's chunking and embedding model.

`document.ready` re-parses every document; `document.chunked` only re-embeds its chunks. Only
each live document's indexed version lands (older versions, deletions and documents deleted
or failed since are skipped); nothing is signalled and no document status changes. Once every
live document is in the new generation, the alias switches to it, atomically; the replay keeps
following the topic a little longer, for documents that arrived meanwhile. The old generation
stays until dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker
from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential

from apps.common import generations
from apps.common.embeddings import Embedder
from apps.common.kafka import consumer_options
from apps.stream_processors import progress
from apps.stream_processors.app import Resources
from apps.stream_processors.chunking import ChunkingPolicy
from apps.stream_processors.embed import embed
from apps.stream_processors.parse import parse
from apps.stream_processors.parsing import ParsedBatch
from apps.stream_processors.upsert import upsert
from schemas.events import DocumentChunked, DocumentEmbedded, DocumentReady, DocumentRef
from schemas.generations import Generation
from schemas.topics import DOCUMENT_READY

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
STALE_AFTER_SECONDS = 30.0
CATCH_UP_SECONDS = 30.0


@dataclass
class Replay:
    """Builds one generation; `run` returns when it is live (or raises, and it is marked failed)."""

    generation: Generation
    resources: Resources
    broker: KafkaBroker
    error: str | None = None

    @property
    def _embedder(self) -> Embedder:
        return self.resources.embedders.get(self.generation.embedding_model)

    async def _indexed_version(self, event: DocumentRef) -> str | None:
        """The version of the event's document to index, if this event carries it; else None."""
        row = await progress.indexed_state(self.resources.pool, event.document_id)
        if (
            row is None
            or row["status"] in ("deleted", "failed")
            or row["collection"] != self.generation.alias
        ):
            return None
        wanted = row["indexed_version"] or row["version"]
        return str(wanted) if event.version == wanted else None

    async def _write(self, chunked: list[DocumentChunked]) -> None:
        async def record(event: DocumentEmbedded, collection: str) -> progress.WrittenVersion | None:
            return await progress.record_batch(self.resources.pool, event, collection)

        async def embedder_for(_: DocumentChunked) -> Embedder:
            return self._embedder

        for event in await embed(chunked, embedder_for=embedder_for):
            await upsert(event, store=self.resources.store, record_batch=record)

    async def replay_ready(self, event: DocumentReady) -> None:
        await self._retrying(self._replay_ready, event)

    async def replay_chunked(self, event: DocumentChunked) -> None:
        await self._retrying(self._replay_chunked, event)

    async def _retrying(self, work: Callable[[Any], Awaitable[None]], event: DocumentRef) -> None:
        """Retry a message a few times; past that, fail the generation (not the document)."""
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(3), wait=wait_exponential(0.5), reraise=True
            ):
                with attempt:
                    await work(event)
        except Exception as exc:
            log.exception("replaying document %s into %s failed", event.document_id, self.generation.name)
            self.error = f"document {event.document_id}: {type(exc).__name__}: {exc}"

    async def _replay_ready(self, event: DocumentReady) -> None:
        if event.operation == "delete" or await self._indexed_version(event) is None:
            return
        target = event.model_copy(update={"collection": self.generation.name})
        policy = ChunkingPolicy(size=self.generation.chunk_size, overlap=self.generation.chunk_overlap)

        async def parse_document(data: bytes, ready: DocumentReady) -> AsyncIterator[ParsedBatch]:
            async for batch in self.resources.parser.parse(data, ready, policy):
                yield batch

        async for chunked in parse(target, download=self.resources.download, parse_document=parse_document):
            await self._write([chunked])

    async def _replay_chunked(self, event: DocumentChunked) -> None:
        if event.operation == "delete" or await self._indexed_version(event) is None:
            return
        await self._write([event.model_copy(update={"collection": self.generation.name})])

    async def _progress(self) -> tuple[int, int]:
        if self.error is not None:
            raise RuntimeError(self.error)
        total, done, chunks = await progress.generation_progress(
            self.resources.pool, self.generation.name, self.generation.alias
        )
        await generations.report_progress(
            self.resources.pool, self.generation.name, total=total, done=done, chunks=chunks
        )
        return total, done

    async def run(self) -> None:
        settings = self.resources.settings
        await self.resources.store.ensure_collection(self.generation.name, self.generation.dimensions)
        source = settings.topic(self.generation.source)
        subscriber = self.broker.subscriber(
            source,
            group_id=settings.consumer_group(f"replay.{self.generation.name}"),
            **consumer_options(settings),
        )
        subscriber(self.replay_ready if self.generation.source == DOCUMENT_READY else self.replay_chunked)
        await subscriber.start()
        log.info("building %s by replaying %s", self.generation.name, source)
        try:
            while True:
                total, done = await self._progress()
                if done >= total:
                    break
                await asyncio.sleep(POLL_SECONDS)
            await self.resources.store.set_alias(self.generation.alias, self.generation.name)
            await generations.switch_live(self.resources.pool, self.generation.name)
            log.info("%s is live (%d documents)", self.generation.name, total)
            # Documents published just before the switch went to the previous generation: follow
            # the topic until they are here too.
            deadline = time.monotonic() + CATCH_UP_SECONDS
            while time.monotonic() < deadline:
                total, done = await self._progress()
                if done >= total:
                    break
                await asyncio.sleep(POLL_SECONDS)
        finally:
            await subscriber.stop()


class ReplayCoordinator:
    """Picks up requested generations (and ones whose builder died) and builds them, one at a time."""

    def __init__(self, resources: Resources, broker: KafkaBroker) -> None:
        self.resources = resources
        self.broker = broker

    async def run(self) -> None:
        while True:
            generation = await generations.claim(self.resources.pool, stale_after_seconds=STALE_AFTER_SECONDS)
            if generation is None:
                await asyncio.sleep(POLL_SECONDS)
                continue
            try:
                await Replay(generation, self.resources, self.broker).run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("building %s failed", generation.name)
                with contextlib.suppress(Exception):
                    await generations.set_status(
                        self.resources.pool, generation.name, "failed", error=f"{type(exc).__name__}: {exc}"
                    )
