"""Unit tests of `apps.common.embeddings.request_batches`: requests within the provider's limits."""

from __future__ import annotations

import itertools

import pytest

from apps.common.embeddings import MODEL_SPECS, EmbeddingModelSpec, request_batches
from apps.common.tokenizer import count_tokens


def spec(max_inputs: int, max_tokens: int) -> EmbeddingModelSpec:
    return EmbeddingModelSpec(
        name="test-model",
        dimensions=4,
        max_input_tokens=1000,
        default_chunk_size=100,
        default_chunk_overlap=10,
        max_request_inputs=max_inputs,
        max_request_tokens=max_tokens,
    )


def words(n: int) -> str:
    """A text of exactly `n` cl100k tokens."""
    text = " ice" * n
    assert count_tokens(text) == n
    return text


def assert_covers_in_order(batches: list[tuple[int, int]], count: int) -> None:
    assert [i for start, end in batches for i in range(start, end)] == list(range(count))
    assert all(start < end for start, end in batches)


def test_no_texts_no_batches() -> None:
    assert request_batches([], spec(10, 100)) == []


def test_everything_in_one_request_when_it_fits() -> None:
    texts = [words(5)] * 4
    assert request_batches(texts, spec(10, 100)) == [(0, 4)]


def test_respects_max_request_inputs() -> None:
    texts = [words(1)] * 10
    batches = request_batches(texts, spec(3, 10_000))
    assert batches == [(0, 3), (3, 6), (6, 9), (9, 10)]


def test_respects_max_request_tokens() -> None:
    texts = [words(n) for n in (4, 4, 4, 4, 9, 1, 10)]
    batches = request_batches(texts, spec(100, 10))
    assert_covers_in_order(batches, len(texts))
    for start, end in batches:
        assert sum(count_tokens(t) for t in texts[start:end]) <= 10
    assert batches == [(0, 2), (2, 4), (4, 6), (6, 7)]


def test_a_batch_exactly_at_the_token_limit() -> None:
    texts = [words(5), words(5), words(5)]
    assert request_batches(texts, spec(100, 10)) == [(0, 2), (2, 3)]


def test_a_text_over_the_token_limit_gets_its_own_batch() -> None:
    texts = [words(2), words(50), words(2), words(2)]
    batches = request_batches(texts, spec(100, 10))
    assert batches == [(0, 1), (1, 2), (2, 4)]


def test_a_long_first_text_gets_its_own_batch() -> None:
    texts = [words(50), words(1)]
    assert request_batches(texts, spec(100, 10)) == [(0, 1), (1, 2)]


@pytest.mark.parametrize(("max_inputs", "max_tokens"), [(1, 1000), (2, 7), (3, 12), (5, 3), (64, 40)])
def test_both_limits_hold_for_mixed_texts(max_inputs: int, max_tokens: int) -> None:
    texts = [words(1 + (i * 7) % 13) for i in range(40)]
    batches = request_batches(texts, spec(max_inputs, max_tokens))
    assert_covers_in_order(batches, len(texts))
    for start, end in batches:
        assert end - start <= max_inputs
        tokens = sum(count_tokens(t) for t in texts[start:end])
        assert tokens <= max_tokens or end - start == 1
    # Greedy: no batch could have taken the next text without breaking a limit.
    for (start, end), _ in itertools.pairwise(batches):
        tokens = sum(count_tokens(t) for t in texts[start : end + 1])
        assert end + 1 - start > max_inputs or tokens > max_tokens


def test_multibyte_texts_are_counted_in_tokens() -> None:
    texts = ["🐧" * 10, "企鹅" * 10, "penguin"]
    limit = count_tokens(texts[0]) + count_tokens(texts[1]) - 1
    batches = request_batches(texts, spec(100, limit))
    assert batches[0] == (0, 1)
    assert_covers_in_order(batches, 3)


def test_openai_spec_limits() -> None:
    small = MODEL_SPECS["text-embedding-3-small"]
    assert (small.max_request_inputs, small.max_request_tokens) == (2048, 300_000)
    assert request_batches(["x"] * 5000, small) == [(0, 2048), (2048, 4096), (4096, 5000)]
