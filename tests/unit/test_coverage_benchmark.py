"""Unit tests of the coverage benchmark's measures (`bench.coverage`), on pages made here."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.stream_processors.partitioning import configure_offline
from bench.coverage import PageCoverage, measure, row


@pytest.fixture(scope="module", autouse=True)
def offline_parser() -> None:
    configure_offline()


def test_a_page_is_measured_against_its_main_text(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<html><body><div class="related">Previous | Next</div><div role="main"><h1>Title</h1>'
        "<dl><dt id='x.y'>x.y()</dt><dd><p>Does five things here.</p></dd></dl></div></body></html>"
    )
    measured = measure(page)
    assert measured == PageCoverage(chunks=1, guard=1.0, main_words=7, kept_words=7)


def test_a_page_of_navigation_only_fails(tmp_path: Path) -> None:
    page = tmp_path / "toc.html"
    page.write_text('<html><body><div class="navheader">Prev Next</div></body></html>')
    measured = measure(page)
    assert measured.guard is None
    assert measured.error is not None
    assert "no text" in measured.error


def test_a_row_sums_the_pages_it_parsed_and_counts_the_failed_and_the_lossy() -> None:
    pages = [
        PageCoverage(chunks=2, guard=1.0, main_words=100, kept_words=100),
        PageCoverage(chunks=1, guard=0.5, main_words=100, kept_words=50),
        PageCoverage(chunks=0, guard=None, main_words=3, kept_words=0, error="holds no text"),
    ]
    assert row("docs", pages, 1.5) == (
        "docs",
        3,
        1,
        1,
        3,
        "0.500 / 0.750",
        "0.500 / 0.500 / 0.750",
        "0.7500",
        1.5,
    )
