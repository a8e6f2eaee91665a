"""CPU time by process group over a measured stretch: where a benchmark's CPU went (the apps, their
parser workers, each local server), to read beside its throughput."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psutil


def cpu_seconds(times: Any) -> float:
    """User and system time (psutil's tuples; the machine's counts every CPU)."""
    return float(times.user + times.system + getattr(times, "nice", 0.0))


@dataclass(frozen=True)
class Group:
    """Processes whose CPU counts as one line; with `descendants`, their children's too (a server's
    workers and connections, those that ended included)."""

    name: str
    pids: Sequence[int]
    descendants: bool = False

    def seconds(self) -> float:
        total = 0.0
        for pid in self.pids:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                times = process.cpu_times()
                total += cpu_seconds(times)
                if self.descendants:
                    total += times.children_user + times.children_system
                    total += sum(self._tree_seconds(child) for child in process.children())
        return total

    def _tree_seconds(self, process: psutil.Process) -> float:
        with contextlib.suppress(psutil.Error):
            return cpu_seconds(process.cpu_times()) + sum(
                self._tree_seconds(child) for child in process.children()
            )
        return 0.0


@dataclass
class CpuLedger:
    """CPU seconds each group used between `start()` and `stop()`."""

    groups: Sequence[Group]
    used: dict[str, float] = field(default_factory=dict)
    _before: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self._before = {group.name: group.seconds() for group in self.groups}

    def stop(self) -> None:
        self.used = {group.name: group.seconds() - self._before[group.name] for group in self.groups}
