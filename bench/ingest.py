"""Ingestion throughput: pages of the PostgreSQL manual from S3 event to searchable, through the
real local stack, beside the ceiling (the embedder alone on the same chunks) and LlamaIndex's
IngestionPipeline given the same parser (unstructured), splitter settings, embedder and a
Qdrant store; once with all-MiniLM-L6-v2 and once with a near-free embedder that exposes each
pipeline's own overhead. Peak RSS and CPU time of each process that takes part. In rounds: each
pipeline's median round is its row.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from apps.common.embeddings import HASHING_MODEL
from apps.common.settings import DEFAULT_LOCAL_EMBEDDING_MODEL
from apps.stream_processors.parsing import parse_and_chunk
from apps.stream_processors.partitioning import configure_offline
from bench import report
from bench.ceiling import embedder_alone
from bench.corpus import manual_pages
from bench.ingest_llama_index import (
    DEFAULT_CALLS,
    LLAMA_INDEX,
    NUM_WORKERS,
    TUNED_CALLS,
    llama_index,
    llama_index_with_defaults,
)
from bench.ingest_ragstream import OWN_PROCESSES, ragstream
from bench.report import Result
from bench.runs import POLICY, Run, median_run, paired_ratio, round_ratios
from bench.stack import local_stack

PAGES = int(os.environ.get("RAGSTREAM_BENCH_PAGES", "100"))
# Each round runs the ceiling, ragstream and LlamaIndex one after another: a slow minute of the machine
# (runs minutes apart differ by 10-25% here) falls on all three, and the median round of each is shown.
ROUNDS = int(os.environ.get("RAGSTREAM_BENCH_ROUNDS", "3"))


COLUMNS = (
    "pipeline",
    "embedder",
    "documents/s",
    "chunks/s",
    "chunks a document",
    "of ceiling",
    "CPU ms a document",
    "peak RSS MiB: the embedder alone; ragstream's processors / workflows / parser; LlamaIndex / worker",
)


def parse_pages(pages: Sequence[Path]) -> list[list[str]]:
    """Each page's chunk texts, as ingestion makes them."""
    configure_offline()
    chunked = []
    with report.progress() as progress:
        task = progress.add_task("parsing (for the ceiling)", total=len(pages))
        for page in pages:
            chunks = parse_and_chunk(page.read_bytes(), page.name, "text/html", POLICY)
            chunked.append([chunk.text for chunk in chunks])
            progress.advance(task)
    return chunked


def add_model(
    result: Result,
    model: str,
    ceilings: Sequence[Run],
    ours: Sequence[Run],
    theirs: Sequence[Run],
    theirs_with_defaults: Sequence[Run],
) -> None:
    """The rows of one embedder (each pipeline's median round) and the notes that go with them.

    Shares of the ceiling and the comparisons are the median of each round's own ratio. ragstream
    and LlamaIndex are compared by documents/s, the same pages made searchable: their splitters cut
    a page into different numbers of chunks, and chunks/s favours the one that makes more, shorter
    chunks (less text to embed in each)."""
    ceiling, mine = median_run(ceilings), median_run(ours)
    their, their_defaults = median_run(theirs), median_run(theirs_with_defaults)
    result.add(*ceiling.row("the embedder alone (ceiling)", model, 1.0))
    result.add(*mine.row("ragstream, end to end", model, paired_ratio(ours, ceilings)))
    result.add(*their.row(f"{LLAMA_INDEX}, {TUNED_CALLS}", model, paired_ratio(theirs, ceilings)))
    result.add(
        *their_defaults.row(
            f"{LLAMA_INDEX}, {DEFAULT_CALLS}", model, paired_ratio(theirs_with_defaults, ceilings)
        )
    )

    def against(others: Sequence[Run]) -> str:
        chunks = paired_ratio(ours, others, lambda run: run.chunks_per_second)
        return f"{paired_ratio(ours, others):.2f}x (chunks/s: {chunks:.2f}x)"

    cpus = os.cpu_count() or 1
    most = their_defaults.most_documents_per_second(cpus)
    result.notes.append(
        f"{model}: ragstream {mine.documents_per_second:,.2f} documents/s is {against(theirs)} LlamaIndex's"
        f" with {TUNED_CALLS} and {against(theirs_with_defaults)} LlamaIndex's with {DEFAULT_CALLS}. The"
        f" latter parses in one process before its pipeline; were that spread over the {cpus} CPUs, its"
        f" CPU a document would still hold it to {most:,.2f} documents/s"
        f" ({mine.documents_per_second / most:.2f}x for ragstream)"
    )
    if len(ours) > 1:

        def speeds(runs: Sequence[Run]) -> str:
            return ", ".join(f"{run.documents_per_second:,.2f}" for run in runs)

        def ratios(others: Sequence[Run]) -> str:
            return ", ".join(f"{ratio:.2f}" for ratio in round_ratios(ours, others))

        result.notes.append(
            f"{model}, documents/s round by round: the ceiling {speeds(ceilings)}; ragstream {speeds(ours)};"
            f" LlamaIndex {speeds(theirs)}; LlamaIndex with {DEFAULT_CALLS} {speeds(theirs_with_defaults)}."
            f" ragstream's ratio round by round: of the ceiling {ratios(ceilings)}; to LlamaIndex"
            f" {ratios(theirs)}; to LlamaIndex with {DEFAULT_CALLS} {ratios(theirs_with_defaults)}."
            " Each row is that pipeline's median round; its share of the ceiling and the comparisons"
            " above are the median of the rounds' ratios, as each round runs every pipeline back to back."
        )
    result.notes.append(mine.cpu_note(f"ragstream with {model}"))
    ceiling_ms = ceiling.cpu_ms_per_document(ceiling.cpu_of())
    if ceiling_ms > 0:  # a near-free embedder on a few pages may take too little to measure
        own_ms = mine.cpu_ms_per_document(mine.cpu_of(OWN_PROCESSES))
        own = mine.most_documents_per_second(cpus, OWN_PROCESSES)
        ceiling_bound = ceiling.most_documents_per_second(cpus)
        result.notes.append(
            f"{model}: were the servers (Temporal, moto, Tansu, Postgres) and the uploader on other"
            " machines, as deployed, ragstream's own processes"
            f" ({own_ms:.1f} ms of CPU a document) would allow"
            f" at most {own:,.2f} documents/s on the {cpus} CPUs: {own / ceiling_bound:.2f} of the ceiling's"
            f" bound the same way ({ceiling_bound:,.2f} documents/s, {ceiling_ms:.1f} ms a document)."
            " A bound from CPU time, not a measured speed."
        )


async def run() -> None:
    pages = manual_pages(PAGES)
    chunked = parse_pages(pages)
    result = Result(
        "ingest",
        f"Ingestion: {len(pages)} pages of the PostgreSQL manual, S3 event to searchable",
        COLUMNS,
    )
    with local_stack() as stack:
        for model in (DEFAULT_LOCAL_EMBEDDING_MODEL, HASHING_MODEL):
            ceilings, ours, theirs, defaults = [], [], [], []
            loop = asyncio.get_running_loop()
            # LlamaIndex's num_workers: the best of them in the first round, kept after.
            choices: tuple[int | None, ...] = NUM_WORKERS
            with embedder_alone(model) as embedder:
                for number in range(1, ROUNDS + 1):
                    report.console.print(f"{model}: round {number} of {ROUNDS}")
                    ceilings.append(await loop.run_in_executor(None, embedder.run, chunked))
                    ours.append(await ragstream(stack, model, pages))
                    best, workers = await loop.run_in_executor(None, llama_index, model, pages, choices)
                    choices = (workers,)
                    theirs.append(best)
                    defaults.append(
                        await loop.run_in_executor(None, llama_index_with_defaults, model, pages, workers)
                    )
            add_model(result, model, ceilings, ours, theirs, defaults)
    result.notes += [
        "Targets: end to end >= 0.90 of the ceiling and >= 1.1x LlamaIndex with all-MiniLM-L6-v2;"
        " with the near-free embedder at least LlamaIndex's speed. Compared by documents/s: the same"
        " pages made searchable.",
        "The ceiling embeds ragstream's chunks of the pages; 'of ceiling' is documents/s over its"
        " documents/s. ragstream starts a chunk at each section and keeps elements whole, so it cuts"
        " a page into more, shorter chunks than LlamaIndex's token windows (which each overlap the"
        " last by 30 tokens): its chunks/s runs ahead of its documents/s.",
        "LlamaIndex runs in a process of its own and parses the same pages in it (as its readers do),"
        " two ways: with ragstream's parser (partition_document, as the parse stage reads the pages: its"
        " own pass over lxml for HTML), and with unstructured's defaults, as LlamaIndex's"
        " UnstructuredReader calls it"
        " (partition(filename=...): language detection, the full spaCy model). Then it splits with"
        " TokenTextSplitter(200, 30, cl100k) and embeds in batches of 64 into Qdrant (qdrant-client in"
        " memory). The first runs at its best num_workers: None and one per CPU both run in the first"
        " round (in one process), and the faster is kept for the later rounds; the second runs in"
        " another process at that num_workers: the two differ only in the parsing, done before the"
        " pipeline.",
        "Which LlamaIndex the 1.1x target means is for the issue to say: its figures (unstructured at"
        " ~8 files/s, a quarter of the embedder's time beside it) are of unstructured's defaults;"
        " given ragstream's calls, LlamaIndex also gets the parsing work ragstream did.",
        "ragstream's time runs from the first S3 put to the last document complete: the S3 event,"
        " the Temporal workflow, Kafka hops, parsing in a worker pool, batched embedding and upserts."
        " The pages are put one after another by a client in a process of its own (as on another"
        " machine, but on the same CPUs).",
        "ragstream runs as its deployables do: the workflow worker and the intake (sharing a Temporal"
        " client) in a process of their own, the stream processors (with the embedding model) and the"
        " API in another, its parser workers in theirs; each started, its model loaded, before the"
        " clock starts.",
        "The ceiling runs in a process of its own too, with the model loaded before the clock starts;"
        " the chunks go to it 64 at a time, through the embedder ragstream's embed stage uses.",
        "Peak RSS, sampled every 0.2 s: the embedder's process (the model alone); ragstream's stream"
        " processors' process / its workflows' process / its largest parser worker (one a CPU);"
        " LlamaIndex's process (the model, unstructured, the pages, the in-memory store) / its largest"
        " worker, when it ran with workers. The servers (Postgres, Tansu, Temporal, moto) are not"
        " counted, nor the benchmark's own process.",
        "CPU ms a document: user and system CPU time over the measured stretch, per document. For"
        " ragstream, every process that takes part: its own, the four servers"
        " (with their children) and the uploader; for LlamaIndex its process and its workers; for"
        " the ceiling the embedder's process.",
    ]
    report.publish(result)
