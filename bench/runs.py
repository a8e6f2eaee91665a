"""One round of one pipeline in the ingest benchmark: its time, documents, chunks, CPU and peak
memory (`Run`), the memory sampler, which of several rounds makes the pipeline's row, and how two
pipelines compare over the rounds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
from collections.abc import Callable, Collection, Sequence
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

    def row(self, name: str, embedder: str, of_ceiling: float) -> tuple[object, ...]:
        """Its line in the table, beside its share of the ceiling's documents/s."""
        rss = " / ".join(f"{mib:.0f}" for mib in self.peak_rss_mib.values()) or "-"
        cpu = self.cpu_ms_per_document(self.cpu_of())
        chunks = f"{self.chunks / self.documents:.1f}"
        share = f"{of_ceiling:.2f}"
        return (name, embedder, self.documents_per_second, self.chunks_per_second, chunks, share, cpu, rss)

    def cpu_ms_per_document(self, seconds: float) -> float:
        return 1000 * seconds / self.documents

    def cpu_of(self, groups: Collection[str] | None = None) -> float:
        """CPU seconds of these process groups (all of them: None)."""
        return sum(
            seconds for group, seconds in self.cpu_seconds.items() if groups is None or group in groups
        )

    def most_documents_per_second(self, cpus: int) -> float:
        """Its speed if its work kept all `cpus` busy, however it were spread."""
        return cpus * self.documents / self.cpu_of()

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


def paired_ratio(
    ours: Sequence[Run],
    theirs: Sequence[Run],
    speed: Callable[[Run], float] = lambda run: run.documents_per_second,
) -> float:
    """The median of each round's ratio of the two speeds: a round runs every pipeline back to back,
    so a slow stretch of the machine falls on both sides of its ratio."""
    return statistics.median(speed(mine) / speed(their) for mine, their in zip(ours, theirs, strict=True))
