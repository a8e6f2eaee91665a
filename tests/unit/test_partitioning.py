"""Unit tests of `apps.stream_processors.partitioning` with the real, offline `unstructured`.

The first partition loads spaCy (a few seconds); the rest of the module is quick.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from apps.stream_processors import spacy_answers
from apps.stream_processors.chunking import TextElement
from apps.stream_processors.partitioning import (
    MAX_ZIP_COMPRESSION_RATIO,
    MAX_ZIP_UNCOMPRESSED_BYTES,
    UnparseableDocument,
    configure_offline,
    partition_document,
)
from tests import documents
from tests.documents import DOCX, PAGE_TEXTS, PDF


@pytest.fixture(scope="module", autouse=True)
def offline_parser() -> None:
    configure_offline()


def partition(data: bytes, filename: str, content_type: str) -> list[TextElement]:
    return list(partition_document(data, filename, content_type).elements)


def texts(elements: list[TextElement]) -> list[str]:
    return [e.text for e in elements]


def test_plain_text_paragraphs() -> None:
    data = (
        b"Penguins are flightless birds that live in the Southern Hemisphere.\n\n"
        b"Emperor penguins breed during the Antarctic winter, on the sea ice.\n\n"
        b"   \n\n"
        b"Krill, fish and squid make up most of what they eat.\n"
    )
    elements = partition(data, "penguins.txt", "text/plain")
    assert texts(elements) == [
        "Penguins are flightless birds that live in the Southern Hemisphere.",
        "Emperor penguins breed during the Antarctic winter, on the sea ice.",
        "Krill, fish and squid make up most of what they eat.",
    ]
    assert all(e.page is None for e in elements)


def test_plain_text_in_utf8_with_multibyte_characters() -> None:
    data = "Les manchots empereurs vivent en Antarctique, où il fait très froid. 🐧 企鹅\n".encode()
    [element] = partition(data, "manchots.txt", "text/plain")
    assert element.text == "Les manchots empereurs vivent en Antarctique, où il fait très froid. 🐧 企鹅"


def test_markdown_headings_are_titles() -> None:
    data = (
        b"# Emperor penguins\n\n"
        b"Emperor penguins breed during the Antarctic winter, walking far inland to their colonies.\n\n"
        b"## Incubation\n\n"
        b"The male incubates the single egg on his feet for about two months.\n\n"
        b"- krill\n- fish\n"
    )
    elements = partition(data, "penguins.md", "text/markdown")
    by_text = {e.text: e for e in elements}
    assert by_text["Emperor penguins"].is_title
    assert by_text["Incubation"].is_title
    assert not by_text[
        "Emperor penguins breed during the Antarctic winter, walking far inland to their colonies."
    ].is_title
    assert not by_text["The male incubates the single egg on his feet for about two months."].is_title
    assert texts(elements).index("Emperor penguins") < texts(elements).index("Incubation")
    assert {"krill", "fish"} <= set(by_text)


def test_html() -> None:
    data = (
        b"<!doctype html><html><head><title>Penguins</title><style>p {color: red}</style></head>"
        b"<body><h1>Emperor penguins</h1>"
        b"<p>Emperor penguins breed during the Antarctic winter, walking far inland to their colonies.</p>"
        b"<h2>Incubation</h2>"
        b"<p>The male incubates the single egg on his feet for about two months.</p>"
        b"<script>var x = 'not text';</script></body></html>"
    )
    elements = partition(data, "penguins.html", "text/html")
    by_text = {e.text: e for e in elements}
    assert by_text["Emperor penguins"].is_title
    assert by_text["Incubation"].is_title
    paragraph = "Emperor penguins breed during the Antarctic winter, walking far inland to their colonies."
    assert not by_text[paragraph].is_title
    assert "The male incubates the single egg on his feet for about two months." in by_text
    assert not any("not text" in t or "color: red" in t for t in texts(elements))


def test_docx() -> None:
    elements = partition(documents.docx(), "penguins.docx", DOCX)
    assert [(e.text, e.is_title) for e in elements] == [
        ("Emperor penguins", True),
        ("Emperor penguins breed during the Antarctic winter, on the sea ice.", False),
        ("Incubation", True),
        ("The male incubates the single egg on his feet for about two months.", False),
    ]


def test_pdf_reports_page_numbers() -> None:
    elements = partition(documents.pdf(), "penguins.pdf", PDF)
    assert {e.page for e in elements} == {1, 2}
    text_by_page = {page: " ".join(e.text for e in elements if e.page == page) for page in (1, 2)}
    for page, lines in enumerate(PAGE_TEXTS, start=1):
        for line in lines:
            assert line in text_by_page[page], (line, text_by_page)
    # Reading order: everything of page 1 before page 2.
    pages = [e.page or 0 for e in elements]
    assert pages == sorted(pages)


def test_corrupt_pdf() -> None:
    with pytest.raises(UnparseableDocument, match="no text could be extracted"):
        partition(b"%PDF-1.4 garbage", "broken.pdf", PDF)


def test_a_pdf_without_text() -> None:
    with pytest.raises(UnparseableDocument, match="no text could be extracted"):
        partition(documents.pdf([[]]), "blank.pdf", PDF)


@pytest.mark.parametrize("content_type", ["text/plain", "text/markdown", "text/html"])
@pytest.mark.parametrize("data", [b"", b"  \n\n\t  \n"], ids=["empty", "whitespace"])
def test_empty_text(content_type: str, data: bytes) -> None:
    with pytest.raises(UnparseableDocument, match="holds no text"):
        partition(data, "empty.txt", content_type)


def test_html_without_text() -> None:
    with pytest.raises(UnparseableDocument, match="holds no text"):
        partition(b"<html><body><div>  </div><script>x()</script></body></html>", "e.html", "text/html")


@pytest.mark.parametrize(
    "data",
    [b"garbage bytes, not a zip", b"PK\x03\x04 truncated zip header", b""],
    ids=["garbage", "truncated", "empty"],
)
def test_garbage_as_docx(data: bytes) -> None:
    with pytest.raises(UnparseableDocument, match="not a valid Word document"):
        partition(data, "broken.docx", DOCX)


def test_a_zip_without_a_word_document() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("hello.txt", "Hello, this is a zip file but not a Word document.")
    with pytest.raises(UnparseableDocument, match=r"no word/document\.xml"):
        partition(buffer.getvalue(), "fake.docx", DOCX)


def test_docx_zip_bomb_by_compression_ratio() -> None:
    bomb = documents.docx_zip_bomb(8)
    assert len(bomb) * MAX_ZIP_COMPRESSION_RATIO < 8 * 1024 * 1024
    with pytest.raises(UnparseableDocument, match="ZIP bomb") as raised:
        partition(bomb, "bomb.docx", DOCX)
    assert "word/document.xml" in str(raised.value)


def test_docx_zip_bomb_by_size() -> None:
    """300 MiB of zeros in a ~300 KB file (building it takes about a second)."""
    bomb = documents.docx_zip_bomb(300)
    assert len(bomb) < 1024 * 1024
    assert MAX_ZIP_UNCOMPRESSED_BYTES < 300 * 1024 * 1024
    with pytest.raises(UnparseableDocument, match="ZIP bomb") as raised:
        partition(bomb, "bomb.docx", DOCX)
    assert "MiB" in str(raised.value)


def test_a_docx_with_a_broken_document_part() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document><not xml")
    with pytest.raises(UnparseableDocument, match="could not parse it as"):
        partition(buffer.getvalue(), "broken.docx", DOCX)


def test_html_and_markdown_parse_without_spacy_or_language_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    import unstructured.nlp.tokenize
    import unstructured.partition.common.lang

    def forbidden(*_: object, **__: object) -> None:
        raise AssertionError("called for nothing ragstream keeps")

    monkeypatch.setattr(unstructured.nlp.tokenize, "_get_nlp", forbidden)
    monkeypatch.setattr(unstructured.partition.common.lang, "detect_languages", forbidden)
    html = (
        b"<html><body><h2>Walruses</h2><p>Walruses haul out on sea ice between their dives for clams.</p>"
        b"<div>WALRUS TUSKS GROW THROUGHOUT LIFE</div><ul><li>clams</li></ul></body></html>"
    )
    elements = partition(html, "walruses.html", "text/html")
    assert [(e.text, e.is_title) for e in elements] == [
        ("Walruses", True),
        ("Walruses haul out on sea ice between their dives for clams.", False),
        ("WALRUS TUSKS GROW THROUGHOUT LIFE", False),
        ("clams", False),
    ]
    markdown = b"# Narwhals\n\nNarwhals are toothed whales of the Arctic with one long tusk.\n"
    assert [(e.text, e.is_title) for e in partition(markdown, "narwhals.md", "text/markdown")] == [
        ("Narwhals", True),
        ("Narwhals are toothed whales of the Arctic with one long tusk.", False),
    ]


def counted_analyses(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Put a counting spaCy pipeline in unstructured's place; returns the texts of each run of it,
    a run of one text for a single analysis."""
    import unstructured.nlp.tokenize

    nlp = unstructured.nlp.tokenize._get_nlp()
    runs: list[list[str]] = []

    class CountingPipeline:
        tokenizer = nlp.tokenizer

        def __call__(self, text: str) -> Any:
            runs.append([text])
            return nlp(text)

        def pipe(self, texts: list[str]) -> Any:
            runs.append(list(texts))
            return nlp.pipe(texts)

    monkeypatch.setattr(unstructured.nlp.tokenize, "_get_nlp", CountingPipeline)
    return runs


def test_plain_text_paragraphs_are_analysed_once_and_together(monkeypatch: pytest.MonkeyPatch) -> None:
    batches = counted_analyses(monkeypatch)
    paragraphs = [
        "Harbour seals rest on sandbanks at low tide. They hunt when the water rises again.",
        "GREY SEALS",
        "Grey seals gather in colonies on rocky shores each autumn to breed.",
    ]
    elements = partition("\n\n".join(paragraphs).encode(), "seals.txt", "text/plain")

    assert [(e.text, e.is_title) for e in elements] == [
        (paragraphs[0], False),
        (paragraphs[1], True),
        (paragraphs[2], False),
    ]
    # Sentences, tags and word counts of every paragraph come from one run of the pipeline.
    assert batches == [paragraphs]


def test_a_long_text_is_analysed_a_batch_of_paragraphs_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    batches = counted_analyses(monkeypatch)
    count = spacy_answers.BATCH_PARAGRAPHS + 6
    paragraphs = [
        f"Sea otter number {n} floats on its back and cracks a sea urchin open." for n in range(count)
    ]
    elements = partition("\n\n".join(paragraphs).encode(), "otters.txt", "text/plain")

    assert texts(elements) == paragraphs
    assert [len(batch) for batch in batches] == [spacy_answers.BATCH_PARAGRAPHS, 6]
