"""Which files ragstream indexes, told by extension and confirmed by content."""

from __future__ import annotations

from pathlib import PurePosixPath

CONTENT_TYPES: dict[str, str] = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/html"})
SNIFF_BYTES = 64 * 1024


def supported_extensions() -> str:
    return ", ".join(sorted(CONTENT_TYPES))


def content_type_for(filename: str) -> str | None:
    """The content type ragstream parses `filename` as, or None if its extension is not supported."""
    return CONTENT_TYPES.get(PurePosixPath(filename).suffix.lower())


def content_mismatch(content_type: str, head: bytes) -> str | None:
    """Why the first bytes of a file are not what its extension says, or None if they are."""
    if content_type == "application/pdf":
        if b"%PDF-" not in head[:1024]:
            return "it is named .pdf but is not a PDF (no %PDF- header)"
        return None
    if content_type.endswith("wordprocessingml.document"):
        if not head.startswith(b"PK\x03\x04"):
            return "it is named .docx but is not a Word document (not a ZIP container)"
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
