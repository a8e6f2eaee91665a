"""The ingest benchmark's ceiling: the embedder alone on ragstream's chunks of the pages, in a process
of its own as each pipeline is, so that the benchmark's own work (its progress bars, the pages it
holds) is not charged to it. The chunks go over in batches, which keeps the progress bar here."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from apps.common.embeddings import Embedder, Embedders
from apps.common.settings import Settings
from bench import report
from bench.cpu import CpuLedger, Group
from bench.runs import PeakRss, Run, process_of_its_own

BATCH = 64
EMBEDDER_PROCESS = "the embedder's process"


@dataclass
class _Loaded:
    embedder: Embedder
    loop: asyncio.AbstractEventLoop


_loaded: list[_Loaded] = []  # in the embedder's process: its model, once loaded


def _load(model: str) -> None:
    """In the embedder's process: load the model and run it once."""
    loop = asyncio.new_event_loop()
    embedder = Embedders(Settings(_env_file=None)).get(model)
    loop.run_until_complete(embedder.warm_up())
    _loaded.append(_Loaded(embedder, loop))


def _embed(texts: list[str]) -> int:
    """In the embedder's process: embed one batch; returns how many vectors it made."""
    loaded = _loaded[0]
    return len(loaded.loop.run_until_complete(loaded.embedder.embed(texts)))


@dataclass
class EmbedderAlone:
    """The embedder loaded in a process of its own."""

    model: str
    pool: ProcessPoolExecutor
    pid: int

    def run(self, chunked: list[list[str]]) -> Run:
        """Embed every page's chunks, a batch at a time; the process's CPU time and peak memory."""
        texts = [text for page in chunked for text in page]
        ledger = CpuLedger([Group(EMBEDDER_PROCESS, [self.pid])])
        with PeakRss({"embedder alone": [self.pid]}) as rss, report.progress() as progress:
            task = progress.add_task(f"{self.model} alone", total=len(texts))
            ledger.start()
            started = time.perf_counter()
            embedded = 0
            for start in range(0, len(texts), BATCH):
                made = self.pool.submit(_embed, texts[start : start + BATCH]).result()
                embedded += made
                progress.advance(task, made)
            seconds = time.perf_counter() - started
            ledger.stop()
        return Run(seconds, len(chunked), embedded, peak_rss_mib=rss.mib, cpu_seconds=ledger.used)


@contextlib.contextmanager
def embedder_alone(model: str) -> Iterator[EmbedderAlone]:
    """A process of its own with `model` loaded (before any clock starts)."""
    with process_of_its_own(_load, model) as (pool, pid):
        yield EmbedderAlone(model, pool, pid)
