"""Parsing and chunking in a pool of worker processes: chunk batches stream back while a document is
parsed, each document within a time limit that grows with its size, and it fails when its chunks hold
too little of its text.

`unstructured` is CPU-bound Python: in worker processes it neither blocks the event loop
nor competes with it for the GIL. A worker puts each batch on a queue the moment it is full, so a
big document's first chunks are embedded while the rest is parsed, and no process holds all of
them. A document that exceeds its time limit, or crashes its worker, fails alone: the pool is
replaced and the next document parses as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import queue
import signal
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from typing import Any

from apps.common.tokenizer import encoding
from apps.stream_processors.batching import message_batches
from apps.stream_processors.chunking import ChunkingPolicy, iter_chunks
from apps.stream_processors.coverage import share_of, word_counts
from apps.stream_processors.partitioning import UnparseableDocument, configure_offline, partition_document
from apps.stream_processors.stage import DocumentError
from schemas.events import Chunk, DocumentReady

log = logging.getLogger(__name__)


# Where a worker puts the batches of the document it parses: (task, batch), then (task, None) at its end.
_batches: Queue[tuple[int, ParsedBatch | None]] | None = None


def _worker_init(batches: Queue[tuple[int, ParsedBatch | None]] | None = None) -> None:
    """Each worker, as it starts and before any task: it loads the parser's models and the tokenizer
    (~0.3 s of CPU) itself, whichever tasks it then takes."""
    global _batches
    _batches = batches
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
class ParsedBatch:
    """One message's worth of a document's chunks; the last one also says how much of the document's
    words they all hold."""

    chunks: list[Chunk]
    last: bool = False
    coverage: float | None = None


@dataclass(frozen=True)
class ParsedDocument:
    chunks: list[Chunk]
    coverage: float
    """The share of the document's words that its chunks hold."""


def stream_document(
    data: bytes,
    filename: str,
    content_type: str,
    policy: ChunkingPolicy,
    emit: Callable[[ParsedBatch], None],
    min_coverage: float = MIN_COVERAGE,
) -> None:
    """Partition the document and chunk its elements, emitting each batch as it fills; the last one,
    held back until the words kept are measured, goes out only if they are enough."""
    try:
        extraction = partition_document(data, filename, content_type)
        found: Counter[str] = Counter()
        held: list[Chunk] | None = None
        for batch in message_batches(iter_chunks(extraction.elements, policy)):
            found.update(word_counts(c.text for c in batch))
            if held is not None:
                emit(ParsedBatch(held))
            held = batch
        coverage = share_of(word_counts([extraction.reference]), found)
    except UnparseableDocument as exc:
        raise DocumentError(str(exc)) from None
    if held is None:
        raise DocumentError("the document holds no text")
    if coverage < min_coverage:
        raise DocumentError(
            f"parsing kept only {coverage:.1%} of the document's words, under the "
            f"{min_coverage:.0%} required (RAGSTREAM_MIN_PARSE_COVERAGE): indexing it would lose "
            "the rest silently; convert it to another format or report the file"
        )
    emit(ParsedBatch(held, last=True, coverage=round(coverage, 4)))


def parse_document(
    data: bytes, filename: str, content_type: str, policy: ChunkingPolicy, min_coverage: float = MIN_COVERAGE
) -> ParsedDocument:
    """The document's chunks and coverage, all at once, in this process."""
    batches: list[ParsedBatch] = []
    stream_document(data, filename, content_type, policy, batches.append, min_coverage)
    return ParsedDocument([c for b in batches for c in b.chunks], batches[-1].coverage or 0.0)


def parse_and_chunk(data: bytes, filename: str, content_type: str, policy: ChunkingPolicy) -> list[Chunk]:
    """The chunks `parse_document` makes of a document, as ingestion indexes them."""
    return parse_document(data, filename, content_type, policy).chunks


def _stream_in_worker(
    task: int, data: bytes, filename: str, content_type: str, policy: ChunkingPolicy, min_coverage: float
) -> None:
    """Runs in a worker: the document's batches onto the queue, then its end (after an error too)."""
    assert _batches is not None, "the worker was started without its queue"
    out = _batches
    try:
        stream_document(data, filename, content_type, policy, lambda b: out.put((task, b)), min_coverage)
    finally:
        out.put((task, None))


@dataclass
class _Pool:
    """A worker pool, the queue its workers put batches on, and the thread that hands each batch to
    the document it belongs to."""

    executor: ProcessPoolExecutor
    batches: Queue[tuple[int, ParsedBatch | None]]
    streams: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue[ParsedBatch | None]]] = field(
        default_factory=dict
    )
    stopping: threading.Event = field(default_factory=threading.Event)

    def start_relay(self) -> None:
        threading.Thread(target=self._relay, name="parse-batches", daemon=True).start()

    def _relay(self) -> None:
        while not self.stopping.is_set():
            try:
                task, batch = self.batches.get(timeout=0.5)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            target = self.streams.get(task)
            if target is not None:
                loop, stream = target
                with contextlib.suppress(RuntimeError):  # its loop is closed: nobody is waiting
                    loop.call_soon_threadsafe(stream.put_nowait, batch)


class DocumentParser:
    def __init__(
        self,
        *,
        workers: int = 1,
        timeout: float = 300.0,
        timeout_per_mib: float = 60.0,
        min_coverage: float = MIN_COVERAGE,
    ) -> None:
        self.timeout = timeout
        self.timeout_per_mib = timeout_per_mib
        self.min_coverage = min_coverage
        self._workers = workers
        self._pool: _Pool | None = None
        self._tasks = 0

    def _executor(self) -> ProcessPoolExecutor:
        return self._current().executor

    def _current(self) -> _Pool:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            batches: Queue[tuple[int, ParsedBatch | None]] = context.Queue()
            executor = ProcessPoolExecutor(
                max_workers=self._workers, mp_context=context, initializer=_worker_init, initargs=(batches,)
            )
            self._pool = _Pool(executor, batches)
            self._pool.start_relay()
        return self._pool

    def time_limit(self, size: int) -> float:
        """Seconds a document of `size` bytes may take: the base limit and more per MiB."""
        return self.timeout + self.timeout_per_mib * size / (1024 * 1024)

    async def start(self) -> None:
        """Start the workers and load their models, so the first document is not slow."""
        loop = asyncio.get_running_loop()
        pool = self._executor()
        await asyncio.gather(*(loop.run_in_executor(pool, _started) for _ in range(self._workers)))

    async def parse(
        self, data: bytes, event: DocumentReady, policy: ChunkingPolicy
    ) -> AsyncIterator[ParsedBatch]:
        """The document's batches as the worker makes them; the last one has `last` set."""
        pool = self._current()
        self._tasks += 1
        task = self._tasks
        loop = asyncio.get_running_loop()
        stream: asyncio.Queue[ParsedBatch | None] = asyncio.Queue()
        pool.streams[task] = (loop, stream)
        limit = self.time_limit(len(data))
        deadline = loop.time() + limit
        done: Future[None] = pool.executor.submit(
            _stream_in_worker, task, data, event.filename, event.content_type, policy, self.min_coverage
        )
        finished = asyncio.wrap_future(done)
        try:
            while True:
                batch = await self._next(stream, finished, deadline - loop.time())
                if batch is None:
                    break
                yield batch
            await finished  # the worker's error, if it raised one
        except TimeoutError:
            self._replace_pool()
            raise DocumentError(
                f"parsing took longer than {limit:.0f}s, the limit for {len(data) / (1024 * 1024):.1f} MiB"
                " (RAGSTREAM_PARSE_TIMEOUT and RAGSTREAM_PARSE_TIMEOUT_PER_MIB); split the document"
            ) from None
        except BrokenProcessPool:
            self._replace_pool()
            raise DocumentError("the parser crashed on this document (out of memory?)") from None
        finally:
            pool.streams.pop(task, None)
            if not finished.done():
                finished.cancel()

    @staticmethod
    async def _next(
        stream: asyncio.Queue[ParsedBatch | None], finished: asyncio.Future[None], timeout: float
    ) -> ParsedBatch | None:
        """The next batch; None at the document's end. A crashed worker never ends its stream: its
        task's error is raised instead."""
        getting = asyncio.ensure_future(stream.get())
        try:
            waited: set[asyncio.Future[Any]] = {getting, finished}
            await asyncio.wait(waited, timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED)
            if getting.done():
                return getting.result()
            if finished.done() and isinstance(finished.exception(), BrokenProcessPool):
                finished.result()
            if finished.done():
                # It ended, or raised: what it sent before is still on its way through the queue.
                return await asyncio.wait_for(asyncio.shield(getting), max(timeout, 0))
            raise TimeoutError
        finally:
            if not getting.done():
                getting.cancel()

    def _replace_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        pool.stopping.set()
        for process in list(getattr(pool.executor, "_processes", {}).values()):
            process.kill()
        pool.executor.shutdown(wait=False, cancel_futures=True)
        log.warning("replaced the parser pool")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stopping.set()
            self._pool.executor.shutdown(wait=True, cancel_futures=True)
            self._pool.batches.close()
            self._pool = None
