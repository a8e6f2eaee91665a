"""Parsing and chunking in a pool of worker processes, each document within a time limit, and
failed when its chunks hold too little of its text.

`unstructured` is CPU-bound Python: in worker processes it neither blocks the event loop
nor competes with it for the GIL. A document that exceeds the time limit, or crashes its
worker, fails alone: the pool is replaced and the next document parses as usual.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from apps.common.tokenizer import encoding
from apps.stream_processors.chunking import ChunkingPolicy, chunk_elements
from apps.stream_processors.coverage import kept_share
from apps.stream_processors.partitioning import UnparseableDocument, configure_offline, partition_document
from apps.stream_processors.stage import DocumentError
from schemas.events import Chunk, DocumentReady

log = logging.getLogger(__name__)


def _worker_init() -> None:
    """Each worker, as it starts and before any task: it loads the parser's models and the tokenizer
    (~0.3 s of CPU) itself, whichever tasks it then takes."""
    # Ctrl-C in a terminal reaches the whole process group: the parent shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_offline()
    partition_document(b"Warm up. This loads the parser's models once.", "warm-up.txt", "text/plain")
    encoding()


def _started() -> None:
    """A task that does nothing: submitting one per worker has the pool start them all now."""


# The share of a document's words its chunks must hold (RAGSTREAM_MIN_PARSE_COVERAGE).
MIN_COVERAGE = 0.9


@dataclass(frozen=True)
class ParsedDocument:
    chunks: list[Chunk]
    coverage: float
    """The share of the document's words that its chunks hold."""


def parse_document(
    data: bytes, filename: str, content_type: str, policy: ChunkingPolicy, min_coverage: float = MIN_COVERAGE
) -> ParsedDocument:
    """Runs in a worker: partition the document, chunk its elements, and measure what they kept."""
    try:
        extraction = partition_document(data, filename, content_type)
    except UnparseableDocument as exc:
        raise DocumentError(str(exc)) from None
    chunks = chunk_elements(extraction.elements, policy)
    coverage = kept_share(extraction.reference, (c.text for c in chunks))
    if coverage < min_coverage:
        raise DocumentError(
            f"parsing kept only {coverage:.1%} of the document's words, under the "
            f"{min_coverage:.0%} required (RAGSTREAM_MIN_PARSE_COVERAGE): indexing it would lose "
            "the rest silently; convert it to another format or report the file"
        )
    return ParsedDocument(chunks, round(coverage, 4))


def parse_and_chunk(data: bytes, filename: str, content_type: str, policy: ChunkingPolicy) -> list[Chunk]:
    """The chunks `parse_document` makes of a document, as ingestion indexes them."""
    return parse_document(data, filename, content_type, policy).chunks


class DocumentParser:
    def __init__(
        self, *, workers: int = 1, timeout: float = 300.0, min_coverage: float = MIN_COVERAGE
    ) -> None:
        self.timeout = timeout
        self.min_coverage = min_coverage
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )
        return self._pool

    async def start(self) -> None:
        """Start the workers and load their models, so the first document is not slow."""
        loop = asyncio.get_running_loop()
        pool = self._executor()
        await asyncio.gather(*(loop.run_in_executor(pool, _started) for _ in range(self._workers)))

    async def parse(self, data: bytes, event: DocumentReady, policy: ChunkingPolicy) -> ParsedDocument:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._executor(),
            parse_document,
            data,
            event.filename,
            event.content_type,
            policy,
            self.min_coverage,
        )
        try:
            parsed = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            self._replace_pool()
            raise DocumentError(
                f"parsing took longer than {self.timeout:.0f}s (RAGSTREAM_PARSE_TIMEOUT); split the document"
            ) from None
        except BrokenProcessPool:
            self._replace_pool()
            raise DocumentError("the parser crashed on this document (out of memory?)") from None
        if not parsed.chunks:
            raise DocumentError("the document holds no text")
        return parsed

    def _replace_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        log.warning("replaced the parser pool")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
