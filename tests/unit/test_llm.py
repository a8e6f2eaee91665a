"""Unit tests of `apps.common.llm`'s offline answerer: extractive answers, cited and streamed."""

from __future__ import annotations

import re

import pytest

from apps.common.llm import ChatChunk, ChatRequest, ExtractiveChat, Usage, extract_answer
from apps.common.settings import EXTRACTIVE_CHAT_MODEL
from apps.common.tokenizer import count_tokens

NO_ANSWER = "I could not find anything about that in the indexed documents."

PENGUIN_PASSAGES = [
    "Penguins are flightless birds. The male emperor penguin incubates the egg on his feet for two months. "
    "Meanwhile the female feeds at sea.",
    "Emperor penguins live in Antarctica.",
]


def cited(answer: str) -> list[tuple[str, int]]:
    """The (sentence, passage number) pairs of an answer."""
    return [(s.strip(), int(n)) for s, n in re.findall(r"(.+?) \[(\d+)\](?: |$)", answer)]


def test_picks_the_matching_sentence_and_cites_its_passage() -> None:
    answer = extract_answer(
        "Who incubates the emperor penguin's egg?",
        ["Penguins are flightless birds. Krill is their food.", PENGUIN_PASSAGES[0]],
    )
    assert answer == "The male emperor penguin incubates the egg on his feet for two months. [2]"


def test_cites_each_sentence_with_its_own_passage_number() -> None:
    passages = [
        "Adult penguins eat krill.",
        "Seals hunt penguins on the ice.",
        "Whales eat krill by the ton.",
    ]
    answer = extract_answer("Who eats krill?", passages)
    assert cited(answer) == [("Adult penguins eat krill.", 1), ("Whales eat krill by the ton.", 3)]


def test_keeps_the_order_of_the_passages_and_sentences() -> None:
    passages = [
        "Krill swarm in the Southern Ocean.",
        "Emperor penguins eat krill. They also eat fish and squid, and krill is their main food.",
    ]
    answer = extract_answer("What do emperor penguins eat, krill or fish?", passages)
    pairs = cited(answer)
    assert len(pairs) >= 2
    order = [(n, passages[n - 1].index(s)) for s, n in pairs]
    assert order == sorted(order)


def test_at_most_max_sentences() -> None:
    passages = [f"Penguin colony {i} eats krill." for i in range(10)]
    assert len(cited(extract_answer("krill", passages))) == 3
    assert len(cited(extract_answer("krill", passages, max_sentences=5))) == 5
    assert len(cited(extract_answer("krill", passages, max_sentences=1))) == 1


def test_equally_good_sentences_are_all_kept() -> None:
    passages = [
        "Penguins eat krill daily.",
        "Seals eat krill too.",
        "Whales eat krill often. The sea is cold.",
    ]
    assert cited(extract_answer("krill", passages)) == [
        ("Penguins eat krill daily.", 1),
        ("Seals eat krill too.", 2),
        ("Whales eat krill often.", 3),
    ]


def test_whitespace_inside_a_sentence_is_collapsed() -> None:
    answer = extract_answer("krill", ["Penguins   eat\nkrill\tdaily."])
    assert answer == "Penguins eat krill daily. [1]"


def test_no_passages_give_the_could_not_find_answer() -> None:
    assert extract_answer("Who incubates the egg?", []) == NO_ANSWER


def test_no_matching_sentence_falls_back_to_the_first_sentence() -> None:
    answer = extract_answer(
        "zebra stripes", ["Penguins are flightless birds. They swim well.", "Seals are marine mammals."]
    )
    assert answer == "Penguins are flightless birds. [1]"


def test_stopwords_alone_do_not_match() -> None:
    answer = extract_answer("what is the", ["Penguins are flightless birds.", "The sea is very cold."])
    assert answer == "Penguins are flightless birds. [1]"


def test_a_heading_fragment_is_not_the_answer() -> None:
    """A chunk often starts with its section title: a bare heading answers nothing."""
    passage = "Tansu\n\nTansu is a Kafka-compatible broker written in Rust."
    assert extract_answer("What is Tansu?", [passage]) == (
        "Tansu is a Kafka-compatible broker written in Rust. [1]"
    )


@pytest.mark.parametrize("heading", ["Breeding", "Penguin breeding", "Emperor penguin breeding"])
def test_short_headings_are_skipped(heading: str) -> None:
    passage = f"{heading}\n\nThe emperor penguin breeding season starts in the Antarctic winter."
    answer = extract_answer("When does emperor penguin breeding start?", [passage])
    assert cited(answer) == [("The emperor penguin breeding season starts in the Antarctic winter.", 1)]


def test_sentences_far_below_the_best_are_left_out() -> None:
    """Only sentences scoring at least about half the best one's score are part of the answer."""
    answer = extract_answer("Who incubates the emperor penguin egg?", PENGUIN_PASSAGES)
    assert answer == "The male emperor penguin incubates the egg on his feet for two months. [1]"


def test_close_runners_up_are_kept() -> None:
    passages = [
        "The male emperor penguin incubates the egg on his feet.",
        "A male emperor penguin incubates one egg for about two months.",
    ]
    answer = extract_answer("Who incubates the emperor penguin egg?", passages)
    assert [n for _, n in cited(answer)] == [1, 2]


async def collect(request: ChatRequest) -> list[ChatChunk]:
    return [chunk async for chunk in ExtractiveChat().stream(request)]


async def test_extractive_chat_streams_the_answer_then_usage() -> None:
    prompt = "You are a helpful assistant. ... User: Who incubates the egg?\n\nAssistant:"
    request = ChatRequest(prompt=prompt, query="Who incubates the egg?", passages=PENGUIN_PASSAGES)
    chunks = await collect(request)

    *deltas, last = chunks
    answer = extract_answer(request.query, request.passages)
    assert len(deltas) > 1
    assert all(c.delta and c.usage is None for c in deltas)
    assert "".join(c.delta for c in deltas) == answer
    assert last.delta == ""
    assert last.usage == Usage(prompt_tokens=count_tokens(prompt), completion_tokens=count_tokens(answer))


async def test_extractive_chat_without_passages() -> None:
    chunks = await collect(ChatRequest(prompt="p", query="anything?"))
    assert "".join(c.delta for c in chunks) == NO_ANSWER
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == count_tokens(NO_ANSWER)


def test_extractive_chat_is_named_extractive() -> None:
    assert ExtractiveChat.name == EXTRACTIVE_CHAT_MODEL == "extractive"
