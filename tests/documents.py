"""Real documents of every supported format, made by the tests (a few KB each), and broken ones."""

from __future__ import annotations

import io
import random
import zipfile

import matplotlib

matplotlib.use("Agg")

from docx import Document as WordDocument
from matplotlib import pyplot
from matplotlib.backends.backend_pdf import PdfPages


def pdf(pages: list[list[str]]) -> bytes:
    """A text PDF (TrueType fonts, so the text is extractable), one list of lines per page."""
    matplotlib.rcParams["pdf.fonttype"] = 42
    buffer = io.BytesIO()
    with PdfPages(buffer) as document:
        for lines in pages:
            figure = pyplot.figure(figsize=(8.27, 11.69))
            for row, line in enumerate(lines):
                figure.text(0.08, 0.92 - row * 0.04, line, fontsize=12 if row else 18)
            document.savefig(figure)
            pyplot.close(figure)
    return buffer.getvalue()


def docx(title: str, sections: dict[str, str]) -> bytes:
    """A Word document: a title, then a heading and a paragraph per section."""
    document = WordDocument()
    document.add_heading(title, level=0)
    for heading, paragraph in sections.items():
        document.add_heading(heading, level=1)
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def html(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    head = f"<head><title>{title}</title></head>"
    return f"<!doctype html><html>{head}<body><h1>{title}</h1>{body}</body></html>".encode()


def docx_zip_bomb(megabytes: int = 300) -> bytes:
    """A .docx-shaped ZIP whose document.xml inflates to `megabytes` MiB of zeros (~1 KB per MiB packed)."""
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
