"""How much of a document's text reached its chunks: the share of a reference text's words (each
occurrence counted) that the chunks hold, so that a parser that loses text fails loudly."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_WORD = re.compile(r"\w+")


def word_counts(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w.lower() for w in _WORD.findall(text))
    return counts


def kept_share(reference: str, kept: Iterable[str]) -> float:
    """The share of `reference`'s words that `kept` holds as often (1.0 for a text without words)."""
    wanted = word_counts([reference])
    total = sum(wanted.values())
    if not total:
        return 1.0
    found = word_counts(kept)
    return sum(min(count, found[word]) for word, count in wanted.items()) / total
