"""Slides, sheets, CSV, e-mail, EPUB, ODT, reStructuredText and RTF: told by extension, confirmed by
content, and parsed into chunks that keep every word (`file_types`, `partitioning`, `parsing`)."""

from __future__ import annotations

import io
import zipfile

import docx as python_docx
import pytest

from apps.common import file_types
from apps.common.file_types import content_mismatch, content_type_for
from apps.stream_processors.chunking import ChunkingPolicy
from apps.stream_processors.parsing import parse_document
from apps.stream_processors.partitioning import UnparseableDocument, configure_offline, partition_document
from tests import documents

POLICY = ChunkingPolicy(size=512, overlap=50)
BOOK = """# Emperor penguins

Emperor penguins breed during the Antarctic winter, on the sea ice.

Brood patch
:   A fold of skin that keeps the egg warm.

| Species | Height |
|---------|--------|
| Emperor | 115 cm |
"""
NEW_FORMATS = {
    "deck.pptx": documents.pptx([("Emperor penguins", "They breed in winter.", "Mention the cold.")]),
    "census.xlsx": documents.xlsx({"Colonies": [["Colony", "Birds"], ["Cape Crozier", 1200]]}),
    "census.csv": documents.csv_file([["Colony", "Birds"], ["Cape Crozier", "1200"]]),
    "census.eml": documents.eml("Penguin census", "We counted 1,200 birds at Cape Crozier."),
    "book.epub": documents.pandoc_document(BOOK, "epub"),
    "book.odt": documents.pandoc_document(BOOK, "odt"),
    "book.rst": documents.pandoc_document(BOOK, "rst"),
    "book.rtf": documents.pandoc_document(BOOK, "rtf"),
}


@pytest.fixture(scope="module", autouse=True)
def offline_parser() -> None:
    configure_offline()


def content_type(filename: str) -> str:
    found = content_type_for(filename)
    assert found is not None, filename
    return found


def zipped(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("Deck.PPTX", file_types.PPTX),
        ("sheet.xlsx", file_types.XLSX),
        ("data.csv", "text/csv"),
        ("message.eml", "message/rfc822"),
        ("book.epub", "application/epub+zip"),
        ("guide.rst", "text/x-rst"),
        ("letter.odt", "application/vnd.oasis.opendocument.text"),
        ("memo.rtf", "application/rtf"),
    ],
)
def test_the_new_extensions_are_supported(filename: str, expected: str) -> None:
    assert content_type_for(filename) == expected
    assert filename[filename.rindex(".") :].lower() in file_types.supported_extensions().split(", ")


@pytest.mark.parametrize("filename", sorted(NEW_FORMATS))
def test_real_files_pass_the_content_check(filename: str) -> None:
    head = NEW_FORMATS[filename][: file_types.SNIFF_BYTES]
    assert content_mismatch(content_type(filename), head) is None


@pytest.mark.parametrize("filename", ["deck.pptx", "sheet.xlsx", "book.epub", "letter.odt"])
def test_what_is_not_a_zip_fails_the_content_check(filename: str) -> None:
    reason = content_mismatch(content_type(filename), b"Just some text, not an archive.")
    assert reason is not None
    assert f"it is named {filename[filename.rindex('.') :]} but is not" in reason
    assert "not a ZIP container" in reason


def test_rtf_must_start_with_its_header() -> None:
    assert content_mismatch(file_types.RTF, b"{\\rtf1\\ansi Hello}") is None
    assert content_mismatch(file_types.RTF, b"Hello, plain text.") == (
        "it is named .rtf but is not RTF (it does not start with {\\rtf)"
    )


@pytest.mark.parametrize("filename", ["data.csv", "guide.rst", "message.eml"])
def test_binary_named_as_text_fails_the_content_check(filename: str) -> None:
    reason = content_mismatch(content_type(filename), documents.binary_noise())
    assert reason is not None
    assert "binary" in reason


@pytest.mark.parametrize("filename", sorted(NEW_FORMATS))
def test_every_word_reaches_the_chunks(filename: str) -> None:
    parsed = parse_document(NEW_FORMATS[filename], filename, content_type(filename), POLICY)
    assert parsed.coverage == 1.0, [c.text for c in parsed.chunks]


def test_slides_chunks_carry_the_slide_number_and_title() -> None:
    parsed = parse_document(NEW_FORMATS["deck.pptx"], "deck.pptx", file_types.PPTX, POLICY)
    [chunk] = parsed.chunks
    assert (chunk.page, chunk.section) == (1, "Emperor penguins")
    assert chunk.text == "Emperor penguins\n\nThey breed in winter.\n\nSpeaker notes: Mention the cold."


@pytest.mark.parametrize("filename", ["census.xlsx", "census.csv"])
def test_rows_are_read_with_their_header(filename: str) -> None:
    [chunk] = parse_document(NEW_FORMATS[filename], filename, content_type(filename), POLICY).chunks
    assert "Colony: Cape Crozier; Birds: 1200" in chunk.text
    assert chunk.section == ("Colonies" if filename.endswith(".xlsx") else None)


def test_an_email_is_under_its_subject() -> None:
    [chunk] = parse_document(NEW_FORMATS["census.eml"], "census.eml", file_types.EML, POLICY).chunks
    assert chunk.section == "Penguin census"
    assert "From: Ana Lima <ana@example.org>; To: Bob Stone <bob@example.org>" in chunk.text


@pytest.mark.parametrize("filename", ["book.epub", "book.odt", "book.rst", "book.rtf"])
def test_pandoc_formats_keep_their_sections(filename: str) -> None:
    chunks = parse_document(NEW_FORMATS[filename], filename, content_type(filename), POLICY).chunks
    assert chunks[-1].section == "Emperor penguins"
    assert "A fold of skin that keeps the egg warm." in chunks[-1].text


def test_a_docx_whose_content_is_in_tables_keeps_each_row_under_its_header() -> None:
    document = python_docx.Document()
    table = document.add_table(rows=3, cols=3)
    for row, cells in zip(
        table.rows,
        [
            ("Colony", "Birds", "Counted"),
            ("Cape Crozier", "1200", "2023"),
            ("Pointe Géologie", "3000", "2024"),
        ],
        strict=True,
    ):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse_document(buffer.getvalue(), "colonies.docx", file_types.DOCX, POLICY)
    assert parsed.coverage == 1.0
    assert parsed.chunks[0].text.split("\n\n") == [
        "Colony | Birds | Counted",
        "Colony: Cape Crozier; Birds: 1200; Counted: 2023",
        "Colony: Pointe Géologie; Birds: 3000; Counted: 2024",
    ]


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        (
            "fake.pptx",
            "it is named .pptx but is not a PowerPoint presentation (no ppt/presentation.xml inside)",
        ),
        ("fake.xlsx", "it is named .xlsx but is not an Excel workbook (no xl/workbook.xml inside)"),
        ("fake.epub", "it is named .epub but is not an EPUB e-book (no META-INF/container.xml inside)"),
        ("fake.odt", "it is named .odt but is not an OpenDocument text (no content.xml inside)"),
    ],
)
def test_a_word_document_renamed_fails_with_what_it_lacks(filename: str, message: str) -> None:
    with pytest.raises(UnparseableDocument) as raised:
        partition_document(documents.docx(), filename, content_type(filename))
    assert str(raised.value) == message


def test_a_random_zip_named_docx_fails_with_what_it_lacks() -> None:
    data = zipped({"hello.txt": b"Hello, not a Word document."})
    with pytest.raises(
        UnparseableDocument, match=r"^it is named \.docx but is not a Word document \(no word"
    ):
        partition_document(data, "fake.docx", file_types.DOCX)


@pytest.mark.parametrize("filename", ["bomb.pptx", "bomb.xlsx", "bomb.epub", "bomb.odt"])
def test_the_zip_bomb_guard_covers_every_zip_format(filename: str) -> None:
    with pytest.raises(UnparseableDocument, match="ZIP bomb"):
        partition_document(documents.docx_zip_bomb(8), filename, content_type(filename))


@pytest.mark.parametrize("filename", ["broken.pptx", "broken.xlsx"])
def test_a_broken_zip_fails_as_such(filename: str) -> None:
    with pytest.raises(UnparseableDocument, match="broken ZIP container"):
        partition_document(b"PK\x03\x04 truncated", filename, content_type(filename))


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("empty.csv", b""),
        ("empty.xlsx", documents.xlsx({"Empty": []})),
        ("blank.rst", b"\n\n"),
    ],
)
def test_documents_without_text_fail(filename: str, data: bytes) -> None:
    with pytest.raises(UnparseableDocument, match="holds no text"):
        partition_document(data, filename, content_type(filename))
