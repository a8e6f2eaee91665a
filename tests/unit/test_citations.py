"""Unit tests of `apps.query_api.citations`: which sources an answer's `[n]` markers cite."""

from __future__ import annotations

import pytest

from apps.query_api.citations import cited_sources


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param("Walruses climb with their tusks [2].", [2], id="one"),
        pytest.param("Both say so [1, 3].", [1, 3], id="list"),
        pytest.param("Both say so [3,1].", [3, 1], id="list-in-its-order"),
        pytest.param("Both say so [ 1 ;3 ].", [1, 3], id="semicolons-and-spaces"),
        pytest.param("Both say so [1][3].", [1, 3], id="adjacent"),
        pytest.param("All of them [2-4].", [2, 3, 4], id="range"),
        pytest.param("All of them [2–4].", [2, 3, 4], id="range-en-dash"),
        pytest.param("Mixed [4, 1-2].", [4, 1, 2], id="list-with-range"),
        pytest.param("No markers here.", [], id="none"),
        pytest.param("", [], id="empty"),
    ],
)
def test_markers_cite_their_numbers_in_order(answer: str, expected: list[int]) -> None:
    assert cited_sources(answer, source_count=5) == expected


def test_the_order_is_of_first_citation_without_duplicates() -> None:
    answer = "Seals [3] dive deep [1]. Walruses too [3], [1, 3] and [2][3]."
    assert cited_sources(answer, source_count=5) == [3, 1, 2]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param("Beyond the sources [9] but [2].", [2], id="past-the-last"),
        pytest.param("Zero [0] is no source.", [], id="zero"),
        pytest.param("From [0, 2, 6].", [2], id="list-keeps-the-valid"),
        pytest.param("A range past the end [4-8].", [4, 5], id="range-clipped"),
        pytest.param("A backwards range [3-1].", [], id="range-backwards"),
        pytest.param("Years [2019-2021].", [], id="range-of-years"),
        pytest.param("Huge [99999999999999999999].", [], id="too-many-digits"),
        pytest.param("Huge range [1-999999999].", [1, 2, 3, 4, 5], id="huge-range"),
    ],
)
def test_numbers_that_name_no_source_are_left_out(answer: str, expected: list[int]) -> None:
    assert cited_sources(answer, source_count=5) == expected


@pytest.mark.parametrize(
    "answer",
    [
        "Letters [a] and [ii] are not markers.",
        "Empty [] and [ ] brackets.",
        "A dangling list [1,] or [,2].",
        "Negative [-1].",
        "Decimals [1.5].",
        "Words [see 1] and [source 2].",
        "Unclosed [1 and closed 2].",
        "Footnotes [^1].",
    ],
)
def test_other_brackets_are_not_markers(answer: str) -> None:
    assert cited_sources(answer, source_count=5) == []


def test_no_sources_means_no_citations() -> None:
    assert cited_sources("It says so [1].", source_count=0) == []


def test_a_marker_split_across_streamed_deltas_is_found_in_the_whole_text() -> None:
    deltas = ["Walruses climb [", "2", "] with tusks [1", ",", " 3]."]
    assert cited_sources("".join(deltas), source_count=3) == [2, 1, 3]
