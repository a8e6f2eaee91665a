"""Parsing and chunking in a pool of worker processes, each document within a time limit.

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

from apps.common.tokenizer import encoding
from apps.stream_processors.chunking import ChunkingPolicy, chunk_elements
from apps.stream_processors.partitioning import UnparseableDocument, configure_offline, partition_document
from apps.stream_processors.stage import DocumentError
from schemas.events import Chunk, DocumentReady

log = logging.getLogger(__name__)


def _worker_init() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_offline()


def _warm_up() -> None:
    """Load the parser's models and the tokenizer (~0.3 s of CPU) before the first document."""
    partition_document(b"Warm up. This loads the parser's models once.", "warm-up.txt", "text/plain")
    encoding()


def parse_and_chunk(data: bytes, filename: str, content_type: str, policy: ChunkingPolicy) -> list[Chunk]:
    """Runs in a worker: partition the document, then chunk its elements."""
    try:
        elements = partition_document(data, filename, content_type)
    except UnparseableDocument as exc:
        raise DocumentError(str(exc)) from None
    return chunk_elements(elements, policy)


class DocumentParser:
    def __init__(self, *, workers: int = 1, timeout: float = 300.0) -> None:
        self.timeout = timeout
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
        await asyncio.gather(*(loop.run_in_executor(pool, _warm_up) for _ in range(self._workers)))

    async def chunk(self, data: bytes, event: DocumentReady, policy: ChunkingPolicy) -> list[Chunk]:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._executor(), parse_and_chunk, data, event.filename, event.content_type, policy
        )
        try:
            chunks = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            self._replace_pool()
            raise DocumentError(
                f"parsing took longer than {self.timeout:.0f}s (RAGSTREAM_PARSE_TIMEOUT); split the document"
            ) from None
        except BrokenProcessPool:
            self._replace_pool()
            raise DocumentError("the parser crashed on this document (out of memory?)") from None
        if not chunks:
            raise DocumentError("the document holds no text")
        return chunks

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
