"""Unit tests of `apps.stream_processors.chunking`: structure-aware chunks within a token budget."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.common.tokenizer import count_tokens
from apps.stream_processors.chunking import ChunkingPolicy, TextElement, chunk_elements
from schemas.events import Chunk

PENGUINS = "Penguins are flightless birds that live almost exclusively in the Southern Hemisphere."
EMPERORS = "Emperor penguins breed on the sea ice of Antarctica during the long winter months."
KRILL = "Krill, fish and squid make up most of what penguins eat while they are at sea."


def numbered_words(first: int, count: int) -> str:
    return " ".join(f"word{i}" for i in range(first, first + count))


def dedupe_runs(values: list[int | None]) -> list[int | None]:
    """`values` with each run of equal neighbours collapsed to one."""
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


def assert_valid_chunks(chunks: list[Chunk], policy: ChunkingPolicy) -> None:
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text.strip(), f"empty chunk {chunk.index}"
        assert count_tokens(chunk.text) <= policy.size, chunk
        assert chunk.token_count == count_tokens(chunk.text), chunk


def test_no_elements_give_no_chunks() -> None:
    assert chunk_elements([], ChunkingPolicy(size=50, overlap=5)) == []


def test_empty_and_whitespace_elements_are_skipped() -> None:
    policy = ChunkingPolicy(size=50, overlap=5)
    assert chunk_elements([TextElement(text=""), TextElement(text="  \n\t ")], policy) == []

    chunks = chunk_elements(
        [TextElement(text=" \n "), TextElement(text=PENGUINS, page=2), TextElement(text="\t")], policy
    )
    assert [c.text for c in chunks] == [PENGUINS]
    assert chunks[0].page == 2


def test_small_elements_share_a_chunk_and_stay_whole() -> None:
    policy = ChunkingPolicy(size=100, overlap=10)
    chunks = chunk_elements([TextElement(text=t) for t in (PENGUINS, EMPERORS, KRILL)], policy)
    assert len(chunks) == 1
    assert chunks[0].text == f"{PENGUINS}\n\n{EMPERORS}\n\n{KRILL}"
    assert chunks[0].token_count == count_tokens(chunks[0].text)
    assert chunks[0].section is None


def test_elements_that_fit_are_never_cut_when_chunks_fill_up() -> None:
    policy = ChunkingPolicy(size=40, overlap=5)
    texts = [PENGUINS, EMPERORS, KRILL, PENGUINS.upper(), EMPERORS.lower()]
    chunks = chunk_elements([TextElement(text=t) for t in texts], policy)
    assert len(chunks) > 1
    assert_valid_chunks(chunks, policy)
    for text in texts:
        assert any(text in c.text for c in chunks), f"{text!r} was cut"


def test_an_element_that_fits_stays_whole_after_a_short_paragraph() -> None:
    """The module promises that only an element longer than a chunk is cut into windows."""
    policy = ChunkingPolicy(size=100, overlap=10)
    short = "Penguins are birds that do not fly."
    paragraph = " ".join(f"Sentence {i} about emperor penguins." for i in range(12))
    assert count_tokens(short) < policy.size // 4
    assert count_tokens(paragraph) <= policy.size

    chunks = chunk_elements([TextElement(text=short), TextElement(text=paragraph)], policy)

    assert_valid_chunks(chunks, policy)
    assert any(paragraph in c.text for c in chunks), [c.text for c in chunks]
    assert any(short in c.text for c in chunks)


def test_titles_start_new_sections() -> None:
    policy = ChunkingPolicy(size=60, overlap=5)
    elements = [
        TextElement(text="Introduction", is_title=True, page=1),
        TextElement(text=PENGUINS, page=1),
        TextElement(text="Breeding", is_title=True, page=2),
        TextElement(text=EMPERORS, page=2),
        TextElement(text="Food", is_title=True, page=3),
        TextElement(text=KRILL, page=3),
    ]
    chunks = chunk_elements(elements, policy)
    assert_valid_chunks(chunks, policy)
    assert [(c.text, c.section, c.page) for c in chunks] == [
        (f"Introduction\n\n{PENGUINS}", "Introduction", 1),
        (f"Breeding\n\n{EMPERORS}", "Breeding", 2),
        (f"Food\n\n{KRILL}", "Food", 3),
    ]


def test_text_before_the_first_title_has_no_section() -> None:
    policy = ChunkingPolicy(size=40, overlap=5)
    elements = [
        TextElement(text=PENGUINS),
        TextElement(text="Breeding", is_title=True),
        TextElement(text=EMPERORS),
    ]
    chunks = chunk_elements(elements, policy)
    assert chunks[0].section is None
    assert chunks[0].text == PENGUINS
    assert chunks[-1].section == "Breeding"
    assert chunks[-1].text.startswith("Breeding")


def test_section_names_are_capped_at_200_characters() -> None:
    policy = ChunkingPolicy(size=400, overlap=10)
    title = "Title " + "x" * 300
    chunks = chunk_elements([TextElement(text=title, is_title=True), TextElement(text=PENGUINS)], policy)
    assert chunks[0].section == title[:200]


def test_a_section_continues_across_chunks_until_the_next_title() -> None:
    policy = ChunkingPolicy(size=30, overlap=5)
    elements = [TextElement(text="Breeding", is_title=True)] + [
        TextElement(text=t) for t in (PENGUINS, EMPERORS, KRILL)
    ]
    chunks = chunk_elements(elements, policy)
    assert len(chunks) >= 3
    assert {c.section for c in chunks} == {"Breeding"}


def test_a_chunk_takes_the_first_page_that_is_known() -> None:
    policy = ChunkingPolicy(size=200, overlap=10)
    elements = [
        TextElement(text=PENGUINS, page=None),
        TextElement(text=EMPERORS, page=4),
        TextElement(text=KRILL, page=None),
        TextElement(text=KRILL.upper(), page=4),
    ]
    chunks = chunk_elements(elements, policy)
    assert len(chunks) == 1
    assert chunks[0].page == 4


def test_a_new_page_starts_a_new_chunk() -> None:
    """A chunk cites one page, even when the next page's text would fit in it."""
    policy = ChunkingPolicy(size=200, overlap=10)
    elements = [
        TextElement(text=PENGUINS, page=1),
        TextElement(text=EMPERORS, page=1),
        TextElement(text=KRILL, page=2),
        TextElement(text="Seals hunt penguins.", page=None),
        TextElement(text="Leopard seals hunt penguins.", page=3),
    ]
    chunks = chunk_elements(elements, policy)
    assert [(c.text, c.page) for c in chunks] == [
        (f"{PENGUINS}\n\n{EMPERORS}", 1),
        (f"{KRILL}\n\nSeals hunt penguins.", 2),
        ("Leopard seals hunt penguins.", 3),
    ]


def test_chunks_without_pages_have_none() -> None:
    chunks = chunk_elements([TextElement(text=PENGUINS)], ChunkingPolicy(size=50, overlap=0))
    assert chunks[0].page is None


def test_a_long_element_is_windowed_with_overlap() -> None:
    policy = ChunkingPolicy(size=50, overlap=10)
    text = numbered_words(0, 200)
    chunks = chunk_elements([TextElement(text=text, page=3)], policy)

    assert len(chunks) > 3
    assert_valid_chunks(chunks, policy)
    assert all(c.page == 3 for c in chunks)
    assert chunks[0].text.startswith("word0 ")
    assert chunks[-1].text.endswith("word199")
    for before, after in itertools.pairwise(chunks):
        shared = set(before.text.split()) & set(after.text.split())
        assert shared, (before.text, after.text)
        # The next window starts inside the previous one, and goes further.
        assert after.text.split()[0] in before.text.split()
        assert after.text.split()[-1] not in before.text.split()
    # Every word is in some window, none is lost.
    words = {w for c in chunks for w in c.text.split()}
    assert words == set(text.split())


def test_windows_without_overlap_tile_the_element() -> None:
    policy = ChunkingPolicy(size=20, overlap=0)
    text = numbered_words(0, 60)
    chunks = chunk_elements([TextElement(text=text)], policy)
    assert_valid_chunks(chunks, policy)
    assert "".join(c.text if i == 0 else " " + c.text for i, c in enumerate(chunks)) == text


@pytest.mark.parametrize(
    "text",
    [
        "🐧" * 120,
        "企鹅是一种不会飞的鸟类，主要生活在南半球。" * 12,
        "a🐧b👩‍👩‍👧‍👦c" * 30,
        "Ünïcödé naïveté café résumé " * 40,
    ],
    ids=["emoji", "cjk", "zwj-emoji", "accents"],
)
@pytest.mark.parametrize("overlap", [0, 5])
def test_multibyte_text_stays_within_the_size(text: str, overlap: int) -> None:
    policy = ChunkingPolicy(size=16, overlap=overlap)
    chunks = chunk_elements([TextElement(text=text)], policy)
    assert len(chunks) > 1
    assert_valid_chunks(chunks, policy)


@pytest.mark.parametrize(
    "text",
    ["🐧" * 120, "企鹅是一种不会飞的鸟类，主要生活在南半球。" * 12, "a🐧b👩‍👩‍👧‍👦c" * 30],
    ids=["emoji", "cjk", "zwj-emoji"],
)
def test_windows_do_not_cut_characters_in_two(text: str) -> None:
    """A window boundary inside a multi-byte character must not turn it into U+FFFD."""
    policy = ChunkingPolicy(size=16, overlap=0)
    chunks = chunk_elements([TextElement(text=text)], policy)
    damaged = [c.text for c in chunks if "\ufffd" in c.text]
    assert not damaged, f"{len(damaged)} of {len(chunks)} chunks hold U+FFFD, e.g. {damaged[0]!r}"
    for chunk in chunks:
        assert chunk.text in text


@pytest.mark.parametrize(
    "element",
    ["🐧🐤🦆 🐧🐤🦆", "企鹅是一种不会飞的鸟类，主要生活在南半球。", "a🐧b👩‍👩‍👧‍👦c"],
    ids=["emoji", "cjk", "zwj-emoji"],
)
@pytest.mark.parametrize("overlap", [7, 8, 9])
def test_the_overlap_carried_into_the_next_chunk_starts_at_a_whole_character(
    element: str, overlap: int
) -> None:
    """Elements (18-28 tokens) that fill a chunk between them: the next chunk repeats the last
    `overlap` tokens of the one before, and where the first of those starts inside a character (most
    of these tokens do), that whole character."""
    policy = ChunkingPolicy(size=40, overlap=overlap)
    elements = [TextElement(text=f"{i}{element}") for i in range(12)]
    chunks = chunk_elements(elements, policy)
    assert len(chunks) > 2
    assert not [c.text for c in chunks if "\ufffd" in c.text]
    for before, after in itertools.pairwise(chunks):
        carried = after.text.split("\n\n")[0]
        assert before.text.endswith(carried)
        assert count_tokens(carried) >= policy.overlap


@pytest.mark.parametrize(
    ("size", "overlap"),
    [(15, 0), (0, 0), (-1, 0), (100, -1), (100, 50), (100, 60), (16, 8)],
)
def test_invalid_policies_raise(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="chunk"):
        ChunkingPolicy(size=size, overlap=overlap)


@pytest.mark.parametrize(("size", "overlap"), [(16, 0), (16, 7), (100, 49), (512, 50)])
def test_valid_policies(size: int, overlap: int) -> None:
    policy = ChunkingPolicy(size=size, overlap=overlap)
    assert (policy.size, policy.overlap) == (size, overlap)


_VOCABULARY = [
    "penguin",
    "ice",
    "sea",
    "krill",
    "egg",
    "emperor",
    "colony",
    "the",
    "of",
    "winter",
    "Antarctica",
    "swims",
]
_words = st.lists(st.sampled_from(_VOCABULARY), min_size=0, max_size=120).map(" ".join)
_elements = st.lists(
    st.builds(
        TextElement,
        text=st.one_of(_words, st.sampled_from(["", " ", "\n\n"])),
        page=st.one_of(st.none(), st.integers(min_value=1, max_value=9)),
        is_title=st.booleans(),
    ),
    max_size=25,
)
_policies = st.integers(min_value=16, max_value=120).flatmap(
    lambda size: st.builds(
        ChunkingPolicy, size=st.just(size), overlap=st.integers(min_value=0, max_value=size // 2 - 1)
    )
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elements=_elements, policy=_policies)
def test_property_chunks_are_valid_for_any_elements(
    elements: list[TextElement], policy: ChunkingPolicy
) -> None:
    chunks = chunk_elements(elements, policy)

    assert_valid_chunks(chunks, policy)
    texts = [e.text.strip() for e in elements if e.text.strip()]
    assert bool(chunks) == bool(texts)
    pages = {e.page for e in elements}
    sections = {e.text.strip()[:200] for e in elements if e.is_title and e.text.strip()}
    for chunk in chunks:
        assert chunk.page is None or chunk.page in pages
        assert chunk.section is None or chunk.section in sections
    if all(e.page is not None for e in elements):
        # Each chunk cites one page, and the chunks follow the pages in document order.
        known = [e.page for e in elements if e.text.strip()]
        assert dedupe_runs([c.page for c in chunks]) == dedupe_runs(known)
    if policy.overlap >= 3:
        # Nothing is lost: every word (at most 3 tokens long) of every element is in some chunk.
        assert {w for t in texts for w in t.split()} <= {w for c in chunks for w in c.text.split()}


_pieces = st.one_of(
    st.sampled_from(["🐧", "👩‍👩‍👧", "企鹅", "é", "ß", " ", "\n\n", "word", ".", "<|endoftext|>"]),
    st.characters(codec="utf-8"),
)
_any_text = st.lists(_pieces, max_size=150).map("".join)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(_any_text, max_size=8),
    policy=st.sampled_from([ChunkingPolicy(size=16, overlap=0), ChunkingPolicy(size=40, overlap=7)]),
)
def test_property_any_unicode_stays_within_the_size(texts: list[str], policy: ChunkingPolicy) -> None:
    chunks = chunk_elements([TextElement(text=t) for t in texts], policy)
    assert_valid_chunks(chunks, policy)
    assert bool(chunks) == any(t.strip() for t in texts)
