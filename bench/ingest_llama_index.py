"""LlamaIndex's runs in the ingest benchmark: its IngestionPipeline (`bench.llama_baseline`) with
ragstream's parser, at its best `num_workers`, given ragstream's embedder or its own
HuggingFaceEmbedding; and with unstructured's defaults. Each in a process of its own (set up for its
parser, the model and the parser loaded before the clock starts), timed, with the CPU and peak
memory of its process and workers."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from apps.common.local_encoders import runtime_of
from bench import llama_baseline, report
from bench.cpu import CpuLedger, Group
from bench.llama_baseline import HUGGING_FACE, RAGSTREAM, Embedding
from bench.runs import POLICY, PeakRss, Run, child_pids, process_of_its_own

LLAMA_INDEX = "LlamaIndex IngestionPipeline"
TUNED_CALLS = "ragstream's parser"
DEFAULT_CALLS = "unstructured's defaults"
HUGGING_FACE_EMBEDDING = "HuggingFaceEmbedding"
# The num_workers LlamaIndex's pipeline is tried with: in its own process, or one worker per CPU.
NUM_WORKERS = (None, os.cpu_count() or 2)


def embedder_name(model: str, embedding: Embedding = RAGSTREAM) -> str:
    """The embedder as the table names it: the model, its runtime said where the name does not, and
    LlamaIndex's own class when it is the one that runs it."""
    name = f"{model} (torch)" if runtime_of(model) == "torch" else model
    return f"{HUGGING_FACE_EMBEDDING}, {name}" if embedding == HUGGING_FACE else name


def llama_index(
    model: str, pages: list[Path], choices: Sequence[int | None], embedding: Embedding = RAGSTREAM
) -> tuple[Run, int | None]:
    """LlamaIndex's pipeline with ragstream's parser and the `embedding` of `model`, at the best of
    the `num_workers` `choices` (each tried in turn); and that num_workers."""
    best: tuple[Run, int | None] | None = None
    parser = llama_baseline.TUNED
    name = embedder_name(model, embedding)
    report.console.print(f"{LLAMA_INDEX} ({TUNED_CALLS}, {name}): loading the parser and the model")
    with process_of_its_own(llama_baseline.warm_up, model, parser, embedding, pages[0]) as (pool, child):
        for workers in choices:
            try:
                run = _timed(pool, child, model, pages, workers, parser, embedding)
            except Exception as exc:  # report, and keep the mode that works
                report.console.print(
                    f"LlamaIndex ({name}) with num_workers={workers} failed: {type(exc).__name__}: {exc}"
                )
                continue
            report.console.print(
                f"LlamaIndex ({name}) num_workers={workers}: {run.documents_per_second:.2f} documents/s"
            )
            if best is None or run.seconds < best[0].seconds:
                best = run, workers
    if best is None:
        raise RuntimeError(f"LlamaIndex's pipeline ({name}) failed with every num_workers")
    return best


def llama_index_with_defaults(model: str, pages: list[Path], workers: int | None) -> Run:
    """LlamaIndex's pipeline with unstructured's defaults (as its UnstructuredReader calls it) and
    ragstream's embedder of `model`, at `workers`."""
    parser = llama_baseline.DEFAULTS
    report.console.print(f"{LLAMA_INDEX} ({DEFAULT_CALLS}, {model}): loading the parser and the model")
    with process_of_its_own(llama_baseline.warm_up, model, parser, RAGSTREAM, pages[0]) as (pool, child):
        run = _timed(pool, child, model, pages, workers, parser, RAGSTREAM)
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
    embedding: Embedding,
) -> Run:
    """One run in LlamaIndex's process, with the CPU of the process and its workers, and its peak
    memory. The pipeline reports no progress of its own: the bar here counts the seconds."""
    ledger = CpuLedger([Group("LlamaIndex", [child], descendants=True)])
    processes: dict[str, Collection[int] | Callable[[], Collection[int]]] = {
        "LlamaIndex": [child],
        "worker": lambda: child_pids(child) if workers else set(),
    }
    calls = TUNED_CALLS if parser == llama_baseline.TUNED else DEFAULT_CALLS
    description = f"LlamaIndex ({calls}, {embedder_name(model, embedding)}, num_workers={workers})"
    with PeakRss(processes) as rss, report.progress() as progress:
        task = progress.add_task(description, total=len(pages))
        ledger.start()
        seconds, chunks = pool.submit(
            llama_baseline.ingest, model, pages, POLICY, workers=workers, parser=parser, embedding=embedding
        ).result()
        ledger.stop()
        progress.update(task, completed=len(pages))
    return Run(seconds, len(pages), chunks, peak_rss_mib=rss.mib, cpu_seconds=ledger.used)
