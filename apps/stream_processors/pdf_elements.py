"""PDF -> text elements (unstructured's "fast" strategy, mended where it loses words), and each page's
text as pdfium reads it (~20x faster than pdfminer, and it reads glyphs pdfminer cannot map): the
coverage guard's reference, and the stand-in for a page pdfminer misreads.

unstructured calls any text block in the top or bottom 7 % of a page a header or footer, so a
first-page title or a line of a dense page was dropped with the running headers: only what recurs
on two pages or more (page numbers aside) is page furniture here. pdfminer keeps typographic
ligatures ("ﬁ", U+FB01), which no one types into a search box: they are spelled out. Where it
cannot map glyphs ("(cid:42)") or runs lines together, a page that misses words takes pdfium's text.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pypdfium2

from apps.stream_processors.chunking import TextElement
from apps.stream_processors.coverage import kept_share

_FURNITURE = frozenset({"Header", "Footer"})
_SKIPPED = frozenset({"PageBreak", "PageNumber", "Image"})
_LIGATURES = {code: unicodedata.normalize("NFKC", chr(code)) for code in range(0xFB00, 0xFB07)}
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)")
_NUMBER = re.compile(r"\d+")
_MIN_PAGE_SHARE = 0.9  # running headers and footers are a few words of a page


def pdf_page_texts(data: bytes) -> list[str]:
    """The text pdfium reads on each page: what the page shows (text placed off the page is left
    out), in the order of the page's content. Raises `pypdfium2.PdfiumError` for a PDF pdfium
    cannot open (broken, or encrypted with a password): read it first, to refuse such a PDF at once."""
    document = pypdfium2.PdfDocument(data)
    try:
        texts = []
        for index in range(len(document)):
            page = document[index]
            text_page = page.get_textpage()
            texts.append(text_page.get_text_bounded())
            text_page.close()
            page.close()
        return texts
    finally:
        document.close()


def pdf_elements(data: bytes, filename: str, page_texts: list[str]) -> list[TextElement]:
    """The PDF's text elements in reading order, its running headers, footers and page numbers left
    out. A page whose elements (furniture included) miss over a tenth of the words pdfium reads
    there (`page_texts`, from `pdf_page_texts`) becomes one element of pdfium's text; so does a
    scanned page, whose text `pdf_ocr.read_scanned_pages` put there. Call
    `partitioning.configure_offline` first in the process."""
    from unstructured.partition.pdf import partition_pdf

    raw = list(
        partition_pdf(file=io.BytesIO(data), metadata_filename=filename, strategy="fast", languages=["eng"])
    )
    by_page: defaultdict[int, list[tuple[TextElement, bool]]] = defaultdict(list)
    for element, furniture in _elements(raw):
        by_page[element.page or 0].append((element, furniture))
    pages = []
    for number, text in enumerate(page_texts, start=1):
        read = by_page.pop(number, [])
        if kept_share(text, (e.text for e, _ in read)) < _MIN_PAGE_SHARE:
            read = [(_page_element(text, number), False)]
        pages.append(read)
    pages.extend(by_page.values())  # pages pdfium does not count
    return [element for read in pages for element, furniture in read if not furniture]


def _page_element(text: str, page: int) -> TextElement:
    """pdfium's text of a page as one element, with its line ends and the hyphens it marks there."""
    return TextElement(text=text.replace("\r\n", "\n").replace("\x02", "-").strip(), page=page)


def _elements(raw: list[Any]) -> Iterator[tuple[TextElement, bool]]:
    """unstructured's elements as text elements, each with whether it is page furniture: a header,
    footer or page number that recurs on other pages."""
    from unstructured.partition.text import element_from_text

    running = _running_furniture(raw)
    for element in raw:
        text = _UNMAPPED_GLYPH.sub("", element.text or "").translate(_LIGATURES).strip()
        if element.category in _SKIPPED or not text:
            continue
        category, furniture = element.category, False
        if category in _FURNITURE:
            furniture = _furniture_key(element.text) in running or not any(c.isalpha() for c in text)
            if not furniture:
                category = element_from_text(text).category  # what it is, read apart from its place
        page = element.metadata.page_number
        yield TextElement(text=text, page=page, is_title=category == "Title"), furniture


def _furniture_key(text: str) -> str:
    """A header's or footer's text with its numbers blanked: "Page 3 of 9" recurs as "page # of #"."""
    return _NUMBER.sub("#", " ".join(text.lower().split()))


def _running_furniture(raw: list[Any]) -> set[str]:
    """The headers and footers (as `_furniture_key`s) that unstructured found on two pages or more."""
    pages: defaultdict[str, set[int]] = defaultdict(set)
    for element in raw:
        if element.category in _FURNITURE and element.text:
            pages[_furniture_key(element.text)].add(element.metadata.page_number)
    return {key for key, on in pages.items() if len(on) > 1}


# Pages parsed at a time: a big PDF's chunks flow on while the rest is parsed, in bounded memory.
PAGES_PER_WINDOW = 50


def pdf_window_elements(data: bytes, filename: str, page_texts: list[str]) -> Iterator[TextElement]:
    """`pdf_elements` of `PAGES_PER_WINDOW` pages at a time, page numbers those of the whole PDF: what
    recurs on two pages of a window is page furniture. Raises `PdfWindowFailed` for pages that cannot
    be read."""
    count = len(page_texts)
    # Opened once for every window's pages to be copied out of it.
    source = pypdfium2.PdfDocument(data) if count > PAGES_PER_WINDOW else None
    try:
        for first in range(0, count, PAGES_PER_WINDOW):
            last = min(first + PAGES_PER_WINDOW, count)
            try:
                window = data if source is None else _pages_of(source, first, last)
                elements = pdf_elements(window, filename, page_texts[first:last])
            except Exception as exc:  # unstructured raises ValueError, KeyError, ... for broken pages
                pages = "the PDF" if source is None else f"pages {first + 1}-{last} of the PDF"
                raise PdfWindowFailed(f"could not parse {pages}: {type(exc).__name__}: {exc}") from exc
            for element in elements:
                yield replace(element, page=None if element.page is None else element.page + first)
    finally:
        if source is not None:
            source.close()


class PdfWindowFailed(Exception):
    """A window of a big PDF's pages could not be parsed."""


def _pages_of(source: pypdfium2.PdfDocument, first: int, last: int) -> bytes:
    """A PDF of pages `first` (from 0) to `last` (excluded) of `source`."""
    window = pypdfium2.PdfDocument.new()
    try:
        window.import_pages(source, list(range(first, last)))
        buffer = io.BytesIO()
        window.save(buffer)
        return buffer.getvalue()
    finally:
        window.close()
