"""LlamaIndex's runs in the ingest benchmark: its IngestionPipeline (`bench.llama_baseline`) with
unstructured called as ragstream calls it, at its best `num_workers`, and with unstructured's
defaults in a process of its own; each timed, with the CPU of its process and workers."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench import llama_baseline, report
from bench.cpu import CpuLedger, Group
from bench.runs import POLICY, Run

LLAMA_INDEX = "LlamaIndex IngestionPipeline"
TUNED_CALLS = "unstructured as ragstream calls it"
DEFAULT_CALLS = "unstructured's defaults"


def llama_index(model: str, pages: list[Path], servers: Collection[int]) -> tuple[Run, int | None]:
    """LlamaIndex's pipeline with unstructured called as ragstream calls it, at its best
    `num_workers` (None, or one per CPU); and that num_workers."""
    llama_baseline.prepare(llama_baseline.TUNED)
    best: tuple[Run, int | None] | None = None
    for workers in (None, os.cpu_count() or 2):
        # This process (LlamaIndex runs in one of its threads) and the workers it starts; not the
        # local stack's servers, also this process's children.
        ledger = CpuLedger([Group("LlamaIndex", [os.getpid()], descendants=True, excluded=servers)])
        ledger.start()
        try:
            seconds, chunks = llama_baseline.ingest(model, pages, POLICY, workers=workers)
        except Exception as exc:  # report, and keep the mode that works
            report.console.print(f"LlamaIndex with num_workers={workers} failed: {type(exc).__name__}: {exc}")
            continue
        ledger.stop()
        run = Run(seconds, len(pages), chunks, cpu_seconds=ledger.used)
        report.console.print(f"LlamaIndex num_workers={workers}: {len(pages) / seconds:.2f} documents/s")
        if best is None or run.seconds < best[0].seconds:
            best = run, workers
    if best is None:
        raise RuntimeError("LlamaIndex's pipeline failed with every num_workers")
    return best


def llama_index_with_defaults(model: str, pages: list[Path], workers: int | None) -> Run:
    """LlamaIndex's pipeline with unstructured's defaults (as its UnstructuredReader calls it), at
    `workers`, in a process of its own: this one's unstructured has ragstream's set-up. The model and
    the parser are loaded before the clock starts, as they are for the other pipelines."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        child = pool.submit(os.getpid).result()
        pool.submit(llama_baseline.warm_up, model, llama_baseline.DEFAULTS, pages[0]).result()
        ledger = CpuLedger([Group("LlamaIndex", [child], descendants=True)])
        ledger.start()
        seconds, chunks = pool.submit(
            llama_baseline.ingest, model, pages, POLICY, workers=workers, parser=llama_baseline.DEFAULTS
        ).result()
        ledger.stop()
    speed = len(pages) / seconds
    report.console.print(f"LlamaIndex with {DEFAULT_CALLS}, num_workers={workers}: {speed:.2f} documents/s")
    return Run(seconds, len(pages), chunks, cpu_seconds=ledger.used)
