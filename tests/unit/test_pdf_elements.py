"""Unit tests of `apps.stream_processors.pdf_elements` on PDFs drawn here with matplotlib (a two-column
page, running headers, a font without its Unicode map), through the real, offline `unstructured`."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence

import matplotlib
import pikepdf
import pypdfium2
import pytest
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from apps.stream_processors import pdf_elements as reading
from apps.stream_processors.chunking import TextElement
from apps.stream_processors.coverage import word_counts
from apps.stream_processors.partitioning import configure_offline
from tests import documents

SKIPPED_BY_PARTITIONING = frozenset({"Header", "Footer", "PageBreak", "PageNumber", "Image"})
Text = tuple[float, float, str, float]  # x and y as fractions of the page from its bottom left, text, size

TITLE = "Penguins of the far south"
# "ﬁ" is the one-character ligature (U+FB01) that typeset PDFs map their "fi" glyph to.
LEFT = (
    "Emperor penguins breed in the depth of",
    "the Antarctic winter, far from the open",
    "sea, on ice that is stable for months.",
    "The male keeps the egg on his feet and",
    "fasts while the ﬁrst storms blow across.",
)
RIGHT = (
    "King penguins raise a chick over more",
    "than a year, so a pair breeds at most",
    "twice in three years on the islands,",
    "near the polar front where the ﬁsh and",
    "squid they eat are plentiful all year.",
)


@pytest.fixture(scope="module", autouse=True)
def offline_parser() -> None:
    configure_offline()


def pdf(pages: Sequence[Sequence[Text]], *, serif: str = "") -> bytes:
    """A PDF of `pages` in DejaVu Sans, and the text `serif` in DejaVu Serif on the first page."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(buffer) as document:
        for number, texts in enumerate(pages):
            figure = Figure(figsize=(8.27, 11.69))
            for x, y, text, size in texts:
                figure.text(x, y, text, fontsize=size)
            if serif and not number:
                figure.text(0.08, 0.5, serif, fontsize=11, family="DejaVu Serif")
            document.savefig(figure)
    return buffer.getvalue()


def column(x: float, lines: Sequence[str]) -> list[Text]:
    return [(x, 0.85 - 0.016 * row, line, 9) for row, line in enumerate(lines)]


def two_columns() -> bytes:
    """A page with its title in the top 7 % of the page, two columns of text, its number at the foot."""
    return pdf([[(0.3, 0.95, TITLE, 16), *column(0.08, LEFT), *column(0.53, RIGHT), (0.5, 0.03, "1", 9)]])


BODIES = ("Emperor penguins dive deep.", "King penguins moult in spring.", "Adelie penguins steal stones.")


def newsletter() -> bytes:
    """Three pages, each with the same header at the top and its number at the bottom."""
    return pdf(
        [
            [(0.08, 0.97, "Penguin Society newsletter", 9), (0.5, 0.03, str(n), 9), (0.08, 0.8, body, 11)]
            for n, body in enumerate(
                (
                    "Emperor penguins dive deep.",
                    "King penguins moult in spring.",
                    "Adelie penguins steal stones.",
                ),
                start=1,
            )
        ]
    )


def without_unicode_maps(data: bytes, family: str = "DejaVuSans") -> bytes:
    """The PDF with the ToUnicode maps of a font family's fonts removed: pdfminer then writes
    "(cid:N)" for each of their glyphs."""
    document = pikepdf.open(io.BytesIO(data))
    for page in document.pages:
        for font in page.Resources.Font.values():
            if str(font.BaseFont).endswith(f"+{family}") and "/ToUnicode" in font:  # fonts are shared
                del font["/ToUnicode"]
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def texts(elements: list[TextElement]) -> list[str]:
    return [e.text for e in elements]


def pdf_text(data: bytes) -> str:
    """The reference text partitioning measures a PDF's chunks against."""
    return "\n".join(reading.pdf_page_texts(data))


def pdf_elements(data: bytes, filename: str) -> list[TextElement]:
    """The elements, from pdfium's reading of the pages as partitioning makes it."""
    return reading.pdf_elements(data, filename, reading.pdf_page_texts(data))


def test_pdf_text_reads_every_page_in_order() -> None:
    text = pdf_text(documents.pdf())
    lines = [line for page in documents.PAGE_TEXTS for line in page]
    assert [text.index(line) for line in lines] == sorted(text.index(line) for line in lines)


def test_pdf_text_reads_what_the_page_shows() -> None:
    data = pdf([[(0.08, 0.8, "Emperor penguins dive deep.", 11), (1.3, 0.5, "Placed off the page", 11)]])
    assert pdf_text(data).split() == ["Emperor", "penguins", "dive", "deep."]


def test_pdf_text_reads_glyphs_without_a_unicode_map() -> None:
    data = without_unicode_maps(pdf([[(0.08, 0.8, "Emperor penguins dive deep.", 11)]]))
    assert pdf_text(data).split() == ["Emperor", "penguins", "dive", "deep."]


def test_a_broken_pdf_raises() -> None:
    with pytest.raises(pypdfium2.PdfiumError):
        pdf_text(documents.corrupt_pdf())
    with pytest.raises(pypdfium2.PdfiumError):
        pdf_elements(b"%PDF-1.4 garbage", "broken.pdf")


def test_two_columns_one_after_the_other_under_the_title() -> None:
    elements = pdf_elements(two_columns(), "penguins.pdf")
    assert [(e.text, e.is_title, e.page) for e in elements] == [
        (TITLE, True, 1),
        (" ".join(LEFT).replace("ﬁ", "fi"), False, 1),
        (" ".join(RIGHT).replace("ﬁ", "fi"), False, 1),
    ]


def test_running_headers_and_page_numbers_are_left_out() -> None:
    elements = pdf_elements(newsletter(), "newsletter.pdf")
    assert [(e.text, e.page) for e in elements] == [(body, n) for n, body in enumerate(BODIES, start=1)]


def test_a_page_pdfminer_cannot_read_takes_pdfium_text() -> None:
    first = [(0.08, 0.8, "Emperor pen-", 11), (0.08, 0.78, "guins dive deep.", 11)]
    data = without_unicode_maps(pdf([first, [(0.08, 0.8, "Krill", 11), (0.08, 0.7, "and squid", 11)]]))
    assert [(e.text, e.page) for e in pdf_elements(data, "unmapped.pdf")] == [
        ("Emperor pen-guins dive deep.", 1),  # pdfium joins the lines, and marks the hyphen
        ("Krill\nand squid", 2),
    ]


def test_glyphs_pdfminer_cannot_map_are_left_out() -> None:
    sentence = "Emperor penguins breed during the Antarctic winter, on the sea ice, far from the open sea."
    data = without_unicode_maps(pdf([[(0.08, 0.8, sentence, 11)]], serif="Krill"), family="DejaVuSerif")
    assert texts(pdf_elements(data, "unmapped.pdf")) == [sentence]


def test_unstructured_alone_loses_the_title_and_the_ligatured_words() -> None:
    """The reason for this module: unstructured's fast PDF elements, as partitioning took them."""
    from unstructured.partition.pdf import partition_pdf

    data = two_columns()
    reference = word_counts([pdf_text(data)])
    raw = partition_pdf(file=io.BytesIO(data), strategy="fast", languages=["eng"])
    theirs = word_counts(e.text for e in raw if e.category not in SKIPPED_BY_PARTITIONING)
    assert reference - word_counts(texts(pdf_elements(data, "penguins.pdf"))) == Counter({"1": 1})
    assert reference - theirs == Counter(["1", "first", "fish", *TITLE.lower().split()])
