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

from openai import AsyncOpenAI

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


class ChatModel(Protocol):
    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]: ...


class OpenAIChat:
    """Chat completions, streamed, from OpenAI or any server that speaks its API."""

    def __init__(self, name: str, client: AsyncOpenAI) -> None:
        self.name = name
        self._client = client

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        stream = await self._client.chat.completions.create(
            model=self.name,
            messages=[{"role": "user", "content": request.prompt}],
            stream=True,
            stream_options={"include_usage": True},
        )
        usage: Usage | None = None
        completion = []
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.delta.content:
                        completion.append(choice.delta.content)
                        yield ChatChunk(delta=choice.delta.content)
        finally:
            await stream.close()
        yield ChatChunk(usage=usage or Usage(count_tokens(request.prompt), count_tokens("".join(completion))))


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


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS]


def extract_answer(query: str, passages: Sequence[str], *, max_sentences: int = 3) -> str:
    """The sentences of `passages` that best match `query`, each cited as [n] (its passage number)."""
    query_terms = set(_terms(query))
    candidates: list[tuple[float, int, int, str]] = []
    document_frequency: Counter[str] = Counter()
    sentences_by_passage = []
    for passage in passages:
        sentences = [s.strip() for s in _SENTENCE_END.split(passage) if s and s.strip()]
        sentences_by_passage.append(sentences)
        document_frequency.update({t for s in sentences for t in _terms(s)})
    total = sum(len(s) for s in sentences_by_passage) or 1
    for number, sentences in enumerate(sentences_by_passage, start=1):
        for position, sentence in enumerate(sentences):
            terms = set(_terms(sentence))
            overlap = query_terms & terms
            if not overlap:
                continue
            score = sum(math.log(1 + total / document_frequency[t]) for t in overlap)
            # Prefer the better-ranked passage and the earlier sentence when scores tie.
            score -= 0.01 * number + 0.001 * position
            candidates.append((score, number, position, " ".join(sentence.split())))
    if not candidates:
        if passages:
            first = sentences_by_passage[0][0] if sentences_by_passage[0] else passages[0]
            return f"{' '.join(first.split())} [1]"
        return _NO_ANSWER
    best = sorted(candidates, reverse=True)[:max_sentences]
    best.sort(key=lambda c: (c[1], c[2]))
    return " ".join(f"{sentence} [{number}]" for _, number, _, sentence in best)


class ExtractiveChat:
    """The offline answerer: no model, just the most relevant sentences of the sources, cited."""

    name = EXTRACTIVE_CHAT_MODEL

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        answer = extract_answer(request.query, request.passages)
        for word in re.findall(r"\S+\s*", answer):
            yield ChatChunk(delta=word)
            await asyncio.sleep(0)
        yield ChatChunk(usage=Usage(count_tokens(request.prompt), count_tokens(answer)))


def make_chat_model(settings: Settings) -> ChatModel:
    name = settings.resolved_chat_model
    if name == EXTRACTIVE_CHAT_MODEL:
        return ExtractiveChat()
    return OpenAIChat(name, openai_client(settings))
