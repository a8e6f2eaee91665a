"""Unit tests of the small-to-big context benchmark (`bench.context`): when a passage counts as in the
context, what each question adds to a setting's row, the winning rule and the table."""

from __future__ import annotations

from apps.common.settings import Settings
from bench.context import Setting, contains, first_sentence, result, share, winner
from bench.questions import Page, Question

PAGE = Page(
    "sql-vacuum.html",
    "VACUUM",
    "SQL Commands",
    "VACUUM — garbage-collect and optionally analyze a database. It reclaims storage.",
)
OTHER = Page(
    "bloom.html", "bloom", "Extensions", "bloom provides an index access method based on Bloom filters."
)
PAGES = {p.name: p for p in (PAGE, OTHER)}


def test_a_passage_is_in_the_context_when_one_source_has_its_words_in_order() -> None:
    passage = "Garbage-collect and optionally analyze a database."

    assert contains(["Intro.\n\ngarbage collect and\noptionally ANALYZE a database; then"], passage)
    # Words apart, out of order, cut short or split over two sources: not in.
    assert not contains(["garbage collect and optionally analyze the database"], passage)
    assert not contains(["optionally analyze garbage collect and a database"], passage)
    assert not contains(["garbage collect and optionally", "analyze a database"], passage)
    # Whole words only.
    assert not contains(["a databases"], "a database")
    assert not contains(["anything"], "")


def test_the_first_sentence_is_the_whole_one_a_question_was_made_from() -> None:
    assert first_sentence(PAGE) == "garbage-collect and optionally analyze a database."
    assert first_sentence(OTHER) == "bloom provides an index access method based on Bloom filters."


def test_each_question_adds_its_passages_and_its_cost() -> None:
    setting = Setting(1)
    sentence = Question(
        "provides an index access method based on filters.", frozenset({OTHER.name}), "sentence"
    )
    title = Question("How do I use VACUUM?", frozenset({PAGE.name}), "title")

    setting.add(sentence, PAGES, ["bloom provides an index access method based on Bloom filters. More."])
    setting.add(title, PAGES, ["VACUUM garbage-collect and optionally analyze a database.", "Other text."])

    assert setting.first_sentence == [True]
    assert setting.sentence_paragraph == [True]
    assert setting.title_paragraph == [False]  # its second sentence is in no source
    assert len(setting.tokens) == 2
    assert all(t > 0 for t in setting.tokens)


def _setting(neighbours: int, paragraphs: list[bool], tokens: int) -> Setting:
    return Setting(
        neighbours,
        first_sentence=paragraphs,
        sentence_paragraph=paragraphs,
        title_paragraph=paragraphs,
        tokens=[tokens] * len(paragraphs),
        seconds=[0.001] * len(paragraphs),
    )


def test_more_neighbours_win_only_by_more_than_the_tolerance() -> None:
    plain = _setting(0, [True] * 90 + [False] * 10, 1000)
    one = _setting(1, [True] * 95 + [False] * 5, 2000)
    two = _setting(2, [True] * 96 + [False] * 4, 3000)

    assert share(one.sentence_paragraph) == 0.95
    assert winner([plain, one, two]) is one  # two is only 0.01 better
    assert winner([plain, _setting(1, [True] * 91 + [False] * 9, 2000)]) is plain


def test_the_table_has_a_row_per_setting_and_names_the_winner() -> None:
    settings = [
        _setting(0, [True, False], 900),
        _setting(1, [True, True], 2100),
        _setting(2, [True, True], 3000),
    ]

    table = result(settings, pages=2, chunks=40, seconds=12.0)

    assert [row[0] for row in table.rows] == [0, 1, 2]
    assert table.rows[0][1:6] == (0.5, 0.5, 0.5, 900, 900)
    assert table.rows[1][1:6] == (1.0, 1.0, 1.0, 2100, 2100)
    default = Settings.model_fields["context_neighbours"].default
    verdict = table.notes[-1]
    assert "within 0.01 of the best: 1." in verdict
    assert (f"default is {default}, the winner." in verdict) == (default == 1)
