"""Answer-level retrieval benchmark: is the chunk that holds the answer among the first found, not
just its page? For the question sets of `bench.reference_questions` (made by rule from reference
pages of the PostgreSQL manual, the Node.js API and the Python library), ragstream's dense, BM25
(sparse) and hybrid search beside a plain BM25 baseline over the same pages, in the same run.

ragstream: each corpus's pages are parsed and chunked as ingestion does (200-token chunks with 30
of overlap), embedded with all-MiniLM-L6-v2 and upserted into a collection of a Qdrant Edge store in
a temporary directory, removed at the end; each question is searched in every mode for the first
50 chunks. Baseline: `rank_bm25.BM25Okapi` (its defaults) over the pages' main text, read apart from
ragstream's parser (`reference_questions.main_text`), cut into windows of 200 words that do not
overlap, words as `\\w+` cased down; windows that share no word with the question are not ranked.

A hit is a chunk (or window) that holds the question's answer (`reference_questions.holds_answer`).
Answer recall@5: the fraction of questions with a hit among the first 5; answer MRR@10: the mean of
1/rank of the first hit within the first 10 (0 when there is none); page recall@5: an answer's page
among the first 5 distinct pages of the ranking. "In the index": the fraction of answers held
whole by some chunk (or window) at all, the ceiling of recall.
"""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from rank_bm25 import BM25Okapi

from apps.common.embeddings import Embedder, Embedders
from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.settings import Settings
from apps.common.vector_store import VectorStore
from bench import report
from bench.corpus import ensure_manual, ensure_node_api, ensure_python_docs
from bench.reference_questions import (
    SETS,
    QuestionSet,
    ReferenceQuestion,
    answer_key,
    build_questions,
    main_text,
    select_pages,
)
from bench.report import Result
from bench.retrieval import MODEL, PARSE_WORKERS, index_pages, parse_pages, recall_at, search_pages
from schemas.api import SearchMode
from schemas.events import Chunk

MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")
BASELINE = "BM25 baseline"
RECALL_K = 5
MRR_K = 10
CHUNKS_PER_SEARCH = 50  # enough to rank 5 distinct pages for the page recall
WINDOW_WORDS = 200
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Corpus:
    """Where a corpus's pages are and how many of them are indexed (`reference_questions.select_pages`)."""

    name: str
    locate: Callable[[], Path]
    pattern: str  # its pages, a glob under the located directory
    source_pages: int  # pages some question set reads entries from
    other_pages: int  # other pages, as distractors


CORPORA = (
    Corpus("postgres", ensure_manual, "*.html", source_pages=47, other_pages=60),  # all its sources
    Corpus("nodejs", ensure_node_api, "*.md", source_pages=21, other_pages=0),
    Corpus("python", ensure_python_docs, "library/*.html", source_pages=40, other_pages=0),
)


class Found(NamedTuple):
    """One retrieved text: a chunk, or a window of the baseline."""

    page: str
    text: str


@dataclass
class Prepared:
    """A corpus's indexed pages, their main texts and the questions of its sets."""

    corpus: Corpus
    paths: list[Path]
    texts: dict[str, str]  # page name -> main text
    questions: dict[str, list[ReferenceQuestion]] = field(default_factory=dict)  # by set name


def corpus_pages(corpus: Corpus, sets: Sequence[QuestionSet]) -> list[Path]:
    return select_pages(
        corpus.locate().glob(corpus.pattern),
        [s.sources for s in sets],
        source_pages=corpus.source_pages,
        other_pages=corpus.other_pages,
    )


def prepare(
    corpus: Corpus, paths: Sequence[Path], sets: Sequence[QuestionSet], *, on_page: Callable[[], None]
) -> Prepared:
    """Read the pages' main texts and make the sets' questions from them."""
    data, texts = {}, {}
    for path in paths:
        data[path.name] = path.read_bytes()
        texts[path.name] = main_text(path.name, data[path.name])
        on_page()
    prepared = Prepared(corpus, list(paths), texts)
    for question_set in sets:
        prepared.questions[question_set.name] = build_questions(question_set, data, prepared.texts)
    return prepared


def windows(text: str, size: int = WINDOW_WORDS) -> list[str]:
    """`text` in windows of `size` words (whitespace-separated) that do not overlap; the last shorter."""
    split = text.split()
    return [" ".join(split[start : start + size]) for start in range(0, len(split), size)]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class Baseline:
    """Plain BM25 over the pages' main text in windows."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.windows = [Found(page, window) for page, text in texts.items() for window in windows(text)]
        self._bm25 = BM25Okapi([words(found.text) for found in self.windows])

    def search(self, question: str, limit: int = CHUNKS_PER_SEARCH) -> list[Found]:
        scores = self._bm25.get_scores(words(question))
        order = np.argsort(-scores, kind="stable")[:limit]
        return [self.windows[i] for i in order if scores[i] > 0]


def answer_rank(ranking: Sequence[Found], answer: str, k: int) -> int | None:
    """The rank of the first of the first `k` texts that holds `answer`, None if none does."""
    key = answer_key(answer)
    return next((rank for rank, found in enumerate(ranking[:k], 1) if key in answer_key(found.text)), None)


def reciprocal_rank(ranking: Sequence[Found], answer: str, k: int) -> float:
    """1/rank of the first of the first `k` texts that holds `answer`, 0 if none does."""
    rank = answer_rank(ranking, answer, k)
    return 1.0 / rank if rank else 0.0


def in_index(questions: Sequence[ReferenceQuestion], texts: Iterable[str]) -> float:
    """The fraction of the questions whose answer some text holds whole."""
    keys = "\n".join(answer_key(text) for text in texts)  # "\n": no key matches across two texts
    return sum(answer_key(q.answer) in keys for q in questions) / len(questions) if questions else 0.0


@dataclass
class Score:
    """One method's rankings of one set's questions."""

    question_set: str
    method: str
    questions: Sequence[ReferenceQuestion]
    rankings: Sequence[Sequence[Found]]
    indexed: float  # `in_index` of the texts it searched

    def _mean(self, value: Callable[[ReferenceQuestion, Sequence[Found]], float]) -> float:
        pairs = list(zip(self.questions, self.rankings, strict=True))
        return sum(value(q, r) for q, r in pairs) / len(pairs) if pairs else 0.0

    def recall(self, k: int = RECALL_K) -> float:
        return self._mean(lambda q, r: float(answer_rank(r, q.answer, k) is not None))

    def mrr(self, k: int = MRR_K) -> float:
        return self._mean(lambda q, r: reciprocal_rank(r, q.answer, k))

    def page_recall(self, k: int = RECALL_K) -> float:
        return self._mean(
            lambda q, r: recall_at(list(dict.fromkeys(f.page for f in r)), frozenset({q.page}), k)
        )


async def search(
    store: VectorStore,
    collection: str,
    questions: Sequence[ReferenceQuestion],
    vectors: npt.NDArray[np.float32],
    mode: SearchMode,
    *,
    on_question: Callable[[], None] = lambda: None,
) -> list[list[Found]]:
    """Each question's first `CHUNKS_PER_SEARCH` chunks in `mode` (`vectors`: the questions' embeddings)."""
    rankings = []
    for question, vector in zip(questions, vectors, strict=True):
        found = await search_pages(store, collection, vector, question.text, mode, CHUNKS_PER_SEARCH)
        rankings.append([Found(c.payload.filename, c.payload.content) for c in found])
        on_question()
    return rankings


async def _read(corpora: Sequence[Corpus]) -> list[Prepared]:
    prepared = []
    with report.progress(transient=True) as progress:
        for corpus in corpora:
            sets = [s for s in SETS if s.corpus == corpus.name]
            paths = corpus_pages(corpus, sets)
            task = progress.add_task(f"read pages, make questions ({corpus.name})", total=len(paths))
            advance = functools.partial(progress.advance, task)
            prepared.append(await asyncio.to_thread(prepare, corpus, paths, sets, on_page=advance))
    return prepared


async def _parse(corpora: Sequence[Prepared]) -> dict[str, dict[str, list[Chunk]]]:
    """Each corpus's chunks by page, by corpus name."""
    chunks = {}
    with report.progress(transient=True) as progress:
        for prepared in corpora:
            name = prepared.corpus.name
            task = progress.add_task(f"parse + chunk pages ({name})", total=len(prepared.paths))
            advance = functools.partial(progress.advance, task)
            chunks[name] = await asyncio.to_thread(parse_pages, prepared.paths, advance)
    return chunks


async def _index(
    store: VectorStore, embedder: Embedder, chunks: Mapping[str, Mapping[str, list[Chunk]]]
) -> int:
    total = sum(len(c) for pages in chunks.values() for c in pages.values())
    with report.progress(transient=True) as progress:
        task = progress.add_task(f"embed + upsert chunks ({MODEL})", total=total)
        for name, pages in chunks.items():
            advance = functools.partial(progress.advance, task)
            await index_pages(store, f"answers_{name}", embedder, pages, on_chunks=advance)
    return total


async def _search_modes(
    store: VectorStore,
    embedder: Embedder,
    corpora: Sequence[Prepared],
    chunks: Mapping[str, Mapping[str, list[Chunk]]],
) -> list[Score]:
    scores = []
    with report.progress(transient=True) as progress:
        for prepared in corpora:
            name = prepared.corpus.name
            held_by = [chunk.text for page in chunks[name].values() for chunk in page]
            for set_name, questions in prepared.questions.items():
                vectors = await embedder.embed([q.text for q in questions])
                held = in_index(questions, held_by)
                for mode in MODES:
                    task = progress.add_task(f"search {set_name} ({mode})", total=len(questions))
                    advance = functools.partial(progress.advance, task)
                    rankings = await search(
                        store, f"answers_{name}", questions, vectors, mode, on_question=advance
                    )
                    scores.append(Score(set_name, mode, questions, rankings, held))
    return scores


def _search_baseline(corpora: Sequence[Prepared]) -> list[Score]:
    scores = []
    with report.progress(transient=True) as progress:
        for prepared in corpora:
            baseline = Baseline(prepared.texts)
            held_by = [window.text for window in baseline.windows]
            for set_name, questions in prepared.questions.items():
                task = progress.add_task(f"search {set_name} ({BASELINE})", total=len(questions))
                rankings = []
                for question in questions:
                    rankings.append(baseline.search(question.text))
                    progress.advance(task)
                scores.append(Score(set_name, BASELINE, questions, rankings, in_index(questions, held_by)))
    return scores


async def run() -> None:
    started = time.perf_counter()
    corpora = await _read(CORPORA)
    chunks = await _parse(corpora)
    parsed = time.perf_counter()
    embedder = Embedders(Settings(_env_file=None)).get(MODEL)
    await embedder.warm_up()
    root = Path(tempfile.mkdtemp(prefix="ragstream-bench-answers-"))
    store = QdrantEdgeStore(root)
    try:
        total = await _index(store, embedder, chunks)
        indexed = time.perf_counter()
        scores = await _search_modes(store, embedder, corpora, chunks)
    finally:
        await store.close()
        shutil.rmtree(root, ignore_errors=True)
    searched = time.perf_counter()
    scores += await asyncio.to_thread(_search_baseline, corpora)
    finished = time.perf_counter()
    report.publish(
        result(
            scores,
            pages=sum(len(p.paths) for p in corpora),
            chunks=total,
            timings=(parsed - started, indexed - parsed, searched - indexed, finished - searched),
        )
    )


def hybrid_above_baseline(scores: Sequence[Score]) -> dict[str, bool]:
    """For each set: is ragstream's hybrid answer recall@5 above the baseline's?"""
    by = {(s.question_set, s.method): s for s in scores}
    sets = dict.fromkeys(s.question_set for s in scores)
    return {name: by[name, "hybrid"].recall() > by[name, BASELINE].recall() for name in sets}


def result(
    scores: Sequence[Score], *, pages: int, chunks: int, timings: tuple[float, float, float, float]
) -> Result:
    sizes = {s.question_set: len(s.questions) for s in scores}
    table = Result(
        name="answers",
        title=(
            f"Answer-level retrieval: {sum(sizes.values())} questions in {len(sizes)} sets, "
            f"{pages} pages ({chunks:,} chunks)"
        ),
        columns=(
            "set",
            "method",
            f"answer recall@{RECALL_K}",
            f"answer MRR@{MRR_K}",
            f"page recall@{RECALL_K}",
            "answers in the index",
        ),
    )
    for s in sorted(scores, key=lambda s: list(sizes).index(s.question_set)):
        table.add(
            f"{s.question_set} ({len(s.questions)} q.)",
            s.method,
            s.recall(),
            s.mrr(),
            s.page_recall(),
            s.indexed,
        )
    above = hybrid_above_baseline(scores)
    by = {(s.question_set, s.method): s for s in scores}
    comparison = "; ".join(
        f"{name} {by[name, 'hybrid'].recall():.3f} vs {by[name, BASELINE].recall():.3f}" for name in above
    )
    parse_s, index_s, search_s, baseline_s = timings
    table.notes += [
        "Questions made by rule from reference entries (bench/reference_questions.py): a documented name "
        "in fixed templates; its answer = the first sentence of its description, cut to 12 words, found "
        "once in the corpus. A hit: a retrieved chunk (or window) holds the whole answer "
        "(letters and digits compared).",
        f"dense: {MODEL}; sparse: BM25 (Qdrant's IDF modifier); hybrid: both fused by RRF. "
        f"{BASELINE}: rank_bm25 BM25Okapi over the same pages' main text (read apart from ragstream's "
        f"parser) in {WINDOW_WORDS}-word windows. Answers in the index: held whole by some chunk "
        "(or window) at all, the ceiling of recall.",
        f"Hybrid answer recall@{RECALL_K} is "
        + ("above" if all(above.values()) else "NOT above")
        + f" the {BASELINE} on every set ({comparison}).",
        f"Time: read + parse + chunk {parse_s:.0f} s ({PARSE_WORKERS} processes), embed + upsert "
        f"{index_s:.0f} s (model load included), searches {search_s:.0f} s, baseline {baseline_s:.0f} s; "
        f"total {parse_s + index_s + search_s + baseline_s:.0f} s.",
    ]
    return table
