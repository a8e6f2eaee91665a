"""Unit tests of the OCR benchmark's table and its scanned pages (`bench.ocr`)."""

from __future__ import annotations

import pickle

import pypdfium2

from apps.stream_processors import pdf_ocr
from apps.stream_processors.pdf_elements import pdf_page_texts
from bench.ocr import LINES_A_PAGE, partition, row, scan, text_pdf


def test_a_row_gives_pages_a_second() -> None:
    assert row("scanned: OCR, 1 process", 10, 4.0, 0.98765) == (
        "scanned: OCR, 1 process",
        10,
        4.0,
        2.5,
        "0.988",
    )


def test_the_scan_has_the_text_pdfs_pages_as_images_only() -> None:
    text = text_pdf(2)
    texts = pdf_page_texts(text)
    assert [len(t.splitlines()) for t in texts] == [LINES_A_PAGE, LINES_A_PAGE]
    assert texts[0] != texts[1]
    scanned = scan(text)
    document = pypdfium2.PdfDocument(scanned)
    assert pdf_page_texts(scanned) == ["", ""]
    assert [pdf_ocr.is_scanned(document[i], "") for i in range(2)] == [True, True]


def test_partition_reads_every_element_and_its_result_crosses_processes() -> None:
    # A PDF's elements are read as they are taken: the timing must include reading them, and the
    # worker processes send the result back pickled.
    extraction = pickle.loads(pickle.dumps(partition(text_pdf(1))))
    assert isinstance(extraction.elements, list)
    words = " ".join(e.text for e in extraction.elements).split()
    assert len(words) > 100
