"""Unit tests of the coverage guard: `coverage.kept_share`, and `parse_document` failing a document
whose chunks lose its words."""

from __future__ import annotations

from collections import Counter

import pytest

from apps.stream_processors import parsing
from apps.stream_processors.chunking import ChunkingPolicy, TextElement
from apps.stream_processors.coverage import kept_share, word_counts
from apps.stream_processors.parsing import parse_document
from apps.stream_processors.partitioning import Extraction, configure_offline
from apps.stream_processors.stage import DocumentError

POLICY = ChunkingPolicy(size=200, overlap=30)


@pytest.fixture(scope="module", autouse=True)
def offline_parser() -> None:
    configure_offline()


def test_every_occurrence_of_a_word_counts() -> None:
    assert kept_share("the cat and the dog", ["the cat and dog"]) == pytest.approx(4 / 5)
    assert kept_share("the cat and the dog", ["dog the", "and cat the"]) == 1.0


def test_case_and_punctuation_do_not_count() -> None:
    assert kept_share("os.makedirs(name, exist_ok=False)", ["OS makedirs name exist_ok false"]) == 1.0


def test_a_text_without_words_is_wholly_kept() -> None:
    assert kept_share(" -- ", []) == 1.0


def test_nothing_kept() -> None:
    assert kept_share("every word lost", []) == 0.0


def losing_extraction(monkeypatch: pytest.MonkeyPatch, kept: str, reference: str) -> None:
    def partition(data: bytes, filename: str, content_type: str) -> Extraction:
        return Extraction([TextElement(text=kept)], reference)

    monkeypatch.setattr(parsing, "partition_document", partition)


def test_a_document_whose_chunks_lose_its_words_fails_with_how_much_was_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    losing_extraction(monkeypatch, "one two three", "one two three four five six seven eight nine ten")
    with pytest.raises(DocumentError, match=r"kept only 30\.0% of the document's words, under the 90%"):
        parse_document(b"...", "reference.html", "text/html", POLICY)


def test_the_threshold_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    losing_extraction(monkeypatch, "one two three", "one two three four five six seven eight nine ten")
    parsed = parse_document(b"...", "reference.html", "text/html", POLICY, min_coverage=0.25)
    assert parsed.coverage == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"<main><dl><dt id='x'>work_mem</dt><dd><p>Sets it.</p></dd></dl></main>", "a.html", "text/html"),
        (b"# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode here\n```\n", "a.md", "text/markdown"),
        (b"Plain text.\n\nAnother paragraph of it.", "a.txt", "text/plain"),
    ],
)
def test_the_real_parsers_keep_every_word(data: bytes, filename: str, content_type: str) -> None:
    assert parse_document(data, filename, content_type, POLICY).coverage == 1.0


def test_a_big_text_is_counted_in_pieces_without_splitting_a_word() -> None:
    """Over a million characters, the text is read in pieces, each cut between two words."""
    text = " ".join(f"word{i % 997}" for i in range(400_000))
    assert len(text) > 2 * 1024 * 1024
    expected = Counter(text.split())
    assert word_counts([text]) == expected
