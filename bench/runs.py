"""One round of one pipeline in the ingest benchmark: its time, documents, chunks, CPU and peak
memory (`Run`), the memory sampler, and which of several rounds makes the pipeline's row."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import psutil

from apps.stream_processors.chunking import ChunkingPolicy

# The splitter settings of every pipeline in the ingest benchmark: tokens a chunk, and overlap.
POLICY = ChunkingPolicy(size=200, overlap=30)


@dataclass
class Run:
    seconds: float
    documents: int
    chunks: int
    peak_rss_mib: dict[str, float] = field(default_factory=dict)  # by process: the largest of its group
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # by process group

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds

    @property
    def documents_per_second(self) -> float:
        return self.documents / self.seconds

    def row(self, name: str, embedder: str, ceiling: Run | None) -> tuple[object, ...]:
        """Its share of the ceiling is by documents: the pipelines may cut the pages into other chunks."""
        share = f"{self.documents_per_second / ceiling.documents_per_second:.2f}" if ceiling else "1.00"
        rss = " / ".join(f"{mib:.0f}" for mib in self.peak_rss_mib.values()) or "-"
        cpu = self.cpu_ms_per_document(self.cpu_of())
        chunks = f"{self.chunks / self.documents:.1f}"
        return (name, embedder, self.documents_per_second, self.chunks_per_second, chunks, share, cpu, rss)

    def cpu_ms_per_document(self, seconds: float) -> float:
        return 1000 * seconds / self.documents

    def cpu_of(self, groups: Collection[str] | None = None) -> float:
        """CPU seconds of these process groups (all of them: None)."""
        return sum(
            seconds for group, seconds in self.cpu_seconds.items() if groups is None or group in groups
        )

    def most_documents_per_second(self, cpus: int, groups: Collection[str] | None = None) -> float:
        """Its speed if its work (the CPU time of `groups`, all if None) kept all `cpus` busy, however
        it were spread."""
        return cpus * self.documents / self.cpu_of(groups)

    def cpu_note(self, name: str) -> str:
        """Where the run's CPU went, a document at a time, and how busy it kept the machine."""
        groups = ", ".join(
            f"{group} {self.cpu_ms_per_document(seconds):.1f}" for group, seconds in self.cpu_seconds.items()
        )
        busy = 100 * self.cpu_of() / (self.seconds * (os.cpu_count() or 1))
        return f"{name}: CPU ms a document: {groups}; the machine's CPUs {busy:.0f}% busy."


class PeakRss:
    """Samples the resident memory of each group's processes; keeps the largest seen in each group."""

    def __init__(self, groups: dict[str, Collection[int]]) -> None:
        self._groups = groups
        self.mib = dict.fromkeys(groups, 0.0)
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            for name, pids in self._groups.items():
                for pid in pids:
                    with contextlib.suppress(psutil.Error):
                        self.mib[name] = max(self.mib[name], psutil.Process(pid).memory_info().rss / 2**20)
            await asyncio.sleep(0.2)

    def __enter__(self) -> PeakRss:
        self._task = asyncio.get_running_loop().create_task(self._sample())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task:
            self._task.cancel()


def median_run(runs: Sequence[Run]) -> Run:
    """The run of median speed; of the two in the middle, the slower."""
    ordered = sorted(runs, key=lambda run: run.documents_per_second)
    return ordered[(len(ordered) - 1) // 2]
