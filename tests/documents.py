"""Real documents of every supported format, made by the tests in memory (a few KB each), and broken ones."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import docx as python_docx
import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

PAGE_TEXTS = (
    (
        "Emperor penguins breed during the Antarctic winter,",
        "walking up to 120 km inland to reach their colonies on the sea ice.",
    ),
    (
        "The male emperor penguin incubates the single egg on his feet",
        "for about two months while the female feeds at sea.",
    ),
)
DOCX_SECTIONS: Mapping[str, str] = MappingProxyType(
    {
        "Emperor penguins": "Emperor penguins breed during the Antarctic winter, on the sea ice.",
        "Incubation": "The male incubates the single egg on his feet for about two months.",
    }
)


def pdf(pages: Sequence[Sequence[str]] = PAGE_TEXTS) -> bytes:
    """A real PDF with one page per item of `pages`, each line of text as a text object."""
    buffer = io.BytesIO()
    # Type 42 (TrueType) fonts keep the text extractable as Unicode. A Figure of its own and
    # rc_context leave pyplot's global state alone.
    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(buffer) as document:
        for lines in pages:
            figure = Figure(figsize=(8.27, 11.69))
            for row, line in enumerate(lines):
                figure.text(0.08, 0.9 - 0.03 * row, line, fontsize=11)
            document.savefig(figure)
    return buffer.getvalue()


def docx(sections: Mapping[str, str] = DOCX_SECTIONS) -> bytes:
    """A Word document: a heading and a paragraph (if not empty) per section; the first heading is
    the title, at level 1, the others are at level 2."""
    document = python_docx.Document()
    for number, (heading, paragraph) in enumerate(sections.items()):
        document.add_heading(heading, level=1 if number == 0 else 2)
        if paragraph:
            document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def html(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    head = f"<head><title>{title}</title></head>"
    return f"<!doctype html><html>{head}<body><h1>{title}</h1>{body}</body></html>".encode()


def docx_zip_bomb(megabytes: int = 300) -> bytes:
    """A ZIP named like a .docx whose word/document.xml inflates to `megabytes` MiB of zeros
    (~1 KB packed per MiB). Written in a stream of 1 MiB blocks: never held inflated in memory."""
    buffer = io.BytesIO()
    block = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as entry:
            for _ in range(megabytes):
                entry.write(block)
    return buffer.getvalue()


def binary_noise(size: int = 4096, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def corrupt_pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\nthis is not a real PDF body\n%%EOF\n"
