"""Ingestion throughput: pages of the PostgreSQL manual from S3 event to searchable, through the
real local stack, in two sections of rounds. With all-MiniLM-L6-v2: the ceiling (the embedder alone
on the same chunks, on ragstream's default runtime, ONNX int8, its fastest), ragstream on each
runtime it ships (ONNX int8, ONNX fp32, PyTorch), and LlamaIndex's IngestionPipeline given the same
parser (unstructured), splitter settings and a Qdrant store: as its users run it (its own
HuggingFaceEmbedding on PyTorch), given ragstream's embedder, and with unstructured's defaults; the
targets checked against them. With a near-free embedder: the ceiling, ragstream and LlamaIndex both
ways, which exposes each pipeline's own overhead. Peak RSS and CPU time of each process that takes
part. Each pipeline's median round is its row.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from apps.common.embeddings import HASHING_MODEL
from apps.common.local_encoders import LOCAL_RUNTIMES, local_model_name, runtime_of
from apps.common.settings import DEFAULT_LOCAL_EMBEDDING_MODEL
from apps.devstack.stack import LocalStack
from apps.stream_processors.parsing import parse_and_chunk
from apps.stream_processors.partitioning import configure_offline
from bench import report
from bench.ceiling import BATCH, embedder_alone
from bench.corpus import manual_pages
from bench.ingest_llama_index import (
    DEFAULT_CALLS,
    HUGGING_FACE_EMBEDDING,
    LLAMA_INDEX,
    NUM_WORKERS,
    TUNED_CALLS,
    embedder_name,
    llama_index,
    llama_index_with_defaults,
)
from bench.ingest_ragstream import OWN_PROCESSES, PROCESSORS_RSS, ragstream
from bench.llama_baseline import (
    HUGGING_FACE,
    HUGGING_FACE_BATCH,
    HUGGING_FACE_MODEL,
    RAGSTREAM,
    RAGSTREAM_BATCH,
    Embedding,
)
from bench.report import Result
from bench.runs import POLICY, Run, median_run, paired_ratio, round_ratios
from bench.stack import local_stack

PAGES = int(os.environ.get("RAGSTREAM_BENCH_PAGES", "100"))
# Each round runs every pipeline of a section one after another: a slow minute of the machine (runs
# minutes apart differ widely here) falls on all of them, and the median round of each is shown.
# Both sections run this many rounds, ragstream's other runtimes in every round of the first.
ROUNDS = int(os.environ.get("RAGSTREAM_BENCH_ROUNDS", "3"))

# all-MiniLM-L6-v2 on ragstream's default runtime (ONNX int8, its fastest): the ceiling and the
# targets are of it; ragstream also runs the model on the other runtimes it ships.
MODEL = DEFAULT_LOCAL_EMBEDDING_MODEL
OTHER_RUNTIMES = tuple(
    local_model_name(runtime) for runtime in LOCAL_RUNTIMES if local_model_name(runtime) != MODEL
)
# The targets for ragstream with MODEL, by documents/s: its share of the ceiling, and its speed over
# LlamaIndex's as its users run it (HuggingFaceEmbedding) and given ragstream's embedder.
CEILING_TARGET = 0.90
USERS_TARGET = 2.0
SAME_EMBEDDER_TARGET = 1.1
AS_USERS_RUN_IT = "as its users run it"
USERS_EMBEDDER = f"{HUGGING_FACE_EMBEDDING} on torch"

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


@dataclass
class Section:
    """One embedder's runs: a run of each pipeline every round, in the order of the rounds. ragstream
    on the model's other runtimes and LlamaIndex as its users run it: with all-MiniLM-L6-v2 only."""

    model: str
    ceilings: list[Run] = field(default_factory=list)
    ours: list[Run] = field(default_factory=list)
    # ragstream on the model's other runtimes, by model name.
    our_runtimes: dict[str, list[Run]] = field(default_factory=dict)
    # LlamaIndex with ragstream's parser and HuggingFaceEmbedding.
    theirs_as_users_run_it: list[Run] = field(default_factory=list)
    # LlamaIndex with ragstream's parser and embedder.
    theirs: list[Run] = field(default_factory=list)
    # LlamaIndex with unstructured's defaults and ragstream's embedder.
    theirs_with_defaults: list[Run] = field(default_factory=list)

    def rivals(self) -> list[tuple[str, list[Run]]]:
        """LlamaIndex's runs of each kind that ran, by its name in the notes, in the order of a round."""
        users = [(f"LlamaIndex {AS_USERS_RUN_IT}", self.theirs_as_users_run_it)]
        return [
            *(users if self.theirs_as_users_run_it else []),
            ("LlamaIndex", self.theirs),
            (f"LlamaIndex with {DEFAULT_CALLS}", self.theirs_with_defaults),
        ]

    def series(self) -> list[tuple[str, list[Run]]]:
        """Each pipeline's runs, by its name in the notes, in the order a round runs them."""
        ours = [(f"ragstream with {embedder_name(model)}", runs) for model, runs in self.our_runtimes.items()]
        return [("the ceiling", self.ceilings), ("ragstream", self.ours), *ours, *self.rivals()]


@dataclass(frozen=True)
class Target:
    """ragstream's documents/s over another's (the median of the rounds' ratios): at least `at_least`."""

    against: str  # "of the ceiling", "to LlamaIndex ..."
    measured: float
    at_least: float

    @property
    def met(self) -> bool:
        return self.measured >= self.at_least

    def __str__(self) -> str:
        verdict = "met" if self.met else "missed"
        return f"{self.against} {self.measured:.3f} (target >= {self.at_least:.2f}): {verdict}"


def targets(section: Section) -> list[Target]:
    """The targets of ragstream with all-MiniLM-L6-v2, from the section's rounds."""
    ours = section.ours
    return [
        Target("of the ceiling", paired_ratio(ours, section.ceilings), CEILING_TARGET),
        Target(
            f"to LlamaIndex {AS_USERS_RUN_IT} ({USERS_EMBEDDER})",
            paired_ratio(ours, section.theirs_as_users_run_it),
            USERS_TARGET,
        ),
        Target(
            "to LlamaIndex given ragstream's embedder",
            paired_ratio(ours, section.theirs),
            SAME_EMBEDDER_TARGET,
        ),
    ]


def targets_note(model: str, checked: Sequence[Target]) -> str:
    met = sum(target.met for target in checked)
    verdicts = "; ".join(str(target) for target in checked)
    return (
        f"Targets, ragstream with {model}, documents/s (the median of the rounds' ratios): {verdicts}."
        f" {met} of {len(checked)} met."
    )


def rounds_note(sections: Sequence[Section]) -> str:
    """Which pipelines ran in which rounds, and in what order."""
    each = "; ".join(
        f"{section.model}, {len(section.ours)} rounds: {', '.join(name for name, _ in section.series())}"
        for section in sections
    )
    return (
        f"Rounds (each pipeline of a section once a round, one after another, in this order): {each}."
        " ragstream's other runtimes have no ceiling of their own (their share is of the round's, on"
        f" {MODEL}) and no LlamaIndex beside them. LlamaIndex's num_workers are chosen in the first round."
    )


def _mib(run: Run) -> str:
    """The peak RSS of ragstream's stream processors in `run`."""
    mib = run.peak_rss_mib.get(PROCESSORS_RSS)
    return "-" if mib is None else f"{mib:.0f} MiB"


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


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


def add_section(result: Result, section: Section) -> None:
    """The rows of one embedder (each pipeline's median round) and the notes that go with them.

    Shares of the ceiling and the comparisons are the median of each round's own ratio. ragstream
    and LlamaIndex are compared by documents/s, the same pages made searchable: their splitters cut
    a page into different numbers of chunks, and chunks/s favours the one that makes more, shorter
    chunks (less text to embed in each)."""
    model, ceilings, ours = section.model, section.ceilings, section.ours
    users, theirs, defaults = section.theirs_as_users_run_it, section.theirs, section.theirs_with_defaults
    ceiling, mine, their_defaults = median_run(ceilings), median_run(ours), median_run(defaults)

    def add(name: str, embedder: str, runs: Sequence[Run]) -> None:
        result.add(*median_run(runs).row(name, embedder, paired_ratio(runs, ceilings)))

    tuned = f"{LLAMA_INDEX}, {TUNED_CALLS}"
    result.add(*ceiling.row("the embedder alone (ceiling)", embedder_name(model), 1.0))
    add("ragstream, end to end", embedder_name(model), ours)
    for other, runs in section.our_runtimes.items():
        add("ragstream, end to end", embedder_name(other), runs)
    if users:
        add(tuned, embedder_name(HUGGING_FACE_MODEL, HUGGING_FACE), users)
    add(tuned, embedder_name(model), theirs)
    add(f"{LLAMA_INDEX}, {DEFAULT_CALLS}", embedder_name(model), defaults)

    def against(others: Sequence[Run]) -> str:
        chunks = paired_ratio(ours, others, lambda run: run.chunks_per_second)
        return f"{paired_ratio(ours, others):.2f}x (chunks/s: {chunks:.2f}x)"

    cpus = os.cpu_count() or 1
    most = their_defaults.most_documents_per_second(cpus)
    compared = [
        f"{against(theirs)} LlamaIndex's with {TUNED_CALLS}" + (" and embedder" if users else ""),
        f"{against(defaults)} LlamaIndex's with {DEFAULT_CALLS}",
    ]
    if users:
        compared.insert(0, f"{against(users)} LlamaIndex's {AS_USERS_RUN_IT} ({USERS_EMBEDDER})")
    result.notes.append(
        f"{model}: ragstream {mine.documents_per_second:,.2f} documents/s is {_and(compared)}. The"
        f" latter parses in one process before its pipeline; were that spread over the {cpus} CPUs, its"
        f" CPU a document would still hold it to {most:,.2f} documents/s"
        f" ({mine.documents_per_second / most:.2f}x for ragstream)"
    )
    if users:
        result.notes.append(targets_note(model, targets(section)))
    if section.our_runtimes:
        speeds = [
            f"{paired_ratio(ours, runs):.2f}x those with {embedder_name(other)}"
            for other, runs in section.our_runtimes.items()
        ]
        memory = [
            f"{_mib(median_run(runs))} with {embedder_name(name)}"
            for name, runs in [(model, ours), *section.our_runtimes.items()]
        ]
        result.notes.append(
            f"ragstream by runtime: its documents/s with {model} are {_and(speeds)} (the median of the"
            f" rounds' ratios); its stream processors' peak RSS (their process holds the model):"
            f" {_and(memory)}."
        )
    if len(ours) > 1:

        def speeds_of(runs: Sequence[Run]) -> str:
            return ", ".join(f"{run.documents_per_second:,.2f}" for run in runs)

        def ratios(others: Sequence[Run]) -> str:
            return ", ".join(f"{ratio:.2f}" for ratio in round_ratios(ours, others))

        result.notes.append(
            f"{model}, documents/s round by round: "
            + "; ".join(f"{name} {speeds_of(runs)}" for name, runs in section.series())
            + ". ragstream's ratio round by round: of the ceiling "
            + f"{ratios(ceilings)}; "
            + "; ".join(f"to {name} {ratios(runs)}" for name, runs in section.rivals())
            + ". Each row is that pipeline's median round; its share of the ceiling and the comparisons"
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
        servers_ms = mine.cpu_ms_per_document(mine.cpu_of()) - own_ms
        beside = cpus * 1000 / (ceiling_ms + servers_ms)
        their_bound = median_run(theirs).most_documents_per_second(cpus)
        result.notes.append(
            f"{model}: here the servers and the uploader share the {cpus} CPUs, and took"
            f" {servers_ms:.1f} ms of CPU a document. Beside them, even were its own processes to do"
            f" nothing but the embedder's {ceiling_ms:.1f} ms a document, ragstream would make at most"
            f" {beside:,.2f} documents/s: {beside / ceiling_bound:.2f} of the ceiling's bound, and"
            f" {beside / their_bound:.2f}x LlamaIndex's bound with {TUNED_CALLS} and embedder"
            f" ({their_bound:,.2f} documents/s; it runs no server). A bound from CPU time, not a"
            " measured speed."
        )


async def measure(
    stack: LocalStack, section: Section, pages: list[Path], chunked: list[list[str]], *, as_users_run_it: bool
) -> None:
    """ROUNDS rounds of the section's pipelines, each round in the order of `Section.series`;
    LlamaIndex as its users run it too, if `as_users_run_it`."""
    loop = asyncio.get_running_loop()
    # LlamaIndex's num_workers, for each embedding: the best of them in the first round, kept after.
    choices: dict[Embedding, tuple[int | None, ...]] = {RAGSTREAM: NUM_WORKERS, HUGGING_FACE: NUM_WORKERS}

    async def theirs(model: str, embedding: Embedding) -> Run:
        best, workers = await loop.run_in_executor(
            None, llama_index, model, pages, choices[embedding], embedding
        )
        choices[embedding] = (workers,)
        return best

    with embedder_alone(section.model) as embedder:
        for number in range(1, ROUNDS + 1):
            report.console.print(f"{section.model}: round {number} of {ROUNDS}")
            section.ceilings.append(await loop.run_in_executor(None, embedder.run, chunked))
            section.ours.append(await ragstream(stack, section.model, pages))
            for model, runs in section.our_runtimes.items():
                runs.append(await ragstream(stack, model, pages))
            if as_users_run_it:
                section.theirs_as_users_run_it.append(await theirs(HUGGING_FACE_MODEL, HUGGING_FACE))
            section.theirs.append(await theirs(section.model, RAGSTREAM))
            [workers] = choices[RAGSTREAM]
            section.theirs_with_defaults.append(
                await loop.run_in_executor(None, llama_index_with_defaults, section.model, pages, workers)
            )


async def run() -> None:
    pages = manual_pages(PAGES)
    chunked = parse_pages(pages)
    result = Result(
        "ingest",
        f"Ingestion: {len(pages)} pages of the PostgreSQL manual, S3 event to searchable",
        COLUMNS,
    )
    sections = [Section(MODEL, our_runtimes={other: [] for other in OTHER_RUNTIMES}), Section(HASHING_MODEL)]
    with local_stack() as stack:
        for section in sections:
            await measure(stack, section, pages, chunked, as_users_run_it=section.model == MODEL)
            add_section(result, section)
    runtime = runtime_of(MODEL)
    result.notes += [
        rounds_note(sections),
        f"Targets, by documents/s (the same pages made searchable), checked above: ragstream with {MODEL}"
        f" >= {CEILING_TARGET:.2f} of the ceiling, >= {USERS_TARGET:g}x LlamaIndex {AS_USERS_RUN_IT}"
        f" ({USERS_EMBEDDER}) and >= {SAME_EMBEDDER_TARGET:g}x LlamaIndex given ragstream's embedder"
        f" ({MODEL}); with the near-free embedder at least LlamaIndex's speed.",
        "The ceiling embeds ragstream's chunks of the pages; 'of ceiling' is documents/s over its"
        " documents/s. ragstream starts a chunk at each section and keeps elements whole, so it cuts"
        " a page into more, shorter chunks than LlamaIndex's token windows (which each overlap the"
        " last by 30 tokens): its chunks/s runs ahead of its documents/s.",
        "LlamaIndex runs in a process of its own and parses the same pages in it (as its readers do),"
        " two ways: with ragstream's parser (partition_document, as the parse stage reads the pages: its"
        " own pass over lxml for HTML), and with unstructured's defaults, as LlamaIndex's"
        " UnstructuredReader calls it"
        " (partition(filename=...): language detection, the full spaCy model). Then it splits with"
        " TokenTextSplitter(200, 30, cl100k) and embeds into Qdrant (qdrant-client in memory), given"
        f" ragstream's embedder ({RAGSTREAM_BATCH} texts a call, behind LlamaIndex's BaseEmbedding)."
        " With ragstream's parser it runs at its best num_workers: None and one per CPU both run in"
        " the first round (in one process), and the faster is kept for the later rounds; with"
        " unstructured's defaults it runs in another process at that num_workers: the two differ only"
        " in the parsing, done before the pipeline.",
        f"LlamaIndex {AS_USERS_RUN_IT}: with ragstream's parser, but embedding with its own"
        f" {HUGGING_FACE_EMBEDDING}(model_name=<the same weights>, device='cpu'): sentence-transformers on"
        f" PyTorch, at LlamaIndex's default embed_batch_size ({HUGGING_FACE_BATCH}) and torch's default"
        " threads; its num_workers chosen as above, on its own.",
        "ragstream's time runs from the first S3 put to the last document complete: the S3 event,"
        " the Temporal workflow, Kafka hops, parsing in a worker pool, batched embedding and upserts."
        " The pages are put one after another by a client in a process of its own (as on another"
        " machine, but on the same CPUs).",
        "ragstream runs as its deployables do: the workflow worker and the intake (sharing a Temporal"
        " client) in a process of their own, the stream processors (with the embedding model) and the"
        " API in another, its parser workers in theirs; each started, its model loaded, before the"
        " clock starts.",
        "The ceiling runs in a process of its own too, with the model loaded before the clock starts;"
        f" the chunks go to it {BATCH} at a time, through the embedder ragstream's embed stage uses (with"
        f" all-MiniLM-L6-v2, on {runtime}: ragstream's default runtime and its fastest).",
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
