"""Unit tests of `apps.query_api.prompt`: DESIGN.md's prompt template with the citation rule, numbered
context and token-budgeted history."""

from __future__ import annotations

import pytest

from apps.common.tokenizer import count_tokens
from apps.query_api.prompt import ContextChunk, Turn, build_prompt, recent_history


@pytest.mark.parametrize(
    ("query", "chunks", "history", "context", "conversation"),
    [
        pytest.param(
            "Q?", [ContextChunk(filename="a.txt", text="A.")], [], "[1] (a.txt)\nA.", "(none)", id="plain"
        ),
        pytest.param(
            "Who incubates the egg?",
            [
                ContextChunk(
                    filename="penguins.pdf", text="The male incubates the egg.", page=3, section="Breeding"
                ),
                ContextChunk(filename="notes.txt", text="Penguins eat krill."),
            ],
            [Turn("user", "Where do penguins live?"), Turn("assistant", "In Antarctica [1].")],
            "[1] (penguins.pdf, page 3, section 'Breeding')\nThe male incubates the egg.\n\n"
            "[2] (notes.txt)\nPenguins eat krill.",
            "User: Where do penguins live?\nAssistant: In Antarctica [1].",
            id="chunks-and-history",
        ),
    ],
)
def test_prompt_follows_the_design_template_exactly(
    query: str, chunks: list[ContextChunk], history: list[Turn], context: str, conversation: str
) -> None:
    """The template is DESIGN.md's ("### Query") to the letter, with issue 25's rule to cite the context."""
    assert build_prompt(query, chunks, history) == (
        "You are a helpful assistant. Use the following context to answer the user's question.\n"
        "Cite the numbered context you use by its number in square brackets, like [1] or [1, 3],"
        " right after the statement it supports.\n"
        "\n"
        "Context:\n"
        f"{context}\n"
        "\n"
        "Conversation History:\n"
        f"{conversation}\n"
        "\n"
        f"User: {query}\n"
        "\n"
        "Assistant:"
    )


def test_the_model_is_asked_to_cite_the_numbered_context_it_uses() -> None:
    chunks = [ContextChunk(filename="a.txt", text="A."), ContextChunk(filename="b.txt", text="B.")]
    prompt = build_prompt("q", chunks, [])
    rule = prompt.index("Cite the numbered context you use by its number in square brackets")
    assert rule < prompt.index("Context:\n[1] (a.txt)\nA.\n\n[2] (b.txt)\nB.")


def test_context_is_numbered_in_order() -> None:
    chunks = [ContextChunk(filename=f"doc{i}.txt", text=f"Text number {i}.") for i in range(1, 6)]
    prompt = build_prompt("q", chunks, [])
    positions = [prompt.index(f"[{i}] (doc{i}.txt)\nText number {i}.") for i in range(1, 6)]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("chunk", "header"),
    [
        (ContextChunk(filename="a.pdf", text="t", page=7), "[1] (a.pdf, page 7)"),
        (ContextChunk(filename="a.pdf", text="t", page=0), "[1] (a.pdf, page 0)"),
        (ContextChunk(filename="a.md", text="t", section="Setup"), "[1] (a.md, section 'Setup')"),
        (ContextChunk(filename="a.md", text="t", section=""), "[1] (a.md)"),
        (
            ContextChunk(filename="a.pdf", text="t", page=2, section="Intro"),
            "[1] (a.pdf, page 2, section 'Intro')",
        ),
        (ContextChunk(filename="a.txt", text="t"), "[1] (a.txt)"),
    ],
)
def test_context_headers_name_file_page_and_section(chunk: ContextChunk, header: str) -> None:
    assert f"Context:\n{header}\nt\n\nConversation History:" in build_prompt("q", [chunk], [])


def test_no_context_says_so() -> None:
    prompt = build_prompt("q", [], [])
    assert "Context:\n(no matching documents)\n\nConversation History:" in prompt


def test_no_history_is_none() -> None:
    prompt = build_prompt("q", [ContextChunk(filename="a.txt", text="t")], [])
    assert "Conversation History:\n(none)\n\nUser: q\n\nAssistant:" in prompt


def test_history_roles_are_labelled() -> None:
    history = [Turn("user", "hi"), Turn("assistant", "hello"), Turn("system", "be brief")]
    prompt = build_prompt("q", [], history)
    assert "Conversation History:\nUser: hi\nAssistant: hello\nSystem: be brief\n\nUser: q" in prompt


def test_query_with_braces_is_kept_verbatim() -> None:
    query = "What does {context_chunks} or {0} mean?"
    prompt = build_prompt(query, [ContextChunk(filename="a.txt", text="{query}")], [])
    assert prompt.endswith(f"User: {query}\n\nAssistant:")
    assert "[1] (a.txt)\n{query}\n" in prompt


def turns(n: int) -> list[Turn]:
    return [Turn("user" if i % 2 == 0 else "assistant", f"message {i} about penguins") for i in range(n)]


def cost(turn: Turn) -> int:
    return count_tokens(turn.content) + 2


def test_recent_history_keeps_everything_within_budget() -> None:
    history = turns(6)
    assert recent_history(history, 10_000) == history


def test_recent_history_drops_the_oldest_first() -> None:
    history = turns(10)
    budget = sum(cost(t) for t in history[-4:])
    kept = recent_history(history, budget)
    assert kept == history[-4:]
    assert recent_history(history, budget - 1) == history[-3:]


def test_recent_history_stops_at_the_first_turn_that_does_not_fit() -> None:
    # A long old turn is not skipped to reach even older short ones: history stays contiguous.
    history = [Turn("user", "short"), Turn("assistant", "long " * 500), Turn("user", "newest")]
    kept = recent_history(history, cost(history[0]) + cost(history[2]) + 10)
    assert kept == [history[2]]


def test_recent_history_is_within_its_budget() -> None:
    history = turns(30)
    for budget in (0, 1, 5, 17, 40, 100):
        kept = recent_history(history, budget)
        assert sum(cost(t) for t in kept) <= budget
        assert kept == history[len(history) - len(kept) :]


def test_zero_budget_gives_no_history() -> None:
    assert recent_history(turns(4), 0) == []


def test_no_turns_give_no_history() -> None:
    assert recent_history([], 1000) == []


def test_a_newest_turn_over_budget_gives_no_history() -> None:
    assert recent_history([Turn("user", "old"), Turn("user", "word " * 100)], 50) == []
