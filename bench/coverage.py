"""Parse coverage over whole documentation sets: how many of each page's words reach its chunks.

Every page of the PostgreSQL manual, the Python documentation and Node.js's API Markdown is parsed
and chunked as ingestion does. Two shares are reported per page: the coverage guard's own (the
chunks against the document's text as ragstream reads it, which fails a document under 0.9), and
the chunks against the page's main text as this benchmark reads it apart from ragstream's parser
(`reference_questions.main_text`: the Sphinx main region, the manual without its navigation, the
Markdown without markup). Pages that hold no text besides navigation fail, as they do in ingestion.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from apps.stream_processors.chunking import ChunkingPolicy
from apps.stream_processors.coverage import word_counts
from apps.stream_processors.parsing import parse_document
from apps.stream_processors.partitioning import configure_offline
from apps.stream_processors.stage import DocumentError
from bench import report
from bench.corpus import ensure_manual, ensure_node_api, ensure_python_docs
from bench.reference_questions import main_text
from bench.report import Result

CHUNKING = ChunkingPolicy(200, 30)
WORKERS = 2
GUARD = 0.9


@dataclass(frozen=True)
class DocumentationSet:
    name: str
    locate: Callable[[], Path]
    pattern: str


SETS = (
    DocumentationSet("PostgreSQL manual", ensure_manual, "*.html"),
    DocumentationSet("Python docs", ensure_python_docs, "**/*.html"),
    DocumentationSet("Node.js API", ensure_node_api, "*.md"),
)


@dataclass(frozen=True)
class PageCoverage:
    chunks: int
    guard: float | None  # None: the page failed
    main_words: int
    kept_words: int  # of the main text's, as often as it has them
    error: str | None = None


def measure(path: Path) -> PageCoverage:
    """Runs in a worker: one page's chunks, against both readings of its text."""
    data = path.read_bytes()
    content_type = "text/markdown" if path.suffix == ".md" else "text/html"
    main = word_counts([main_text(path.name, data)])
    total = sum(main.values())
    try:
        parsed = parse_document(data, path.name, content_type, CHUNKING, min_coverage=0.0)
    except DocumentError as exc:
        return PageCoverage(0, None, total, 0, str(exc))
    found = word_counts(chunk.text for chunk in parsed.chunks)
    kept = sum(min(count, found[word]) for word, count in main.items())
    return PageCoverage(len(parsed.chunks), parsed.coverage, total, kept)


def measure_all(paths: Sequence[Path], on_page: Callable[[], None]) -> list[PageCoverage]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=context, initializer=configure_offline) as pool:
        pages = []
        for future in as_completed([pool.submit(measure, path) for path in paths]):
            pages.append(future.result())
            on_page()
    return pages


def _share(page: PageCoverage) -> float:
    return page.kept_words / page.main_words if page.main_words else 1.0


def row(name: str, pages: Sequence[PageCoverage], seconds: float) -> tuple[object, ...]:
    parsed = [p for p in pages if p.guard is not None]
    guards = [p.guard for p in parsed if p.guard is not None]
    shares = sorted(_share(p) for p in parsed)
    main_words = sum(p.main_words for p in parsed)
    return (
        name,
        len(pages),
        len(pages) - len(parsed),
        sum(g < GUARD for g in guards),
        sum(p.chunks for p in parsed),
        f"{min(guards):.3f} / {statistics.median(guards):.3f}",
        f"{shares[0]:.3f} / {shares[len(shares) // 20]:.3f} / {statistics.median(shares):.3f}",
        f"{sum(p.kept_words for p in parsed) / main_words:.4f}",
        seconds,
    )


async def run() -> None:
    result = Result(
        name="coverage",
        title="Parse coverage: every page of three documentation sets",
        columns=(
            "documentation set",
            "pages",
            "failed (no text)",
            f"under the guard ({GUARD})",
            "chunks",
            "guard's share min / median",
            "main-text words kept min / p5 / median",
            "main-text words kept, all pages",
            "parse + chunk s",
        ),
    )
    failures: list[str] = []
    for documentation in SETS:
        paths = sorted(documentation.locate().glob(documentation.pattern))
        started = time.perf_counter()
        with report.progress(transient=True) as progress:
            task = progress.add_task(f"parse + chunk ({documentation.name})", total=len(paths))
            advance = functools.partial(progress.advance, task)
            pages = await asyncio.to_thread(measure_all, paths, advance)
        result.add(*row(documentation.name, pages, time.perf_counter() - started))
        failures += sorted({f"{documentation.name}: {p.error}" for p in pages if p.error})
    result.notes += [
        "Each page parsed and chunked as ingestion does (200-token chunks, 30 of overlap), "
        f"{WORKERS} processes. The guard's share: the chunks' words against the document's text as "
        "ragstream reads it (what fails a document in ingestion). Main-text words kept: against the "
        "page's main text as bench/reference_questions.py reads it with BeautifulSoup, apart from "
        "ragstream's parser; each word counted as often as the main text has it.",
        "Failed pages hold nothing but navigation or a table of contents (the manual's index pages): "
        + "; ".join(failures or ["none"]),
    ]
    report.publish(result)
