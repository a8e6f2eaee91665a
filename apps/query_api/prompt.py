"""Builds the LLM prompt from the retrieved chunks and the conversation so far: DESIGN.md's template,
with the rule that the model cites the numbered context it uses (read back by `citations`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from apps.common.tokenizer import count_tokens

TEMPLATE = """You are a helpful assistant. Use the following context to answer the user's question.
Cite the numbered context you use by its number in square brackets, like [1] or [1, 3], \
right after the statement it supports.

Context:
{context_chunks}

Conversation History:
{conversation_history}

User: {query}

Assistant:"""

_ROLE_LABELS = {"user": "User", "assistant": "Assistant"}


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


@dataclass(frozen=True)
class ContextChunk:
    filename: str
    text: str
    page: int | None = None
    section: str | None = None


def recent_history(turns: Sequence[Turn], budget_tokens: int) -> list[Turn]:
    """The newest turns whose total size fits `budget_tokens`; the oldest are dropped first."""
    kept: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        cost = count_tokens(turn.content) + 2
        if used + cost > budget_tokens:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    return kept


def format_context(chunks: Sequence[ContextChunk]) -> str:
    if not chunks:
        return "(no matching documents)"
    blocks = []
    for number, chunk in enumerate(chunks, start=1):
        where = chunk.filename + (f", page {chunk.page}" if chunk.page is not None else "")
        if chunk.section:
            where += f", section {chunk.section!r}"
        blocks.append(f"[{number}] ({where})\n{chunk.text}")
    return "\n\n".join(blocks)


def format_history(turns: Sequence[Turn]) -> str:
    if not turns:
        return "(none)"
    return "\n".join(f"{_ROLE_LABELS.get(t.role, t.role.title())}: {t.content}" for t in turns)


def build_prompt(query: str, chunks: Sequence[ContextChunk], history: Sequence[Turn]) -> str:
    return TEMPLATE.format(
        context_chunks=format_context(chunks),
        conversation_history=format_history(history),
        query=query,
    )
