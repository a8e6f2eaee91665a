"""Real documents of every supported format, made by the tests in memory (a few KB each), and broken ones."""

from __future__ import annotations

import csv
import io
import random
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from types import MappingProxyType

import docx as python_docx
import matplotlib
import openpyxl  # type: ignore[import-untyped]
import pptx as python_pptx
import pypandoc  # type: ignore[import-untyped]
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


def pptx(slides: Sequence[tuple[str, str, str]]) -> bytes:
    """A PowerPoint deck of a "Title and Content" slide per (title, body, speaker notes); an empty
    title or notes is left out, and the body's lines are its bullets."""
    deck = python_pptx.Presentation()
    for title, body, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        if title and slide.shapes.title is not None:
            slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = body
        if notes:
            frame = slide.notes_slide.notes_text_frame
            assert frame is not None
            frame.text = notes
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def xlsx(sheets: Mapping[str, Sequence[Sequence[object]]]) -> bytes:
    """An Excel workbook with a sheet of these rows per name, in order."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_file(rows: Sequence[Sequence[str]], delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode()


def eml(subject: str, body: str, *, html: str | None = None, attachment: bytes | None = None) -> bytes:
    """An e-mail from Ana to Bob: a text/plain body, with `html` its HTML alternative (or, without
    `body`, its only part), and `attachment` a file attached."""
    message = EmailMessage()
    message["From"] = "Ana Lima <ana@example.org>"
    message["To"] = "Bob Stone <bob@example.org>"
    message["Subject"] = subject
    message["Date"] = "Tue, 02 Jan 2024 09:30:00 +0000"
    if body:
        message.set_content(body)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="a.bin")
    return bytes(message)


def pandoc_document(markdown: str, to: str) -> bytes:
    """Markdown converted by the pandoc the pypandoc-binary wheel ships: "epub", "odt", "rtf", "rst"."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / f"document.{to}"
        pypandoc.convert_text(markdown, to, format="md", outputfile=str(output), extra_args=["--standalone"])
        return output.read_bytes()


SCANNED_PAGE_TEXTS = (
    (
        "Lighthouses guided ships along dangerous coasts",
        "long before radio beacons and satellite navigation.",
        "Their lamps turned behind large Fresnel lenses of glass.",
    ),
    (
        "The keeper climbed the tower every evening at dusk",
        "to wind the clockwork that turned the heavy lens.",
        "In storms he stayed awake through the whole night.",
    ),
)


def scanned_pdf(pages: Sequence[Sequence[str]] = SCANNED_PAGE_TEXTS, *, dpi: int = 200) -> bytes:
    """An image-only PDF, as a scanner makes: each item of `pages` an A4 picture of its lines in
    11 pt DejaVu Sans at `dpi`, with no text layer."""
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), round(11 * dpi / 72))
    images = []
    for lines in pages:
        image = Image.new("L", (round(8.27 * dpi), round(11.69 * dpi)), 255)
        draw = ImageDraw.Draw(image)
        for row, line in enumerate(lines):
            draw.text((dpi, dpi + row * round(16 * dpi / 72)), line, font=font, fill=0)
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return buffer.getvalue()


def joined_pdfs(*parts: bytes) -> bytes:
    """One PDF of the pages of `parts`, in order (a text page beside a scanned one, say)."""
    import pypdfium2

    joined = pypdfium2.PdfDocument.new()
    for part in parts:
        joined.import_pages(pypdfium2.PdfDocument(part))
    buffer = io.BytesIO()
    joined.save(buffer)
    return buffer.getvalue()
