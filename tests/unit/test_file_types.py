"""Unit tests of `apps.common.file_types`: content types by extension, confirmed by the first bytes."""

from __future__ import annotations

import io
import random
import zipfile

import pytest

from apps.common.file_types import (
    CONTENT_TYPES,
    SNIFF_BYTES,
    content_mismatch,
    content_type_for,
    supported_extensions,
)

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
REAL_PDF_HEAD = (
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
)


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("notes.txt", "text/plain"),
        ("notes.text", "text/plain"),
        ("README.md", "text/markdown"),
        ("guide.markdown", "text/markdown"),
        ("index.html", "text/html"),
        ("index.htm", "text/html"),
        ("paper.pdf", PDF),
        ("letter.docx", DOCX),
        ("PAPER.PDF", PDF),
        ("Letter.DocX", DOCX),
        ("Index.HTML", "text/html"),
        ("docs/2024/report.final.pdf", PDF),
        ("dir.with.dots/notes.TXT", "text/plain"),
    ],
)
def test_content_type_by_extension(filename: str, content_type: str) -> None:
    assert content_type_for(filename) == content_type


@pytest.mark.parametrize(
    "filename",
    ["image.png", "archive.zip", "old.doc", "sheet.xls", "Makefile", "noext", ".pdf", "pdf", "notes.txt.gz"],
)
def test_unsupported_extensions(filename: str) -> None:
    assert content_type_for(filename) is None


def test_supported_extensions_lists_them_all() -> None:
    listed = supported_extensions().split(", ")
    assert listed == sorted(CONTENT_TYPES)
    assert {".pdf", ".docx", ".txt", ".md", ".html"} <= set(listed)


def test_a_real_pdf_header_passes() -> None:
    assert content_mismatch(PDF, REAL_PDF_HEAD) is None


def test_a_pdf_header_after_some_junk_passes() -> None:
    # Readers accept a %PDF- header within the first kilobyte.
    assert content_mismatch(PDF, b"\r\n" * 100 + REAL_PDF_HEAD) is None


def test_text_named_pdf_fails() -> None:
    reason = content_mismatch(PDF, b"This is just a text file.\n" * 10)
    assert reason is not None
    assert ".pdf" in reason


def test_a_pdf_header_too_far_in_fails() -> None:
    assert content_mismatch(PDF, b" " * 2000 + REAL_PDF_HEAD) is not None


def _docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def test_a_zip_named_docx_passes() -> None:
    assert content_mismatch(DOCX, _docx_bytes()) is None


@pytest.mark.parametrize(
    "head",
    [b"Hello, this is plain text.", REAL_PDF_HEAD, b"", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old .doc"],
    ids=["text", "pdf", "empty", "ole2-doc"],
)
def test_not_a_zip_named_docx_fails(head: bytes) -> None:
    reason = content_mismatch(DOCX, head)
    assert reason is not None
    assert "ZIP" in reason


@pytest.mark.parametrize("content_type", ["text/plain", "text/markdown", "text/html"])
def test_random_binary_named_as_text_fails(content_type: str) -> None:
    head = random.Random(0).randbytes(SNIFF_BYTES)
    reason = content_mismatch(content_type, head)
    assert reason is not None
    assert "binary" in reason


def test_random_binary_without_nul_bytes_named_as_text_fails() -> None:
    head = bytes(b or 1 for b in random.Random(0).randbytes(4096))
    assert b"\x00" not in head
    reason = content_mismatch("text/plain", head)
    assert reason is not None
    assert "binary" in reason


def test_nul_bytes_named_as_text_fail() -> None:
    reason = content_mismatch("text/plain", b"looks like text\x00\x00\x00but is not")
    assert reason is not None
    assert "NUL" in reason


@pytest.mark.parametrize("content_type", ["text/plain", "text/markdown", "text/html"])
def test_utf8_text_passes(content_type: str) -> None:
    head = "# Emperor penguins 🐧\n\nCafé, naïve, 企鹅, Ελληνικά.\n".encode() * 50
    assert content_mismatch(content_type, head) is None


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_utf8_text_cut_inside_a_multibyte_character_passes(cut: int) -> None:
    text = ("Penguins 🐧 live in the south. " * 200).encode()
    end = text.rindex("🐧".encode())
    head = text[: end + cut]
    with pytest.raises(UnicodeDecodeError):
        head.decode("utf-8")
    assert content_mismatch("text/plain", head) is None


def test_latin1_text_passes() -> None:
    head = "Café crème, naïveté, résumé, façade, Ærø, señor.\n".encode("latin-1") * 100
    with pytest.raises(UnicodeDecodeError):
        head.decode("utf-8")
    assert content_mismatch("text/plain", head) is None


def test_windows_line_endings_and_tabs_pass() -> None:
    head = b"col1\tcol2\r\nvalue\tother\r\n\x0c\n" * 100
    assert content_mismatch("text/plain", head) is None


def test_unknown_content_types_are_not_checked() -> None:
    assert content_mismatch("application/octet-stream", random.Random(0).randbytes(100)) is None
