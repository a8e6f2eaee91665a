"""`OpenAIEmbedder` and `OpenAIChat` through the real `openai` SDK, against a small
OpenAI-compatible server started by the tests (`tests.openai_stub`, on 127.0.0.1): request
batching, vector order and normalisation, streamed deltas and usage, errors mid-stream, and
the SDK's retries of server errors."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import numpy.typing as npt
import openai
import pytest
from openai import AsyncOpenAI, DefaultAioHttpClient

from apps.common import openai_client as openai_client_module
from apps.common.embeddings import MODEL_SPECS, Embedders, EmbeddingModelSpec, OpenAIEmbedder
from apps.common.llm import ChatChunk, ChatRequest, OpenAIChat, Usage
from apps.common.openai_client import openai_client
from apps.common.settings import Settings
from apps.common.tokenizer import count_tokens
from tests.openai_stub import CHAT_DELTAS, ChatMode, OpenAIStub, fake_embedding, running_openai_stub

EMBEDDING_MODEL = "text-embedding-3-small"
CHAT_MODEL = "gpt-4o-mini"


@pytest.fixture
async def stub() -> AsyncIterator[OpenAIStub]:
    async with running_openai_stub(dimensions=8) as running:
        yield running


@pytest.fixture
async def client(stub: OpenAIStub) -> AsyncIterator[AsyncOpenAI]:
    settings = Settings(
        _env_file=None, openai_api_key="test", openai_base_url=stub.base_url, openai_max_retries=2
    )
    opened = openai_client(settings)
    try:
        yield opened
    finally:
        await opened.close()


def _spec(**changes: Any) -> EmbeddingModelSpec:
    return dataclasses.replace(MODEL_SPECS[EMBEDDING_MODEL], dimensions=8, **changes)


def _expected(texts: list[str], dimensions: int = 8) -> npt.NDArray[np.float64]:
    rows = np.stack([fake_embedding(text, dimensions) for text in texts])
    normalised: npt.NDArray[np.float64] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return normalised


def test_the_client_is_configured_from_settings(client: AsyncOpenAI, stub: OpenAIStub) -> None:
    assert client.max_retries == 2
    assert str(client.base_url).rstrip("/") == stub.base_url
    assert client.api_key == "test"
    assert isinstance(client._client, DefaultAioHttpClient)  # the SDK's aiohttp transport, not httpx's


async def test_idle_connections_are_let_go_before_a_server_would_close_them(
    stub: OpenAIStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_client_module, "IDLE_CONNECTION_SECONDS", 0.2)
    settings = Settings(_env_file=None, openai_api_key="test", openai_base_url=stub.base_url)
    client = openai_client(settings)
    try:
        for text in ("first", "right after"):
            await client.embeddings.create(model=EMBEDDING_MODEL, input=[text])
        await asyncio.sleep(0.4)  # idle for longer than the client keeps a connection
        await client.embeddings.create(model=EMBEDDING_MODEL, input=["after a pause"])
    finally:
        await client.close()
    first, right_after, after_a_pause = (request.client_port for request in stub.requests)
    assert first == right_after != after_a_pause


async def test_closing_the_chat_model_closes_its_client(client: AsyncOpenAI) -> None:
    chat = OpenAIChat(CHAT_MODEL, client)
    async for _ in chat.stream(ChatRequest(prompt="p", query="q")):
        pass
    await chat.close()
    assert client.is_closed()


async def test_embedders_close_the_provider_clients_they_opened(stub: OpenAIStub) -> None:
    settings = Settings(_env_file=None, openai_api_key="test", openai_base_url=stub.base_url)
    embedders = Embedders(settings)
    embedder = embedders.get(EMBEDDING_MODEL)
    assert isinstance(embedder, OpenAIEmbedder)
    await embedder.embed(["one"])
    await embedders.close()
    assert embedder._client.is_closed()


async def test_a_question_is_one_request_of_one_text(client: AsyncOpenAI, stub: OpenAIStub) -> None:
    embedder = OpenAIEmbedder(_spec(), client)

    vector = await embedder.embed_question("How long do penguins incubate?")

    assert stub.embedding_requests == [["How long do penguins incubate?"]]
    assert vector.dtype == np.float32
    assert vector.shape == (8,)
    np.testing.assert_allclose(np.linalg.norm(vector), 1.0, atol=1e-6)


async def test_embeddings_are_batched_by_the_models_input_limit(
    client: AsyncOpenAI, stub: OpenAIStub
) -> None:
    texts = [f"penguin fact number {i}" for i in range(8)]
    embedder = OpenAIEmbedder(_spec(max_request_inputs=3), client)

    vectors = await embedder.embed(texts)

    assert stub.embedding_requests == [texts[0:3], texts[3:6], texts[6:8]]
    assert all(r.body["model"] == EMBEDDING_MODEL for r in stub.requests)
    assert all(r.body["encoding_format"] == "float" for r in stub.requests)
    assert all(r.authorization == "Bearer test" for r in stub.requests)
    assert vectors.dtype == np.float32
    assert vectors.shape == (8, 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    # In input order, although the server answered each request in reverse order.
    np.testing.assert_allclose(vectors, _expected(texts), atol=1e-6)


async def test_embeddings_are_batched_by_the_models_token_limit(
    client: AsyncOpenAI, stub: OpenAIStub
) -> None:
    texts = [f"{'emperor penguins breed in winter ' * (1 + i % 3)}{i}" for i in range(10)]
    limit = 32
    assert all(count_tokens(text) <= limit for text in texts)
    embedder = OpenAIEmbedder(_spec(max_request_tokens=limit), client)

    vectors = await embedder.embed(texts)

    requests = stub.embedding_requests
    assert len(requests) > 1
    assert [text for inputs in requests for text in inputs] == texts
    for inputs in requests:
        assert sum(count_tokens(text) for text in inputs) <= limit
    np.testing.assert_allclose(vectors, _expected(texts), atol=1e-6)


async def test_embeddings_requests_are_as_large_as_openai_allows(
    client: AsyncOpenAI, stub: OpenAIStub
) -> None:
    texts = [f"t{i}" for i in range(2050)]
    embedder = OpenAIEmbedder(_spec(), client)  # OpenAI's own limits: 2048 inputs, 300k tokens

    vectors = await embedder.embed(texts)

    assert [len(inputs) for inputs in stub.embedding_requests] == [2048, 2]
    assert vectors.shape == (2050, 8)
    np.testing.assert_allclose(
        vectors[[0, 2047, 2048, 2049]], _expected([texts[i] for i in (0, 2047, 2048, 2049)]), atol=1e-6
    )


async def test_no_texts_need_no_request(client: AsyncOpenAI, stub: OpenAIStub) -> None:
    vectors = await OpenAIEmbedder(_spec(), client).embed([])

    assert vectors.shape == (0, 8)
    assert vectors.dtype == np.float32
    assert stub.requests == []


async def test_a_server_error_is_retried_until_the_server_recovers(
    client: AsyncOpenAI, stub: OpenAIStub
) -> None:
    stub.embedding_failures = 2  # as many as settings.openai_max_retries
    texts = ["a", "b"]

    vectors = await OpenAIEmbedder(_spec(), client).embed(texts)

    assert stub.embedding_requests == [texts, texts, texts]
    np.testing.assert_allclose(vectors, _expected(texts), atol=1e-6)


async def test_a_server_error_past_the_retries_raises(client: AsyncOpenAI, stub: OpenAIStub) -> None:
    stub.embedding_failures = 3

    with pytest.raises(openai.InternalServerError, match="upstream overloaded"):
        await OpenAIEmbedder(_spec(), client).embed(["a"])

    assert len(stub.embedding_requests) == 3  # the first request and 2 retries


async def _collect(chat: OpenAIChat, request: ChatRequest, into: list[ChatChunk]) -> None:
    async for chunk in chat.stream(request):
        into.append(chunk)


async def test_chat_streams_the_deltas_in_order_then_the_usage(client: AsyncOpenAI, stub: OpenAIStub) -> None:
    chat = OpenAIChat(CHAT_MODEL, client)
    request = ChatRequest(
        prompt="Context: ...\n\nUser: who incubates the egg?", query="who incubates the egg?"
    )
    chunks: list[ChatChunk] = []

    await _collect(chat, request, chunks)

    assert [c.delta for c in chunks[:-1]] == list(CHAT_DELTAS)
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1] == ChatChunk(delta="", usage=Usage(prompt_tokens=42, completion_tokens=9))
    [sent] = stub.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == CHAT_MODEL
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == [{"role": "user", "content": request.prompt}]
    assert sent.authorization == "Bearer test"


async def test_chat_counts_the_usage_when_the_server_does_not_report_it(
    client: AsyncOpenAI, stub: OpenAIStub
) -> None:
    stub.chat_mode = "no_usage"
    request = ChatRequest(prompt="Context: penguins.\n\nUser: who?", query="who?")
    chunks: list[ChatChunk] = []

    await _collect(OpenAIChat(CHAT_MODEL, client), request, chunks)

    assert [c.delta for c in chunks[:-1]] == list(CHAT_DELTAS)
    expected = Usage(count_tokens(request.prompt), count_tokens("".join(CHAT_DELTAS)))
    assert chunks[-1].usage == expected


@pytest.mark.parametrize(
    ("mode", "error"),
    [("error_event", openai.APIError), ("disconnect", openai.APIConnectionError)],
)
async def test_a_server_error_mid_stream_raises_out_of_the_stream(
    client: AsyncOpenAI, stub: OpenAIStub, mode: ChatMode, error: type[Exception]
) -> None:
    stub.chat_mode = mode
    chunks: list[ChatChunk] = []

    with pytest.raises(error):
        await _collect(OpenAIChat(CHAT_MODEL, client), ChatRequest(prompt="p", query="q"), chunks)

    # What came before the error was passed on; no usage chunk pretends the answer ended.
    assert [c.delta for c in chunks] == list(CHAT_DELTAS[:2])
    assert all(c.usage is None for c in chunks)
