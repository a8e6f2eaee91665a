"""Which files ragstream indexes, told by extension and confirmed by content."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EPUB = "application/epub+zip"
ODT = "application/vnd.oasis.opendocument.text"
CSV = "text/csv"
RST = "text/x-rst"
EML = "message/rfc822"
RTF = "application/rtf"
CONTENT_TYPES: dict[str, str] = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".rst": RST,
    ".csv": CSV,
    ".eml": EML,
    ".pdf": "application/pdf",
    ".rtf": RTF,
    ".docx": DOCX,
    ".pptx": PPTX,
    ".xlsx": XLSX,
    ".odt": ODT,
    ".epub": EPUB,
}
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/html", CSV, RST, EML})


@dataclass(frozen=True)
class ZipFormat:
    """A format that is a ZIP container, known by the part it must hold."""

    extension: str
    kind: str  # "Word document": what a person calls such a file
    part: str

    @property
    def a_kind(self) -> str:
        return f"{'an' if self.kind[0] in 'AEIOU' else 'a'} {self.kind}"


ZIP_TYPES: dict[str, ZipFormat] = {
    DOCX: ZipFormat(".docx", "Word document", "word/document.xml"),
    PPTX: ZipFormat(".pptx", "PowerPoint presentation", "ppt/presentation.xml"),
    XLSX: ZipFormat(".xlsx", "Excel workbook", "xl/workbook.xml"),
    ODT: ZipFormat(".odt", "OpenDocument text", "content.xml"),
    EPUB: ZipFormat(".epub", "EPUB e-book", "META-INF/container.xml"),
}
SNIFF_BYTES = 64 * 1024


def supported_extensions() -> str:
    return ", ".join(sorted(CONTENT_TYPES))


def content_type_for(filename: str) -> str | None:
    """The content type ragstream parses `filename` as, or None if its extension is not supported."""
    return CONTENT_TYPES.get(PurePosixPath(filename).suffix.lower())


def content_mismatch(content_type: str, head: bytes) -> str | None:
    """Why the first bytes of a file are not what its extension says, or None if they are. A ZIP's
    parts are listed at its end: which parts it holds is checked when it is parsed."""
    if content_type == "application/pdf":
        if b"%PDF-" not in head[:1024]:
            return "it is named .pdf but is not a PDF (no %PDF- header)"
        return None
    if content_type in ZIP_TYPES:
        zip_format = ZIP_TYPES[content_type]
        if not head.startswith(b"PK\x03\x04"):
            return f"it is named {zip_format.extension} but is not {zip_format.a_kind} (not a ZIP container)"
        return None
    if content_type == RTF:
        if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
            return "it is named .rtf but is not RTF (it does not start with {\\rtf)"
        return None
    if content_type in TEXT_TYPES:
        return _binary_reason(head)
    return None


def _binary_reason(head: bytes) -> str | None:
    if b"\x00" in head:
        return "it is named as text but holds binary data (NUL bytes)"
    try:
        # The sniffed prefix may end inside a multi-byte character: ignore an incomplete tail.
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            control = sum(1 for b in head if b < 9 or 13 < b < 32)
            if control > len(head) // 100:
                return "it is named as text but holds binary data"
    return None
