"""One round of one pipeline in the ingest benchmark: its time, documents, chunks, CPU and peak
memory (`Run`), the memory sampler, which of several rounds makes the pipeline's row, and how two
pipelines compare over the rounds."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import statistics
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
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


@contextlib.contextmanager
def process_of_its_own(
    prepare: Callable[..., object], *args: object
) -> Iterator[tuple[ProcessPoolExecutor, int]]:
    """A spawned process for one pipeline (or the uploader), so that its time, CPU and memory are its
    own; `prepare(*args)` runs in it first (its imports, its model), before any clock starts. Yields it
    and its process id."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(prepare, *args).result()
        yield pool, pool.submit(os.getpid).result()


def child_pids(pid: int) -> set[int]:
    """The ids of the process's children (none, if it has ended)."""
    with contextlib.suppress(psutil.Error):
        return {child.pid for child in psutil.Process(pid).children()}
    return set()


class PeakRss:
    """Samples, in a thread of its own, the resident memory of each group's processes (a group's pids,
    or a function that finds them now: workers come and go); keeps the largest seen in each group.
    Groups with no process seen are left out."""

    def __init__(self, groups: Mapping[str, Collection[int] | Callable[[], Collection[int]]]) -> None:
        self._groups = groups
        self._largest = dict.fromkeys(groups, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)

    @property
    def mib(self) -> dict[str, float]:
        return {name: mib for name, mib in self._largest.items() if mib}

    def _sample(self) -> None:
        while True:
            for name, pids in self._groups.items():
                for pid in pids() if callable(pids) else pids:
                    with contextlib.suppress(psutil.Error):
                        rss = psutil.Process(pid).memory_info().rss / 2**20
                        self._largest[name] = max(self._largest[name], rss)
            if self._stop.wait(0.2):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def median_run(runs: Sequence[Run]) -> Run:
    """The run of median speed; of the two in the middle, the slower."""
    ordered = sorted(runs, key=lambda run: run.documents_per_second)
    return ordered[(len(ordered) - 1) // 2]


def _documents_per_second(run: Run) -> float:
    return run.documents_per_second


def round_ratios(
    ours: Sequence[Run], theirs: Sequence[Run], speed: Callable[[Run], float] = _documents_per_second
) -> list[float]:
    """Each round's ratio of the two speeds: a round runs every pipeline back to back, so a slow
    stretch of the machine falls on both sides of its ratio."""
    return [speed(mine) / speed(their) for mine, their in zip(ours, theirs, strict=True)]


def paired_ratio(
    ours: Sequence[Run], theirs: Sequence[Run], speed: Callable[[Run], float] = _documents_per_second
) -> float:
    """The median of the rounds' own ratios."""
    return statistics.median(round_ratios(ours, theirs, speed))
