"""Small-to-big context benchmark: how often the context an answer is given contains the answer, with 0,
1 and 2 neighbours a side (`RAGSTREAM_CONTEXT_NEIGHBOURS`), and what it costs in tokens.

The retrieval benchmark's pages, chunks and title and sentence questions (`bench.retrieval`,
`bench.questions`), on the default runtime's vectors in a Qdrant Edge store in a temporary directory.
Each question is searched as an answer searches (the default mode and top_k); the context is what
the engine would send the model (`apps.query_api.context`, at the default token budget). A passage is
in the context when its words, in order, are in one source's text (case and punctuation aside).
"""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from apps.common.embeddings import Embedders
from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.settings import DEFAULT_LOCAL_RUNTIME, Settings
from apps.common.tokenizer import count_tokens
from apps.common.vector_store import VectorStore
from apps.query_api.context import Anchor, with_neighbours
from bench import report
from bench.corpus import ensure_manual
from bench.questions import Page, Question, build_questions, read_glossary, select_pages
from bench.report import Result
from bench.retrieval import EVERY_BENCH_PAGE, MODEL, PAGES, collection, index_pages, parse_pages, search_pages

SETTINGS = Settings(_env_file=None)
NEIGHBOURS = (0, 1, 2)
# More neighbours must earn their tokens: the fewest whose share is within this of the best wins.
TOLERANCE = 0.01
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")  # as bench.questions cuts a first sentence


def words(text: str) -> str:
    """The text's words, lower-cased, one space apart, with a space at each end."""
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def first_sentence(page: Page) -> str:
    """The sentence a sentence-rule question was made from, whole (with the heading's words)."""
    text = page.first_paragraph.split(" — ", 1)[-1]
    return _SENTENCE_END.split(text, maxsplit=1)[0]


def contains(context: Sequence[str], passage: str) -> bool:
    """Whether one of the context's sources has the passage's words, in order."""
    wanted = words(passage)
    return wanted.strip() != "" and any(wanted in words(source) for source in context)


@dataclass
class Setting:
    """One neighbours setting's contexts: for each question, whether it held each passage, and its cost."""

    neighbours: int
    first_sentence: list[bool] = field(default_factory=list)  # sentence questions
    sentence_paragraph: list[bool] = field(default_factory=list)  # sentence questions
    title_paragraph: list[bool] = field(default_factory=list)  # title questions
    tokens: list[int] = field(default_factory=list)  # every question's context
    seconds: list[float] = field(default_factory=list)  # fetching and joining the neighbours

    def add(self, question: Question, pages: Mapping[str, Page], context: Sequence[str]) -> None:
        answers = [pages[name] for name in sorted(question.answers)]
        paragraph = any(contains(context, p.first_paragraph) for p in answers)
        if question.rule == "sentence":
            self.first_sentence.append(any(contains(context, first_sentence(p)) for p in answers))
            self.sentence_paragraph.append(paragraph)
        else:
            self.title_paragraph.append(paragraph)
        self.tokens.append(sum(count_tokens(text) for text in context))


def share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def winner(settings: Sequence[Setting]) -> Setting:
    """The fewest neighbours whose share of sentence questions with the first paragraph in the context is
    within `TOLERANCE` of the best."""
    best = max(share(s.sentence_paragraph) for s in settings)
    return min(
        (s for s in settings if round(best - share(s.sentence_paragraph), 6) <= TOLERANCE),
        key=lambda s: s.neighbours,
    )


async def measure(
    store: VectorStore,
    name: str,
    questions: Sequence[Question],
    vectors: npt.NDArray[np.float32],
    pages: Mapping[str, Page],
    *,
    on_question: Callable[[], None] = lambda: None,
) -> list[Setting]:
    """Each setting's contexts for `questions` (title and sentence ones; `vectors`: their embeddings)."""
    settings = [Setting(n) for n in NEIGHBOURS]
    top_k, mode = SETTINGS.query_top_k, SETTINGS.search_mode
    for question, vector in zip(questions, vectors, strict=True):
        hits = await search_pages(store, name, vector, question.text, mode, top_k)
        anchors = [
            Anchor(
                h.payload.document_id,
                h.payload.version,
                h.payload.chunk_index,
                h.payload.section,
                h.payload.content,
            )
            for h in hits
        ]
        for setting in settings:
            started = time.perf_counter()
            context = await with_neighbours(
                store,
                name,
                anchors,
                access=EVERY_BENCH_PAGE,
                radius=setting.neighbours,
                budget_tokens=SETTINGS.context_token_budget,
            )
            setting.seconds.append(time.perf_counter() - started)
            setting.add(question, pages, context)
        on_question()
    return settings


async def run() -> None:
    started = time.perf_counter()
    manual = ensure_manual()
    glossary = read_glossary((manual / "glossary.html").read_text(encoding="utf-8"))
    pages = select_pages(manual, PAGES, also={page for entry in glossary for page in entry.pages})
    questions = [q for q in build_questions(pages, glossary) if q.rule in ("title", "sentence")]
    with report.progress(transient=True) as progress:
        task = progress.add_task("parse + chunk pages", total=len(pages))
        chunks = await asyncio.to_thread(
            parse_pages, [manual / p.name for p in pages], lambda: progress.advance(task)
        )
    root = Path(tempfile.mkdtemp(prefix="ragstream-bench-context-"))
    store = QdrantEdgeStore(root)
    name = collection(DEFAULT_LOCAL_RUNTIME)
    try:
        embedder = Embedders(SETTINGS).get(MODEL)
        await embedder.warm_up()
        total = sum(len(c) for c in chunks.values())
        with report.progress(transient=True) as progress:
            task = progress.add_task(f"embed + upsert chunks ({embedder.spec.name})", total=total)
            await index_pages(
                store, name, embedder, chunks, on_chunks=functools.partial(progress.advance, task)
            )
        vectors = await embedder.embed([q.text for q in questions])
        with report.progress(transient=True) as progress:
            task = progress.add_task("search + context", total=len(questions))
            settings = await measure(
                store,
                name,
                questions,
                vectors,
                {p.name: p for p in pages},
                on_question=functools.partial(progress.advance, task),
            )
    finally:
        await store.close()
        shutil.rmtree(root, ignore_errors=True)
    report.publish(result(settings, pages=len(pages), chunks=total, seconds=time.perf_counter() - started))


def result(settings: Sequence[Setting], *, pages: int, chunks: int, seconds: float) -> Result:
    """The table: a row per neighbours setting, then how to read it and which setting won."""
    sentences, titles = len(settings[0].sentence_paragraph), len(settings[0].title_paragraph)
    table = Result(
        name="context",
        title=f"Small-to-big context: {sentences + titles} questions, {pages} PostgreSQL-manual pages "
        f"({chunks:,} chunks)",
        columns=(
            "neighbours a side",
            f"sentence q. ({sentences}): first sentence in context",
            "sentence q.: first paragraph in context",
            f"title q. ({titles}): first paragraph in context",
            "context tokens (mean)",
            "context tokens (max)",
            "neighbours ms (mean)",
        ),
    )
    for s in settings:
        table.add(
            s.neighbours,
            share(s.first_sentence),
            share(s.sentence_paragraph),
            share(s.title_paragraph),
            round(sum(s.tokens) / len(s.tokens)) if s.tokens else 0,
            max(s.tokens, default=0),
            1000 * sum(s.seconds) / len(s.seconds) if s.seconds else 0.0,
        )
    best = winner(settings)
    default = Settings.model_fields["context_neighbours"].default
    table.notes += [
        "The retrieval benchmark's title and sentence questions (bench/questions.py), searched as an "
        f"answer searches: {SETTINGS.search_mode}, top {SETTINGS.query_top_k} chunks, {MODEL}. The "
        "context is what the model would be sent (apps/query_api/context.py): "
        f"each chunk found with up to n chunks a side of its section, nearest first, within "
        f"{SETTINGS.context_token_budget} tokens (RAGSTREAM_CONTEXT_TOKEN_BUDGET).",
        "A passage is in the context when one source's text has its words in order (case and punctuation "
        "aside). First sentence: the whole sentence a sentence question was made from (with the title's "
        "words); first paragraph: the answer page's first paragraph, its key passage, which may run past "
        "the chunk that starts it. Tokens: cl100k_base, the sources' texts summed.",
        f"Winner: the fewest neighbours whose share of sentence questions with the first paragraph in the "
        f"context is within {TOLERANCE} of the best: {best.neighbours}. The context_neighbours default is "
        + (f"{default}, the winner." if default == best.neighbours else f"{default}, not the winner.")
        + f" Time: {seconds:.0f} s in all.",
    ]
    return table
