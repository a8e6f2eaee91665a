"""Retrieval benchmark: recall@5 and MRR@10 of dense, BM25 (sparse) and hybrid search over PostgreSQL-manual
pages, dense and hybrid on each runtime of all-MiniLM-L6-v2 (PyTorch fp32, ONNX fp32, ONNX int8).

The questions are those of `bench.questions` (made by rule, not by a model). The pages are parsed
and chunked once, as ingestion does (unstructured, 200-token chunks with 30 of overlap); each
runtime embeds the same chunks into a collection of its own in a Qdrant Edge store in a temporary
directory, removed at the end. Every question is then searched in each mode; BM25 does not depend
on the embedder, so sparse is searched once. A question's ranking is the distinct pages of the
chunks found, in order. recall@5: the fraction of questions with an answer page among the first 5
pages; MRR@10: the mean of 1/rank of the first answer page within the first 10 (0 when there is none).
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid5

import numpy as np
import numpy.typing as npt

from apps.common.embeddings import Embedder, Embedders
from apps.common.identity import DEFAULT_TENANT, Access
from apps.common.local_encoders import LOCAL_MODEL, LocalRuntime, local_model_name
from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.settings import DEFAULT_LOCAL_RUNTIME, Settings
from apps.common.vector_store import ChunkPoint, ScoredChunk, SearchFilter, VectorStore
from apps.stream_processors.chunking import ChunkingPolicy
from apps.stream_processors.parsing import parse_and_chunk
from apps.stream_processors.partitioning import configure_offline
from bench import report
from bench.corpus import ensure_manual
from bench.questions import Question, Rule, build_questions, read_glossary, select_pages
from bench.report import Result
from schemas.api import SearchMode
from schemas.events import Chunk
from schemas.points import ChunkPayload, point_id

PAGES = 300  # spread over the manual; the pages the glossary points to come on top (bench.questions)
# The runtimes compared, the reference (PyTorch, as sentence-transformers runs the model) first.
RUNTIMES: tuple[LocalRuntime, ...] = ("torch", "onnx-fp32", "onnx-int8")
# The default runtime's model: the modes are ranked on its vectors (bench.answers embeds with it too).
MODEL = local_model_name(DEFAULT_LOCAL_RUNTIME)
# int8 is right as the default only if its hybrid recall@5 is at most this much below torch's.
INT8_TOLERANCE = 0.01
CHUNKING = ChunkingPolicy(200, 30)
MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")
# The modes that search the embedder's vectors, on every runtime; sparse (BM25) is searched once.
DENSE_MODES: tuple[SearchMode, ...] = ("dense", "hybrid")
RULES: tuple[Rule, ...] = ("title", "sentence", "glossary")
RECALL_K = 5
MRR_K = 10
# Chunks asked of the store per question: enough to rank 10 distinct pages almost always.
CHUNKS_PER_SEARCH = 50
EMBED_BATCH = 64
PARSE_WORKERS = 2
COLLECTION = "retrieval_bench"
# The benchmarks index their pages into the default tenant, without groups, and search all of them.
EVERY_BENCH_PAGE = Access(tenant=DEFAULT_TENANT, every_group=True)
_NAMESPACE = UUID("5d0c3b0e-8c4a-4c59-9a57-2f1e3f8b6a10")
_UPLOADED = datetime(2026, 1, 1, tzinfo=UTC)
_VERSION = "bench"


def chunk_page(name: str, data: bytes) -> list[Chunk]:
    """The page's chunks, as the parse stage makes them (`configure_offline()` first, once)."""
    content_type = "text/markdown" if name.endswith(".md") else "text/html"
    return parse_and_chunk(data, name, content_type, CHUNKING)


def _chunk_file(path: Path) -> tuple[str, list[Chunk]]:
    return path.name, chunk_page(path.name, path.read_bytes())


def parse_pages(paths: Sequence[Path], on_page: Callable[[], None]) -> dict[str, list[Chunk]]:
    """Chunks of each page, by name, parsed by `PARSE_WORKERS` processes (unstructured is CPU-bound)."""
    chunks: dict[str, list[Chunk]] = {}
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    with ProcessPoolExecutor(PARSE_WORKERS, mp_context=context, initializer=configure_offline) as pool:
        for future in as_completed([pool.submit(_chunk_file, p) for p in paths]):
            name, page_chunks = future.result()
            chunks[name] = page_chunks
            on_page()
    return {p.name: chunks[p.name] for p in paths}


def document_id(page: str) -> UUID:
    return uuid5(_NAMESPACE, page)


def collection(runtime: LocalRuntime) -> str:
    """The collection of a runtime's vectors: each runtime's differ, so each has its own."""
    return f"{COLLECTION}_{runtime}"


async def index_pages(
    store: VectorStore,
    collection: str,
    embedder: Embedder,
    pages: Mapping[str, Sequence[Chunk]],
    *,
    on_chunks: Callable[[int], None] = lambda _: None,
) -> int:
    """Embed and upsert every chunk of `pages` (page name -> chunks) into `collection`; the count."""
    await store.ensure_collection(collection, embedder.spec.dimensions)
    items = [(page, chunk) for page, chunks in pages.items() for chunk in chunks]
    for start in range(0, len(items), EMBED_BATCH):
        batch = items[start : start + EMBED_BATCH]
        vectors = await embedder.embed([chunk.text for _, chunk in batch])
        points = [
            ChunkPoint(
                id=point_id(document_id(page), _VERSION, chunk.index),
                vector=vector,
                payload=ChunkPayload(
                    document_id=document_id(page),
                    version=_VERSION,
                    chunk_index=chunk.index,
                    content=chunk.text,
                    filename=page,
                    upload_timestamp=_UPLOADED,
                    page=chunk.page,
                    section=chunk.section,
                ),
            )
            for (page, chunk), vector in zip(batch, vectors, strict=True)
        ]
        await store.upsert(collection, points)
        on_chunks(len(batch))
    return len(items)


async def search_pages(
    store: VectorStore,
    collection: str,
    vector: npt.NDArray[np.float32],
    text: str,
    mode: SearchMode,
    limit: int,
) -> list[ScoredChunk]:
    """The best `limit` chunks of every benchmark page for a question (`vector`, `text`) in `mode`."""
    return await store.search(
        collection, vector, access=EVERY_BENCH_PAGE, limit=limit, where=SearchFilter(), text=text, mode=mode
    )


def distinct_pages(chunks: Sequence[ScoredChunk]) -> list[str]:
    """The pages of `chunks`, each once, in the order of its best chunk."""
    return list(dict.fromkeys(c.payload.filename for c in chunks))


def recall_at(ranked: Sequence[str], answers: frozenset[str], k: int) -> float:
    """1 if an answer is among the first `k` pages, else 0."""
    return 1.0 if answers.intersection(ranked[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], answers: frozenset[str], k: int) -> float:
    """1/rank of the first answer among the first `k` pages, 0 if none is."""
    return next((1.0 / rank for rank, page in enumerate(ranked[:k], 1) if page in answers), 0.0)


@dataclass
class Score:
    """One mode's rankings of every question, and how long each search took, with the vectors of a
    runtime (None for sparse, which searches none)."""

    mode: SearchMode
    questions: Sequence[Question]
    rankings: list[list[str]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    runtime: LocalRuntime | None = None

    def _pairs(self, rule: Rule | None) -> list[tuple[list[str], frozenset[str]]]:
        return [
            (r, q.answers)
            for r, q in zip(self.rankings, self.questions, strict=True)
            if rule in (None, q.rule)
        ]

    def recall(self, k: int = RECALL_K, rule: Rule | None = None) -> float:
        pairs = self._pairs(rule)
        return sum(recall_at(r, a, k) for r, a in pairs) / len(pairs) if pairs else 0.0

    def mrr(self, k: int = MRR_K, rule: Rule | None = None) -> float:
        pairs = self._pairs(rule)
        return sum(reciprocal_rank(r, a, k) for r, a in pairs) / len(pairs) if pairs else 0.0

    @property
    def mean_ms(self) -> float:
        return 1000 * sum(self.seconds) / len(self.seconds) if self.seconds else 0.0


async def evaluate(
    store: VectorStore,
    collection: str,
    questions: Sequence[Question],
    vectors: npt.NDArray[np.float32],
    mode: SearchMode,
    *,
    runtime: LocalRuntime | None = None,
    limit: int = CHUNKS_PER_SEARCH,
    on_question: Callable[[], None] = lambda: None,
) -> Score:
    """Search every question (`vectors`: their embeddings by `runtime`, row by row) in `mode` and rank
    pages."""
    score = Score(mode, questions, runtime=None if mode == "sparse" else runtime)
    for question, vector in zip(questions, vectors, strict=True):
        started = time.perf_counter()
        found = await search_pages(store, collection, vector, question.text, mode, limit)
        score.seconds.append(time.perf_counter() - started)
        score.rankings.append(distinct_pages(found))
        on_question()
    return score


def winner(scores: Sequence[Score]) -> Score:
    """The best mode: highest recall@5, then highest MRR@10."""
    return max(scores, key=lambda s: (round(s.recall(), 6), round(s.mrr(), 6)))


def verdict(
    hybrid_recall: Mapping[LocalRuntime, float], default: LocalRuntime = DEFAULT_LOCAL_RUNTIME
) -> str:
    """Which runtime should be the default, from each runtime's hybrid recall@5: int8 if it is at most
    `INT8_TOLERANCE` below torch's, else fp32 ONNX (the same model, not quantised); and whether
    `default` (the settings') is that one."""
    torch, fp32, int8 = (hybrid_recall[r] for r in ("torch", "onnx-fp32", "onnx-int8"))
    if round(torch - int8, 6) <= INT8_TOLERANCE:
        right: LocalRuntime = "onnx-int8"
        why = (
            f"onnx-int8 is right as the default: its hybrid recall@{RECALL_K} {int8:.3f} is within "
            f"{INT8_TOLERANCE} of torch's {torch:.3f} ({int8 - torch:+.3f}; onnx-fp32 {fp32:.3f})."
        )
    else:
        right = "onnx-fp32"
        why = (
            f"onnx-fp32 should be the default, not onnx-int8: int8's hybrid recall@{RECALL_K} {int8:.3f} "
            f"is more than {INT8_TOLERANCE} below torch's {torch:.3f} ({int8 - torch:+.3f}), while "
            f"onnx-fp32, the same model unquantised, has {fp32:.3f} ({fp32 - torch:+.3f})."
        )
    settings = "the same." if default == right else f"to change to {right!r}."
    return f"Verdict: {why} The settings' default runtime is {default!r}: {settings}"


async def run() -> None:
    started = time.perf_counter()
    manual = ensure_manual()
    glossary = read_glossary((manual / "glossary.html").read_text(encoding="utf-8"))
    pages = select_pages(manual, PAGES, also={page for entry in glossary for page in entry.pages})
    questions = build_questions(pages, glossary)
    with report.progress(transient=True) as progress:
        task = progress.add_task("parse + chunk pages", total=len(pages))
        chunks = await asyncio.to_thread(
            parse_pages, [manual / p.name for p in pages], lambda: progress.advance(task)
        )
    parsed = time.perf_counter()

    embedders = Embedders(Settings(_env_file=None))
    root = Path(tempfile.mkdtemp(prefix="ragstream-bench-retrieval-"))
    store = QdrantEdgeStore(root)
    scores: list[Score] = []
    index_s: dict[LocalRuntime, float] = {}
    search_s = 0.0
    try:
        total = sum(len(c) for c in chunks.values())
        for runtime in RUNTIMES:
            loading = time.perf_counter()
            embedder = embedders.get(local_model_name(runtime))
            await embedder.warm_up()
            with report.progress(transient=True) as progress:
                task = progress.add_task(f"embed + upsert chunks ({embedder.spec.name})", total=total)
                await index_pages(
                    store,
                    collection(runtime),
                    embedder,
                    chunks,
                    on_chunks=functools.partial(progress.advance, task),
                )
            indexed = time.perf_counter()
            index_s[runtime] = indexed - loading
            vectors = await embedder.embed([q.text for q in questions])
            with report.progress(transient=True) as progress:
                for mode in MODES if runtime == DEFAULT_LOCAL_RUNTIME else DENSE_MODES:
                    task = progress.add_task(f"search ({mode}, {runtime})", total=len(questions))
                    scores.append(
                        await evaluate(
                            store,
                            collection(runtime),
                            questions,
                            vectors,
                            mode,
                            runtime=runtime,
                            on_question=functools.partial(progress.advance, task),
                        )
                    )
            search_s += time.perf_counter() - indexed
    finally:
        await store.close()
        shutil.rmtree(root, ignore_errors=True)
    report.publish(
        result(
            scores,
            pages=len(pages),
            chunks=total,
            questions=questions,
            timings=(parsed - started, index_s, search_s),
        ),
    )


def result(
    scores: Sequence[Score],
    *,
    pages: int,
    chunks: int,
    questions: Sequence[Question],
    timings: tuple[float, Mapping[LocalRuntime, float], float],
) -> Result:
    """The table of `scores`: a row per mode and runtime (sparse: one, of no runtime), then notes."""
    count = {rule: sum(q.rule == rule for q in questions) for rule in RULES}
    table = Result(
        name="retrieval",
        title=f"Retrieval: {len(questions)} questions, {pages} PostgreSQL-manual pages ({chunks:,} chunks)",
        columns=(
            "mode",
            "runtime",
            f"recall@{RECALL_K}",
            f"MRR@{MRR_K}",
            *(f"{rule} ({count[rule]} q.) recall / MRR" for rule in RULES),
            "search ms (mean)",
        ),
    )
    order = [None, *RUNTIMES]
    for s in sorted(scores, key=lambda s: (MODES.index(s.mode), order.index(s.runtime))):
        per_rule = (f"{s.recall(rule=rule):.3f} / {s.mrr(rule=rule):.3f}" for rule in RULES)
        table.add(s.mode, s.runtime or "none (BM25)", s.recall(), s.mrr(), *per_rule, s.mean_ms)
    by_mode = {s.mode: s for s in scores if s.runtime in (None, DEFAULT_LOCAL_RUNTIME)}
    best = winner(list(by_mode.values()))
    default = Settings.model_fields["search_mode"].default
    hybrid = by_mode["hybrid"].recall()
    single = max(by_mode["dense"].recall(), by_mode["sparse"].recall())
    hybrid_recall = {s.runtime: s.recall() for s in scores if s.mode == "hybrid" and s.runtime is not None}
    parse_s, index_s, search_s = timings
    total_s = parse_s + sum(index_s.values()) + search_s
    table.notes += [
        "Questions made by rule from the manual (bench/questions.py): page titles in fixed templates, "
        "first sentences without the title's words, glossary definitions; answers = the page(s) they "
        f"came from or point to. A ranking is the distinct pages of the top {CHUNKS_PER_SEARCH} chunks.",
        f"dense: {LOCAL_MODEL} on each runtime, the same chunks in a collection per runtime: torch = "
        "PyTorch (sentence-transformers), fp32; onnx-fp32 and onnx-int8 = ONNX Runtime, int8 by dynamic "
        "per-channel quantisation. sparse: BM25 (Qdrant's IDF modifier), which no runtime changes; "
        "hybrid: both fused by RRF (k=60).",
        f"Best mode with the default model ({MODEL}): {best.mode} (by recall@{RECALL_K}, "
        f"then MRR@{MRR_K}). Hybrid recall@{RECALL_K} {hybrid:.3f} is "
        + ("above" if hybrid > single else "NOT above")
        + f" both dense and sparse alone (best of them: {single:.3f}). The search_mode default is "
        + (f"{default!r}, the winner." if default == best.mode else f"{default!r}, not the winner."),
        verdict(hybrid_recall),
        f"Time: parse + chunk {parse_s:.0f} s ({PARSE_WORKERS} processes, once), embed + upsert "
        + ", ".join(f"{runtime} {seconds:.0f} s" for runtime, seconds in index_s.items())
        + f" (model load included), embed questions + searches {search_s:.0f} s; total {total_s:.0f} s.",
    ]
    return table
