"""Words the OCR ran together, apart again. On long, tight lines the recogniser drops spaces
("keeperclimbedthetower", "water.Coral"): a long run of letters that no dictionary knows is split where
symspellpy's English word frequencies split it best, if every part is a word; a sentence's end gets
its space back."""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from symspellpy import SymSpell

# Letters in a run before it is a candidate. Shorter unknown runs are mostly names and identifiers
# (`tablespace`, `autovacuum`), which must stay whole; run-together prose is longer.
MIN_RUN = 12
# Parts shorter than three letters are accepted only as these words: a run that falls apart into
# letters and pairs ("xq zv") is not words.
SHORT_WORDS = frozenset("a i am an as at be by do go he if in is it me my no of on or so to up us we".split())  # noqa: SIM905
_RUN = re.compile(rf"[A-Za-z]{{{MIN_RUN},}}")
_SENTENCE_RUN_ON = re.compile(r"(?<=[a-z])([.,;:!?])(?=[A-Z])")


@functools.cache
def _dictionary() -> SymSpell:
    """symspellpy's English frequency dictionary (82,765 words), loaded once per process (under a
    second) when a first scanned page needs it; segmentation only, no spelling correction."""
    from symspellpy import SymSpell

    dictionary = SymSpell(max_dictionary_edit_distance=0)
    path = resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    with resources.as_file(path) as file:
        dictionary.load_dictionary(str(file), term_index=0, count_index=1)
    return dictionary


def separate_words(line: str) -> str:
    """`line` with its run-together words apart; anything else is left as it is."""
    line = _SENTENCE_RUN_ON.sub(r"\1 ", line)
    return _RUN.sub(lambda match: _split_run(match.group(0)), line)


def _split_run(run: str) -> str:
    if not (run.islower() or (run[0].isupper() and run[1:].islower())):
        return run  # inner capitals: an identifier (PostgreSQL) or an acronym
    dictionary = _dictionary()
    lowered = run.lower()
    if lowered in dictionary.words:
        return run
    parts = dictionary.word_segmentation(lowered, max_edit_distance=0).segmented_string.split()
    if len(parts) < 2 or "".join(parts) != lowered:
        return run
    if any(len(part) < 3 and part not in SHORT_WORDS for part in parts):
        return run
    pieces, start = [], 0
    for part in parts:
        pieces.append(run[start : start + len(part)])
        start += len(part)
    return " ".join(pieces)
