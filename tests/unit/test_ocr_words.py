"""The OCR's run-together words are split again (as RapidOCR read them off a dense 200 dpi scan), and
what is not run-together prose stays as it is: words, names, identifiers, numbers."""

from __future__ import annotations

import pytest

from apps.stream_processors.ocr_words import separate_words


@pytest.mark.parametrize(
    ("read", "meant"),
    [
        (
            "Cactistorewaterintheirthickstemsandsurvivedroughtsthatlastformonths.The",
            "Cacti store water in their thick stems and survive droughts that last for months. The",
        ),
        ("The keeperclimbedthetower at dusk", "The keeper climbed the tower at dusk"),
        ("survivedroughtsthat", "survive droughts that"),
        ("of the Moon on the water.Coral reefs", "of the Moon on the water. Coral reefs"),
        ("Lighthousesguidedships along", "Lighthouses guided ships along"),
    ],
)
def test_run_together_words_are_split_again(read: str, meant: str) -> None:
    assert separate_words(read) == meant


@pytest.mark.parametrize(
    "line",
    [
        "Emperor penguins breed during the Antarctic winter, far from the open sea.",
        "internationalization of the subdirectory names",
        "PostgreSQL keeps autovacuum settings per tablespace",
        "CREATE INDEXCONCURRENTLYSOMEWHERE",
        "Invoice 4471 was paid on 12 March 2024, e.g. by transfer",
        "xqzvbnmlkjhgfdsa",
        "",
    ],
)
def test_what_is_not_run_together_prose_is_left_as_it_is(line: str) -> None:
    assert separate_words(line) == line
