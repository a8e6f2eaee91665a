"""What the freshness and query benchmarks share: the local stack and a running ragstream on it (both
started by the run that uses them and stopped by it), one-page documents from the PostgreSQL
manual, percentiles, and a progress bar so the terminal is not silent."""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from apps.cli.run import run_until_stopped
from apps.cli.system import ALL_COMPONENTS, Component, System, running_system
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from apps.devstack.stack import LocalStack
from bench.corpus import manual_pages
from tests.support import isolated_settings, wait_for

# About one printed page: 3,000 characters, some 450 words (four or five 200-token chunks).
PAGE_CHARS = 3000


@dataclass(frozen=True)
class Document:
    key: str
    text: str

    @property
    def body(self) -> bytes:
        return self.text.encode()


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) by the nearest-rank method: a value that was measured."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@contextlib.contextmanager
def local_stack() -> Iterator[LocalStack]:
    """Postgres, Tansu, Temporal and moto for one benchmark run, stopped (by PID) when it ends."""
    state = Path(tempfile.mkdtemp(prefix="ragstream-bench-stack-"))
    try:
        stack = LocalStack(state).start()
        try:
            yield stack
        finally:
            stack.stop()
    finally:
        shutil.rmtree(state, ignore_errors=True)


@contextlib.asynccontextmanager
async def _own_settings(stack: LocalStack, **overrides: Any) -> AsyncIterator[Settings]:
    """Settings of a run's own (bucket, topics, index, a directory removed when the block ends)."""
    directory = Path(tempfile.mkdtemp(prefix="ragstream-bench-"))
    try:
        yield await isolated_settings(stack, directory, **overrides)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.asynccontextmanager
async def running_ragstream(stack: LocalStack, **overrides: Any) -> AsyncIterator[tuple[Settings, System]]:
    """All four apps in this process on settings of their own (bucket, topics, index), as `ragstream dev`."""
    async with (
        _own_settings(stack, **overrides) as settings,
        running_system(settings, ALL_COMPONENTS) as system,
    ):
        yield settings, system


@dataclass(frozen=True)
class Deployed:
    """The process ids of ragstream's deployables in a benchmark run."""

    processors: int  # the stream processors and the API (the parser workers are its children)
    workflows: int  # the workflow worker and the intake


@contextlib.asynccontextmanager
async def running_deployables(
    stack: LocalStack, **overrides: Any
) -> AsyncIterator[tuple[Settings, Deployed]]:
    """ragstream as its deployables run it, each in a process of its own: the stream processors with
    the API (started first: the worker finds the live collection), then the workflow worker with the
    intake (they share a Temporal client, so a workflow starts on the worker beside it). Yields the
    settings and their process ids once both have started."""
    async with (
        _own_settings(stack, **overrides) as settings,
        _deployable(settings, ("api", "processors"), "ragstream-processors") as processors,
        _deployable(settings, ("worker", "intake"), "ragstream-workflows") as workflows,
    ):
        yield settings, Deployed(processors, workflows)


@contextlib.asynccontextmanager
async def _deployable(settings: Settings, components: Sequence[Component], name: str) -> AsyncIterator[int]:
    """`components` in a process of their own, yielding its id once they have started (the model
    loaded, the parser workers up); stopped by SIGTERM, which stops them cleanly, when the block ends."""
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_run_components, args=(settings, components, ready), name=name)

    async def started() -> bool:
        if not process.is_alive():
            raise RuntimeError(f"{name} exited at start (code {process.exitcode})")
        return ready.is_set()

    process.start()
    try:
        await wait_for(started, timeout=180, interval=0.1, what=f"{name} to start")
        assert process.pid is not None
        yield process.pid
    finally:
        process.terminate()
        await asyncio.to_thread(process.join, 30)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join)


def _run_components(settings: Settings, components: Sequence[Component], ready: EventType) -> None:
    """Runs in a deployable's process until SIGTERM."""
    asyncio.run(run_until_stopped(settings, components, on_started=lambda _: ready.set()))


async def put_documents(settings: Settings, documents: Sequence[Document]) -> None:
    async with s3_client(settings) as s3:
        for document in documents:
            await s3.put_object(Bucket=settings.s3_bucket, Key=document.key, Body=document.body)


class _ManualText(HTMLParser):
    """The text of a manual page without its navigation header and footer, a blank line between blocks."""

    _BLOCKS = frozenset({"p", "div", "pre", "li", "dt", "dd", "tr", "h1", "h2", "h3", "h4", "table"})

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._current: list[str] = []
        self._skipping = 0  # depth inside a skipped element (navigation, head)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if self._skipping:
            self._skipping += tag == "div"
        elif tag == "head" or (tag == "div" and ("navheader" in classes or "navfooter" in classes)):
            self._skipping = 1
        elif tag in self._BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            self._skipping -= tag in ("div", "head")
        elif tag in self._BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._current.append(data)

    def close(self) -> None:
        super().close()
        self._flush()  # the text after the last block tag

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self._current)).strip()
        if text:
            self.blocks.append(text)
        self._current = []


def page_text(html: str, chars: int = PAGE_CHARS) -> str:
    """About one page of the manual page's text: whole blocks, cut at a sentence end past `chars`."""
    parser = _ManualText()
    parser.feed(html)
    parser.close()
    text = ""
    for block in parser.blocks:
        text = f"{text}\n\n{block}" if text else block
        if len(text) >= chars:
            break
    if len(text) > chars:
        end = text.rfind(". ", 0, chars)
        text = text[: end + 1] if end > chars // 2 else text[:chars]
    return text


def one_page_documents(count: int) -> list[Document]:
    """`count` one-page text documents, each from a different page of the PostgreSQL manual (pages
    with less than 80 % of a page of text are passed over), in a fixed order."""
    documents = []
    for page in manual_pages(count * 3):
        text = page_text(page.read_text(errors="replace"))
        if len(text) >= PAGE_CHARS * 0.8:
            documents.append(Document(f"manual/{page.stem}.txt", text))
    if len(documents) < count:
        raise RuntimeError(f"the manual has {len(documents)} pages of a page of text, not {count}")
    return documents[:count]
