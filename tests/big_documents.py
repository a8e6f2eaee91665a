"""Big documents made in memory in a second or two: a PDF of a thousand pages, written object by object
(matplotlib takes minutes for one), and an HTML page of tens of megabytes."""

from __future__ import annotations

from collections.abc import Sequence


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})".encode("cp1252")


def pdf(pages: Sequence[Sequence[str]]) -> bytes:
    """A real PDF with one A4 page per item of `pages`, each line in Helvetica, as a text layer."""
    fixed = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the pages' numbers are known
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    objects = list(fixed)
    kids = []
    for lines in pages:
        content = (
            b"BT /F1 11 Tf 14 TL 56 790 Td "
            + b" T* ".join(_pdf_string(line) + b" Tj" for line in lines)
            + b" ET"
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        kids.append(len(objects) + 1)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >>"
            b" /Contents %d 0 R >>" % (len(objects))
        )
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def manual_page(number: int) -> list[str]:
    """A page of a big manual: a heading, a fact only this page states, and ordinary lines."""
    return [
        f"Section {number}: pump station {number}",
        f"Pump station {number} lifts water {number * 3 + 7} metres with a {number % 9 + 2}-stage impeller.",
        *(
            f"Line {line} of page {number}: inspect the seals, bearings and couplings of the station."
            for line in range(1, 31)
        ),
    ]


def html(megabytes: int) -> bytes:
    """An HTML reference page of about `megabytes` MB: sections of numbered paragraphs."""
    parts = ["<!doctype html><html><head><title>Catalogue</title></head><body><h1>Catalogue</h1>"]
    size, section = 0, 0
    while size < megabytes * 1_000_000:
        section += 1
        paragraphs = "".join(
            f"<p>Part {section}-{item} of the catalogue weighs {section + item} grams and ships in box"
            f" {section * 10 + item}, packed with care for the long journey.</p>"
            for item in range(10)
        )
        block = f"<h2>Section {section}</h2>{paragraphs}"
        parts.append(block)
        size += len(block)
    parts.append("</body></html>")
    return "".join(parts).encode()
