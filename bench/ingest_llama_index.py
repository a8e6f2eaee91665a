"""LlamaIndex's runs in the ingest benchmark: its IngestionPipeline (`bench.llama_baseline`) with
ragstream's parser, at its best `num_workers`, and with unstructured's defaults; each in a process
of its own (set up for its parser, the model and the parser loaded before the clock starts), timed,
with the CPU and peak memory of its process and workers."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench import llama_baseline, report
from bench.cpu import CpuLedger, Group
from bench.runs import POLICY, PeakRss, Run, child_pids, process_of_its_own

LLAMA_INDEX = "LlamaIndex IngestionPipeline"
TUNED_CALLS = "ragstream's parser"
DEFAULT_CALLS = "unstructured's defaults"
# The num_workers LlamaIndex's pipeline is tried with: in its own process, or one worker per CPU.
NUM_WORKERS = (None, os.cpu_count() or 2)


def llama_index(model: str, pages: list[Path], choices: Sequence[int | None]) -> tuple[Run, int | None]:
    """LlamaIndex's pipeline with ragstream's parser, at the best of the
    `num_workers` `choices` (each tried in turn); and that num_workers."""
    best: tuple[Run, int | None] | None = None
    parser = llama_baseline.TUNED
    with process_of_its_own(llama_baseline.warm_up, model, parser, pages[0]) as (pool, child):
        for workers in choices:
            try:
                run = _timed(pool, child, model, pages, workers, parser)
            except Exception as exc:  # report, and keep the mode that works
                report.console.print(
                    f"LlamaIndex with num_workers={workers} failed: {type(exc).__name__}: {exc}"
                )
                continue
            report.console.print(
                f"LlamaIndex num_workers={workers}: {run.documents_per_second:.2f} documents/s"
            )
            if best is None or run.seconds < best[0].seconds:
                best = run, workers
    if best is None:
        raise RuntimeError("LlamaIndex's pipeline failed with every num_workers")
    return best


def llama_index_with_defaults(model: str, pages: list[Path], workers: int | None) -> Run:
    """LlamaIndex's pipeline with unstructured's defaults (as its UnstructuredReader calls it), at
    `workers`."""
    parser = llama_baseline.DEFAULTS
    with process_of_its_own(llama_baseline.warm_up, model, parser, pages[0]) as (pool, child):
        run = _timed(pool, child, model, pages, workers, parser)
    report.console.print(
        f"LlamaIndex with {DEFAULT_CALLS}, num_workers={workers}: {run.documents_per_second:.2f} documents/s"
    )
    return run


def _timed(
    pool: ProcessPoolExecutor,
    child: int,
    model: str,
    pages: list[Path],
    workers: int | None,
    parser: llama_baseline.Parser,
) -> Run:
    """One run in LlamaIndex's process, with the CPU of the process and its workers, and its peak
    memory."""
    ledger = CpuLedger([Group("LlamaIndex", [child], descendants=True)])
    processes: dict[str, Collection[int] | Callable[[], Collection[int]]] = {
        "LlamaIndex": [child],
        "worker": lambda: child_pids(child) if workers else set(),
    }
    with PeakRss(processes) as rss:
        ledger.start()
        seconds, chunks = pool.submit(
            llama_baseline.ingest, model, pages, POLICY, workers=workers, parser=parser
        ).result()
        ledger.stop()
    return Run(seconds, len(pages), chunks, peak_rss_mib=rss.mib, cpu_seconds=ledger.used)
