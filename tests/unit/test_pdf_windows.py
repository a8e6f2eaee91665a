"""Unit tests of `pdf_elements.pdf_window_elements`: a big PDF read a window of pages at a time keeps
every page's words under that page's own number."""

from __future__ import annotations

import itertools

import pytest

from apps.stream_processors.partitioning import configure_offline
from apps.stream_processors.pdf_elements import PAGES_PER_WINDOW, pdf_page_texts, pdf_window_elements
from tests import big_documents

PAGES = PAGES_PER_WINDOW * 2 + 7


@pytest.fixture(scope="module", autouse=True)
def offline() -> None:
    configure_offline()


def test_each_page_of_a_big_pdf_keeps_its_number_across_windows() -> None:
    data = big_documents.pdf([big_documents.manual_page(n) for n in range(1, PAGES + 1)])
    elements = list(pdf_window_elements(data, "manual.pdf", pdf_page_texts(data)))

    assert {e.page for e in elements} == set(range(1, PAGES + 1))
    for number in (1, PAGES_PER_WINDOW, PAGES_PER_WINDOW + 1, PAGES):
        fact = big_documents.manual_page(number)[1]
        assert [e.page for e in elements if fact in e.text] == [number]


def test_the_first_window_is_read_before_the_last_is_parsed() -> None:
    """The elements are a stream: taking the first window's parses no more of the PDF."""
    data = big_documents.pdf([big_documents.manual_page(n) for n in range(1, PAGES + 1)])
    pages = pdf_page_texts(data)
    pages[-1] = "not the text of the last page"  # read only if its window is parsed

    first = list(
        itertools.takewhile(
            lambda e: e.page is not None and e.page <= 2, pdf_window_elements(data, "m.pdf", pages)
        )
    )

    assert {e.page for e in first} == {1, 2}
