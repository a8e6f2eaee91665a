"""The sources an answer cites: its `[n]` markers, read from the whole answer once it is complete
(a marker can arrive split across streamed deltas)."""

from __future__ import annotations

import re

# One number or a range (hyphen or en dash); more than nine digits is no source's number.
_ITEM = r"\d{1,9}(?:\s*[-\u2013]\s*\d{1,9})?"
# [1], [1, 3], [1; 3], [2-4], [4, 1-2]; adjacent markers ([1][3]) are markers one after the other.
_MARKER = re.compile(rf"\[\s*({_ITEM}(?:\s*[,;]\s*{_ITEM})*)\s*\]")
_NUMBER = re.compile(r"\d+")
_SEPARATOR = re.compile(r"[,;]")


def cited_sources(answer: str, source_count: int) -> list[int]:
    """The 1-based numbers of the sources `answer` cites, in the order first cited, each once.

    A number that names no source (0, or past `source_count`) is left out; a range cites the
    sources within it, and a backwards range none.
    """
    cited: dict[int, None] = {}
    for marker in _MARKER.finditer(answer):
        for item in _SEPARATOR.split(marker.group(1)):
            numbers = [int(n) for n in _NUMBER.findall(item)]
            first, last = numbers[0], numbers[-1]
            for number in range(max(first, 1), min(last, source_count) + 1):
                cited.setdefault(number, None)
    return list(cited)
