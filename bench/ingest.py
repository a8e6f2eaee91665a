"""Ingestion throughput: pages of the PostgreSQL manual from S3 event to searchable, through the
real local stack, beside the ceiling (the embedder alone on the same chunks) and LlamaIndex's
IngestionPipeline given the same parser (unstructured), splitter settings, embedder and a
Qdrant store; once with all-MiniLM-L6-v2 and once with a near-free embedder that exposes each
pipeline's own overhead. Peak RSS and CPU time of each process that takes part. In rounds: each
pipeline's median round is its row.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg
from rich.progress import Progress

from apps.common.documents import document_id_for
from apps.common.embeddings import HASHING_MODEL, Embedder, Embedders
from apps.common.settings import DEFAULT_LOCAL_EMBEDDING_MODEL, Settings
from apps.devstack.process import ServerProcess
from apps.devstack.stack import LocalStack
from apps.stream_processors.chunking import ChunkingPolicy, chunk_elements
from apps.stream_processors.partitioning import configure_offline, partition_document
from bench import llama_baseline, report
from bench.corpus import manual_pages
from bench.cpu import CpuLedger, Group
from bench.report import Result
from bench.stack import Document, local_stack, put_documents, running_deployables
from tests.support import wait_until_settled

PAGES = int(os.environ.get("RAGSTREAM_BENCH_PAGES", "100"))
# Each round runs the ceiling, ragstream and LlamaIndex one after another: a slow minute of the machine
# (runs minutes apart differ by 10-25% here) falls on all three, and the median round of each is shown.
ROUNDS = int(os.environ.get("RAGSTREAM_BENCH_ROUNDS", "3"))
POLICY = ChunkingPolicy(size=200, overlap=30)
LLAMA_INDEX = "LlamaIndex IngestionPipeline"
TUNED_CALLS = "unstructured as ragstream calls it"
DEFAULT_CALLS = "unstructured's defaults"


COLUMNS = (
    "pipeline",
    "embedder",
    "documents/s",
    "chunks/s",
    "chunks a document",
    "of ceiling",
    "CPU ms a document",
    "peak RSS MiB: processors / workflows / parser",
)


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
        cpu = self.cpu_ms_per_document(sum(self.cpu_seconds.values()))
        chunks = f"{self.chunks / self.documents:.1f}"
        return (name, embedder, self.documents_per_second, self.chunks_per_second, chunks, share, cpu, rss)

    def cpu_ms_per_document(self, seconds: float) -> float:
        return 1000 * seconds / self.documents

    def most_documents_per_second(self, cpus: int) -> float:
        """Its speed if its work (its CPU time) kept all `cpus` busy, however it were spread."""
        return cpus * self.documents / sum(self.cpu_seconds.values())

    def cpu_note(self, name: str) -> str:
        """Where the run's CPU went, a document at a time, and how busy it kept the machine."""
        groups = ", ".join(
            f"{group} {self.cpu_ms_per_document(seconds):.1f}" for group, seconds in self.cpu_seconds.items()
        )
        busy = 100 * sum(self.cpu_seconds.values()) / (self.seconds * (os.cpu_count() or 1))
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


def parse_pages(pages: Sequence[Path]) -> list[list[str]]:
    """Each page's chunk texts, as ingestion makes them."""
    configure_offline()
    chunked = []
    with report.progress() as progress:
        task = progress.add_task("parsing (for the ceiling)", total=len(pages))
        for page in pages:
            elements = partition_document(page.read_bytes(), page.name, "text/html")
            chunked.append([c.text for c in chunk_elements(elements, POLICY)])
            progress.advance(task)
    return chunked


async def embedder_alone(embedder: Embedder, chunked: list[list[str]]) -> Run:
    texts = [text for page in chunked for text in page]
    batch = 64
    ledger = CpuLedger([Group("this process", [os.getpid()])])
    ledger.start()
    started = time.perf_counter()
    with report.progress() as progress:
        task = progress.add_task(f"{embedder.spec.name} alone", total=len(texts))
        for start in range(0, len(texts), batch):
            await embedder.embed(texts[start : start + batch])
            progress.advance(task, min(batch, len(texts) - start))
    seconds = time.perf_counter() - started
    ledger.stop()
    return Run(seconds, len(chunked), len(texts), cpu_seconds=ledger.used)


async def ragstream(stack: LocalStack, model: str, pages: Sequence[Path]) -> Run:
    """S3 put of every page to the last one complete, through every hop of the real pipeline."""
    keys = [f"manual/{page.name}" for page in pages]
    deployed = running_deployables(stack, embedding_model=model, chat_model="extractive")
    async with deployed as (settings, workflows):
        parsers = _children(stack) - {workflows}
        processes = {"processors": [os.getpid()], "workflows": [workflows], "parser": parsers}
        with PeakRss(processes) as rss, report.progress() as progress:
            task = progress.add_task(f"ragstream ({model})", total=len(keys))
            with _uploader() as uploader:
                uploaders = _children(stack) - parsers - {workflows}
                ledger = CpuLedger(_groups(stack, workflows, parsers, uploaders))
                ledger.start()
                started = time.perf_counter()
                uploads = list(zip(keys, pages, strict=True))
                uploading = asyncio.wrap_future(uploader.submit(_upload, settings, uploads))
                rows = await _settled(settings, keys, progress, task, uploading)
                seconds = time.perf_counter() - started
                ledger.stop()
    failed = [r["s3_key"] for r in rows if r["status"] != "complete"]
    if failed:
        raise RuntimeError(f"ragstream failed pages: {failed}")
    chunks = sum(r["chunk_count"] for r in rows)
    return Run(seconds, len(keys), chunks, rss.mib, ledger.used)


def _servers(stack: LocalStack) -> dict[str, ServerProcess | None]:
    return {
        "Temporal": stack.temporal.process,
        "moto (S3, SQS)": stack.s3.process,
        "Tansu (Kafka)": stack.kafka.process,
        "Postgres": stack.postgres.process,
    }


def _server_pids(stack: LocalStack) -> set[int]:
    return {process.pid for process in _servers(stack).values() if process}


def _children(stack: LocalStack) -> set[int]:
    """This process's children but the servers: the workflows' process, the parser workers, then
    the uploader too."""
    servers = _server_pids(stack)
    return {child.pid for child in psutil.Process().children() if child.pid not in servers}


def _groups(
    stack: LocalStack, workflows: int, parsers: Collection[int], uploader: Collection[int]
) -> list[Group]:
    """The processes of a ragstream run, by what they do; each server with its children (Postgres's
    connections)."""
    servers = [
        Group(name, [process.pid] if process else [], descendants=True)
        for name, process in _servers(stack).items()
    ]
    return [
        Group("processors + API", [os.getpid()]),
        Group("parser workers", sorted(parsers)),
        Group("workflow worker + intake", [workflows]),
        *servers,
        Group("uploader", sorted(uploader)),
    ]


@contextlib.contextmanager
def _uploader() -> Iterator[ProcessPoolExecutor]:
    """A process of its own for the client that uploads the pages, as it would be on another machine:
    in this one it would take the event loop that the apps (and their hops) run on. Started, and its
    imports done, before the clock starts."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(_ready).result()
        yield pool


def _ready() -> None:
    """Runs in the uploader: its modules are imported by now."""


def _upload(settings: Settings, pages: list[tuple[str, Path]]) -> None:
    """Runs in the uploader: read the pages, then put them one after another."""
    asyncio.run(put_documents(settings, [Document(key, page.read_text()) for key, page in pages]))


async def _settled(
    settings: Settings, keys: list[str], progress: Progress, task: Any, uploading: asyncio.Future[None]
) -> list[dict[str, Any]]:
    """Poll on one connection, a few times a second: the measuring should cost the machine little.
    A failed upload ends the wait with its error."""
    ids = [document_id_for(settings.s3_bucket, key) for key in keys]
    async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
        while True:
            cur = await conn.execute(
                "SELECT count(*) FROM documents WHERE id = ANY(%s) AND status IN ('complete', 'failed')",
                (ids,),
            )
            row = await cur.fetchone()
            done = row[0] if row else 0
            progress.update(task, completed=done)
            if done == len(keys):
                await uploading
                return await wait_until_settled(settings, keys)
            if uploading.done():
                uploading.result()
            await asyncio.sleep(0.25)


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


def median_run(runs: Sequence[Run]) -> Run:
    """The run of median speed; of the two in the middle, the slower."""
    ordered = sorted(runs, key=lambda run: run.documents_per_second)
    return ordered[(len(ordered) - 1) // 2]


def add_model(
    result: Result,
    model: str,
    ceilings: Sequence[Run],
    ours: Sequence[Run],
    theirs: Sequence[Run],
    theirs_with_defaults: Sequence[Run],
) -> None:
    """The rows of one embedder (each pipeline's median round) and the notes that go with them.

    ragstream and LlamaIndex are compared by documents/s, the same pages made searchable: their
    splitters cut a page into different numbers of chunks, and chunks/s favours the one that makes
    more, shorter chunks (less text to embed in each)."""
    ceiling, mine = median_run(ceilings), median_run(ours)
    their, their_defaults = median_run(theirs), median_run(theirs_with_defaults)
    result.add(*ceiling.row("the embedder alone (ceiling)", model, None))
    result.add(*mine.row("ragstream, end to end", model, ceiling))
    result.add(*their.row(f"{LLAMA_INDEX}, {TUNED_CALLS}", model, ceiling))
    result.add(*their_defaults.row(f"{LLAMA_INDEX}, {DEFAULT_CALLS}", model, ceiling))

    def against(other: Run) -> str:
        return (
            f"{mine.documents_per_second / other.documents_per_second:.2f}x"
            f" (chunks/s: {mine.chunks_per_second / other.chunks_per_second:.2f}x)"
        )

    cpus = os.cpu_count() or 1
    most = their_defaults.most_documents_per_second(cpus)
    result.notes.append(
        f"{model}: ragstream {mine.documents_per_second:,.2f} documents/s is {against(their)} LlamaIndex's"
        f" with {TUNED_CALLS} and {against(their_defaults)} LlamaIndex's with {DEFAULT_CALLS}. The"
        f" latter parses in one process before its pipeline; were that spread over the {cpus} CPUs, its"
        f" CPU a document would still hold it to {most:,.2f} documents/s"
        f" ({mine.documents_per_second / most:.2f}x for ragstream)"
    )
    if len(ours) > 1:

        def speeds(runs: Sequence[Run]) -> str:
            return ", ".join(f"{run.documents_per_second:,.2f}" for run in runs)

        result.notes.append(
            f"{model}, documents/s round by round: the ceiling {speeds(ceilings)}; ragstream {speeds(ours)};"
            f" LlamaIndex {speeds(theirs)}; LlamaIndex with {DEFAULT_CALLS} {speeds(theirs_with_defaults)}."
            " Each row is that pipeline's median round."
        )
    result.notes.append(mine.cpu_note(f"ragstream with {model}"))


async def run() -> None:
    pages = manual_pages(PAGES)
    chunked = parse_pages(pages)
    embedders = Embedders(Settings(_env_file=None))
    result = Result(
        "ingest",
        f"Ingestion: {len(pages)} pages of the PostgreSQL manual, S3 event to searchable",
        COLUMNS,
    )
    with local_stack() as stack:
        for model in (DEFAULT_LOCAL_EMBEDDING_MODEL, HASHING_MODEL):
            embedder = embedders.get(model)
            await embedder.warm_up()
            ceilings, ours, theirs, defaults = [], [], [], []
            loop = asyncio.get_running_loop()
            for number in range(1, ROUNDS + 1):
                report.console.print(f"{model}: round {number} of {ROUNDS}")
                ceilings.append(await embedder_alone(embedder, chunked))
                ours.append(await ragstream(stack, model, pages))
                best, workers = await loop.run_in_executor(
                    None, llama_index, model, pages, _server_pids(stack)
                )
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
        "LlamaIndex parses the same pages in its process (as its readers do) with the same parser,"
        " unstructured, called two ways: as ragstream calls it (no language detection, the spaCy"
        " shortcuts), and with unstructured's defaults, as LlamaIndex's UnstructuredReader calls it"
        " (partition(filename=...): language detection, the full spaCy model). Then it splits with"
        " TokenTextSplitter(200, 30, cl100k) and embeds in batches of 64 into Qdrant (qdrant-client in"
        " memory). The first runs at the best of num_workers None and 2; the second, in a process of its"
        " own, at that round's best: the two differ only in the parsing, done before the pipeline.",
        "Which LlamaIndex the 1.1x target means is for the issue to say: its figures (unstructured at"
        " ~8 files/s, a quarter of the embedder's time beside it) are of unstructured's defaults;"
        " given ragstream's calls, LlamaIndex also gets the parsing work ragstream did.",
        "ragstream's time runs from the first S3 put to the last document complete: the S3 event,"
        " the Temporal workflow, Kafka hops, parsing in a worker pool, batched embedding and upserts."
        " The pages are put one after another by a client in a process of its own (as on another"
        " machine, but on the same CPUs).",
        "ragstream runs as its deployables do: the workflow worker and the intake (sharing a Temporal"
        " client) in a process of their own, the stream processors (with the embedding model) and the"
        " API in another, its parser workers in theirs.",
        "Peak RSS: the stream processors' process / the workflows' process / the largest parser worker."
        " The servers (Postgres, Tansu, Temporal, moto) are not counted.",
        "CPU ms a document: user and system CPU time over the measured stretch, per document. For"
        " ragstream, every process that takes part: its own, the four servers"
        " (with their children) and the uploader; for LlamaIndex its process and its workers; for"
        " the ceiling the embedder's process.",
    ]
    report.publish(result)
