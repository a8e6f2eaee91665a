"""What the BM25 index reads of a chunk or a question: the text, plus each code identifier's
whole name as one word and its camelCase parts, which Qdrant's word tokeniser would not yield."""

from __future__ import annotations

import re

# A word or a chain of words joined by `.` or `::` (ASCII, as identifiers nearly always are), unless
# it is a plain word: lowercase, Capitalised or an acronym (`IDs`), not followed by `.name`/`::name`.
# So `exist_ok`, `os.makedirs`, `CamelCase`, `HTTPServer`; not `Glaciers`, `NASA`, `IDs`, `3.14`.
_IDENTIFIER = re.compile(
    r"\b(?!(?:[A-Z]?[a-z0-9]+|[A-Z0-9]+s?)\b(?!\.[A-Za-z_]|::[A-Za-z_]))\w+(?:(?:\.|::)\w+)*", re.ASCII
)
_SEPARATORS = re.compile(r"[._:]+")
# One camelCase part: an acronym with its digits or plural `s` (`HTTP2`, `IDs`), a word, a number.
_PART = re.compile(r"[A-Z]+[0-9]*s?(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+")
# Longer tokens are encoded data (base64, JWTs, hashes), not names: their parts would be noise.
MAX_IDENTIFIER = 100


def sparse_text(text: str) -> str:
    """`text` and, per identifier in it, the words the tokeniser should see besides its own:
    `exist_ok` adds `existok`, `os.makedirs` `osmakedirs`, `CamelCase` `Camel Case`.

    The tokeniser already splits at `_` and `.` and lowercases, so the pieces need no repeating;
    the whole name, joined without separators, stays one term. Prose without identifiers is
    returned unchanged, so it scores as it did."""
    extra: list[str] = []
    for match in _IDENTIFIER.finditer(text):
        identifier = match.group()
        if len(identifier) > MAX_IDENTIFIER:
            continue
        pieces = [p for p in _SEPARATORS.split(identifier) if p]
        if len(pieces) > 1:
            extra.append("".join(pieces))
        for piece in pieces:
            # Only a case change splits a piece: `md5sum` and `2fa` stay whole.
            if not piece.islower() and len(parts := _PART.findall(piece)) > 1:
                extra.extend(parts)
    return f"{text}\n{' '.join(extra)}" if extra else text
