"""Retrieval benchmark: recall@5 and MRR@10 of dense, BM25 (sparse) and hybrid search over pages
of the PostgreSQL manual, with the question set of `bench.questions` (made by rule, not by a model).

The pages are parsed and chunked as ingestion does (unstructured, 200-token chunks with 30 of
overlap), embedded with all-MiniLM-L6-v2 and upserted into a Qdrant Edge store in a temporary
directory, removed at the end. Every question is then searched in each mode; a question's ranking
is the distinct pages of the chunks found, in order. recall@5: the fraction of questions with an
answer page among the first 5 pages; MRR@10: the mean of 1/rank of the first answer page within
the first 10 (0 when there is none).
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
from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.settings import Settings
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
MODEL = "all-MiniLM-L6-v2"
CHUNKING = ChunkingPolicy(200, 30)
MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")
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
    """One mode's rankings of every question, and how long each search took."""

    mode: SearchMode
    questions: Sequence[Question]
    rankings: list[list[str]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

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
    limit: int = CHUNKS_PER_SEARCH,
    on_question: Callable[[], None] = lambda: None,
) -> Score:
    """Search every question (`vectors`: their embeddings, row by row) in `mode` and rank pages."""
    score = Score(mode, questions)
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

    embedder = Embedders(Settings(_env_file=None)).get(MODEL)
    await embedder.warm_up()
    root = Path(tempfile.mkdtemp(prefix="ragstream-bench-retrieval-"))
    store = QdrantEdgeStore(root)
    try:
        total = sum(len(c) for c in chunks.values())
        with report.progress(transient=True) as progress:
            task = progress.add_task(f"embed + upsert chunks ({MODEL})", total=total)
            count = await index_pages(
                store, COLLECTION, embedder, chunks, on_chunks=lambda n: progress.advance(task, n)
            )
        indexed = time.perf_counter()
        vectors = await embedder.embed([q.text for q in questions])
        scores = []
        with report.progress(transient=True) as progress:
            for mode in MODES:
                task = progress.add_task(f"search ({mode})", total=len(questions))
                scores.append(
                    await evaluate(
                        store,
                        COLLECTION,
                        questions,
                        vectors,
                        mode,
                        on_question=functools.partial(progress.advance, task),
                    )
                )
    finally:
        await store.close()
        shutil.rmtree(root, ignore_errors=True)
    finished = time.perf_counter()
    report.publish(
        _result(
            scores,
            pages=len(pages),
            chunks=count,
            questions=questions,
            timings=(parsed - started, indexed - parsed, finished - indexed),
        ),
    )


def _result(
    scores: Sequence[Score],
    *,
    pages: int,
    chunks: int,
    questions: Sequence[Question],
    timings: tuple[float, float, float],
) -> Result:
    count = {rule: sum(q.rule == rule for q in questions) for rule in RULES}
    result = Result(
        name="retrieval",
        title=f"Retrieval: {len(questions)} questions, {pages} PostgreSQL-manual pages ({chunks:,} chunks)",
        columns=(
            "mode",
            f"recall@{RECALL_K}",
            f"MRR@{MRR_K}",
            *(f"{rule} ({count[rule]} q.) recall / MRR" for rule in RULES),
            "search ms (mean)",
        ),
    )
    for s in scores:
        per_rule = (f"{s.recall(rule=rule):.3f} / {s.mrr(rule=rule):.3f}" for rule in RULES)
        result.add(s.mode, s.recall(), s.mrr(), *per_rule, s.mean_ms)
    best = winner(scores)
    by_mode = {s.mode: s for s in scores}
    default = Settings.model_fields["search_mode"].default
    hybrid = by_mode["hybrid"].recall()
    single = max(by_mode["dense"].recall(), by_mode["sparse"].recall())
    parse_s, index_s, search_s = timings
    result.notes += [
        "Questions made by rule from the manual (bench/questions.py): page titles in fixed templates, "
        "first sentences without the title's words, glossary definitions; answers = the page(s) they "
        f"came from or point to. A ranking is the distinct pages of the top {CHUNKS_PER_SEARCH} chunks.",
        f"dense: {MODEL}; sparse: BM25 (Qdrant's IDF modifier); hybrid: both fused by RRF (k=60).",
        f"Best mode: {best.mode} (by recall@{RECALL_K}, then MRR@{MRR_K}). Hybrid recall@{RECALL_K} "
        f"{hybrid:.3f} is "
        + ("above" if hybrid > single else "NOT above")
        + f" both dense and sparse alone (best of them: {single:.3f}). The search_mode default is "
        + (f"{default!r}, the winner." if default == best.mode else f"{default!r}, not the winner."),
        f"Time: parse + chunk {parse_s:.0f} s ({PARSE_WORKERS} processes), embed + upsert {index_s:.0f} s "
        f"(model load included), embed questions + searches {search_s:.0f} s; "
        f"total {parse_s + index_s + search_s:.0f} s.",
    ]
    return result
