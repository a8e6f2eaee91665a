"""Chat models that write the answer: any OpenAI-compatible server, or offline extractive answers.

Both stream through the same interface: an async iterator of `ChatChunk`s, text deltas
first and usage last.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from openai import AsyncOpenAI, AsyncStream
from pydantic import BaseModel

from apps.common.openai_client import openai_client
from apps.common.settings import EXTRACTIVE_CHAT_MODEL, Settings
from apps.common.tokenizer import count_tokens


@dataclass(frozen=True)
class ChatRequest:
    prompt: str = field(repr=False)
    query: str
    passages: Sequence[str] = ()


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class ChatChunk:
    delta: str = ""
    usage: Usage | None = None


class _Delta(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    delta: _Delta


class _ChunkUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class _Chunk(BaseModel):
    """What the answer needs of a streamed chat completion chunk."""

    choices: list[_Choice] = []
    usage: _ChunkUsage | None = None


class ChatModel(Protocol):
    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]: ...

    async def close(self) -> None:
        """Release its connections."""
        ...


class OpenAIChat:
    """Chat completions, streamed, from OpenAI or any server that speaks its API."""

    def __init__(self, name: str, client: AsyncOpenAI) -> None:
        self.name = name
        self._client = client

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        # The SDK's own streaming (its retries, SSE decoding, errors), each chunk as the JSON it is: a
        # typed ChatCompletionChunk costs the event loop more to build than the rest of its handling.
        stream = await self._client.post(
            "/chat/completions",
            body={
                "model": self.name,
                "messages": [{"role": "user", "content": request.prompt}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            cast_to=object,
            stream=True,
            stream_cls=AsyncStream[object],
        )
        usage: Usage | None = None
        completion = []
        try:
            async for data in stream:
                chunk = _Chunk.model_validate(data)
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.delta.content:
                        completion.append(choice.delta.content)
                        yield ChatChunk(delta=choice.delta.content)
        finally:
            await stream.close()
        yield ChatChunk(usage=usage or Usage(count_tokens(request.prompt), count_tokens("".join(completion))))

    async def close(self) -> None:
        await self._client.close()


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n{2,}")
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "me",
        "my",
        "we",
        "our",
        "they",
        "their",
        "there",
    ]
)
_NO_ANSWER = "I could not find anything about that in the indexed documents."
_MIN_SENTENCE_WORDS = 4
_RELATIVE_SCORE_FLOOR = 0.5


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def extract_answer(query: str, passages: Sequence[str], *, max_sentences: int = 3) -> str:
    """The sentences of `passages` that best match `query`, each cited as [n] (its passage number).

    Headings and other fragments (under four words) are not answers, and a sentence scoring
    under half the best one is left out rather than padding the answer.
    """
    query_terms = set(_terms(query))
    sentences_by_passage = [
        [" ".join(s.split()) for s in _SENTENCE_END.split(passage) if len(s.split()) >= _MIN_SENTENCE_WORDS]
        for passage in passages
    ]
    document_frequency: Counter[str] = Counter(
        t for sentences in sentences_by_passage for s in sentences for t in set(_terms(s))
    )
    total = sum(len(s) for s in sentences_by_passage) or 1
    # (score, tie-break, passage number, position, sentence): ties favour the better-ranked passage.
    candidates: list[tuple[float, float, int, int, str]] = []
    for number, sentences in enumerate(sentences_by_passage, start=1):
        for position, sentence in enumerate(sentences):
            overlap = query_terms & set(_terms(sentence))
            if overlap:
                score = sum(math.log(1 + total / document_frequency[t]) for t in overlap)
                candidates.append((score, -(number + position / 1000), number, position, sentence))
    if not candidates:
        for number, sentences in enumerate(sentences_by_passage, start=1):
            if sentences:
                return f"{sentences[0]} [{number}]"
        return _NO_ANSWER
    candidates.sort(reverse=True)
    best_score = candidates[0][0]
    chosen = [c for c in candidates if c[0] >= _RELATIVE_SCORE_FLOOR * best_score][:max_sentences]
    chosen.sort(key=lambda c: (c[2], c[3]))
    return " ".join(f"{sentence} [{number}]" for _, _, number, _, sentence in chosen)


class ExtractiveChat:
    """The offline answerer: no model, just the most relevant sentences of the sources, cited."""

    name = EXTRACTIVE_CHAT_MODEL

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        answer = extract_answer(request.query, request.passages)
        for word in re.findall(r"\S+\s*", answer):
            yield ChatChunk(delta=word)
            await asyncio.sleep(0)
        yield ChatChunk(usage=Usage(count_tokens(request.prompt), count_tokens(answer)))

    async def close(self) -> None:
        """Nothing to close."""


def make_chat_model(settings: Settings) -> ChatModel:
    name = settings.resolved_chat_model
    if name == EXTRACTIVE_CHAT_MODEL:
        return ExtractiveChat()
    return OpenAIChat(name, openai_client(settings))
