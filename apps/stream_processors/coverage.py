"""How much of a document's text reached its chunks: the share of a reference text's words (each
occurrence counted) that the chunks hold, so that a parser that loses text fails loudly."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator

_WORD = re.compile(r"\w+")
_NON_WORD = re.compile(r"\W")
_PIECE_CHARS = 1 << 20


def word_counts(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        for piece in _pieces(text):
            counts.update(w.lower() for w in _WORD.findall(piece))
    return counts


def _pieces(text: str) -> Iterator[str]:
    """`text` in pieces of about a million characters, cut between words: a big document's words are
    never all listed at once (50 MB of text would list ~8 million)."""
    start = 0
    while start < len(text):
        cut = _NON_WORD.search(text, start + _PIECE_CHARS) if start + _PIECE_CHARS < len(text) else None
        end = cut.start() + 1 if cut else len(text)
        yield text[start:end]
        start = end


def kept_share(reference: str, kept: Iterable[str]) -> float:
    """The share of `reference`'s words that `kept` holds as often (1.0 for a text without words)."""
    return share_of(word_counts([reference]), word_counts(kept))


def share_of(wanted: Counter[str], found: Counter[str]) -> float:
    """The share of the words counted in `wanted` that `found` holds as often (1.0 if there are none)."""
    total = sum(wanted.values())
    if not total:
        return 1.0
    return sum(min(count, found[word]) for word, count in wanted.items()) / total
