"""Unit tests of `apps.stream_processors.pdf_ocr` on image-only PDFs drawn here with Pillow, through the
PDF path of `partitioning` and the real RapidOCR models."""

from __future__ import annotations

import io

import pypdfium2
import pytest
from PIL import Image

from apps.stream_processors import pdf_ocr
from apps.stream_processors.chunking import ChunkingPolicy, TextElement, chunk_elements
from apps.stream_processors.coverage import kept_share, word_counts
from apps.stream_processors.partitioning import UnparseableDocument, configure_offline, partition_document
from apps.stream_processors.pdf_elements import pdf_page_texts
from tests import documents
from tests.documents import PAGE_TEXTS, PDF, SCANNED_PAGE_TEXTS

MIN_WORDS_READ = 0.9  # OCR may misread a word or two


@pytest.fixture(scope="module", autouse=True)
def offline_parser() -> None:
    configure_offline()


def words_read(expected: list[str] | tuple[str, ...], elements: list[TextElement]) -> float:
    wanted = set(word_counts(expected))
    return len(wanted & set(word_counts(e.text for e in elements))) / len(wanted)


def on_page(elements: list[TextElement], page: int) -> list[TextElement]:
    return [e for e in elements if e.page == page]


def test_each_scanned_page_is_read_with_its_page_number() -> None:
    extraction = partition_document(documents.scanned_pdf(), "scan.pdf", PDF)
    elements = list(extraction.elements)
    assert {e.page for e in elements} == {1, 2}
    for page, lines in enumerate(SCANNED_PAGE_TEXTS, start=1):
        assert words_read(lines, on_page(elements, page)) >= MIN_WORDS_READ, elements
    # The page's OCR text is the reference the coverage guard measures the chunks against.
    assert words_read(SCANNED_PAGE_TEXTS[1], [TextElement(text=extraction.reference)]) >= MIN_WORDS_READ


def test_a_scanned_pdf_passes_the_coverage_guard() -> None:
    extraction = partition_document(documents.scanned_pdf(), "scan.pdf", PDF)
    chunks = chunk_elements(extraction.elements, ChunkingPolicy(200, 30))
    assert kept_share(extraction.reference, (c.text for c in chunks)) == 1.0
    assert [c.page for c in chunks] == [1, 2]


def test_a_text_page_and_a_scanned_page_are_both_kept() -> None:
    mixed = documents.joined_pdfs(
        documents.pdf(PAGE_TEXTS[:1]), documents.scanned_pdf(SCANNED_PAGE_TEXTS[1:])
    )
    elements = list(partition_document(mixed, "mixed.pdf", PDF).elements)
    assert [line for e in on_page(elements, 1) for line in e.text.splitlines()] == list(PAGE_TEXTS[0])
    assert words_read(SCANNED_PAGE_TEXTS[1], on_page(elements, 2)) >= MIN_WORDS_READ, elements
    assert {e.page for e in elements} == {1, 2}


def test_a_page_with_a_text_layer_is_not_read_by_ocr() -> None:
    data = documents.joined_pdfs(documents.pdf(), documents.scanned_pdf())
    document, texts = pypdfium2.PdfDocument(data), pdf_page_texts(data)
    scanned = [pdf_ocr.is_scanned(document[i], text) for i, text in enumerate(texts)]
    assert scanned == [False, False, True, True]


def blank_scan() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (1654, 2339), 255).save(buffer, "PDF", resolution=200)
    return buffer.getvalue()


def test_a_scan_without_legible_text_fails_with_a_clear_message() -> None:
    with pytest.raises(UnparseableDocument, match="no text could be extracted from the PDF, not even by OCR"):
        partition_document(blank_scan(), "blank-scan.pdf", PDF)


def test_an_ocr_failure_fails_the_document_naming_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(image: object) -> list[str]:
        raise RuntimeError("onnxruntime: bad allocation")

    monkeypatch.setattr(pdf_ocr, "image_lines", broken)
    with pytest.raises(UnparseableDocument, match="the OCR of page 1 failed: RuntimeError: onnxruntime"):
        partition_document(documents.scanned_pdf(), "scan.pdf", PDF)


def test_a_poster_sized_page_is_rendered_within_the_limit() -> None:
    poster = pypdfium2.PdfDocument.new()
    page = poster.new_page(72 * 100, 72 * 50)  # 100 x 50 inches
    image = pdf_ocr.render(page)
    assert max(image.shape[:2]) == pdf_ocr.MAX_RENDER_SIDE
    a4 = pypdfium2.PdfDocument(documents.scanned_pdf(dpi=pdf_ocr.RENDER_DPI))[0]
    height, width = pdf_ocr.render(a4).shape[:2]
    # The scan's own pixels, give or take rounding.
    assert abs(height - 2338) <= 1
    assert abs(width - 1654) <= 1
