"""The RAG engine: conversation turn, retrieval, prompt, and the stored answer.

The query route drives it the same way for streamed and JSON answers: `begin` (the conversation
and its history; the user's message is written meanwhile), `retrieve` (embed + search),
`chat_request` (the prompt), the chat model's stream, then `finish` (the assistant message, with
its sources).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from apps.common.embeddings import Embedders
from apps.common.generations import LiveGenerations
from apps.common.llm import ChatModel, ChatRequest
from apps.common.settings import Settings
from apps.common.tracing import tracer
from apps.common.vector_store import CollectionNotFound, SearchFilter, VectorStore
from apps.query_api.conversation_store import ConversationStore
from apps.query_api.errors import ApiError
from apps.query_api.prompt import ContextChunk, Turn, build_prompt, recent_history
from schemas.api import QueryRequest, RetrievalOptions, Source, Timings, Usage

log = logging.getLogger(__name__)
_TITLE_CHARS = 80


@dataclass
class Turnstart:
    conversation_id: UUID
    history: list[Turn]
    started: float
    # The user's message being written, while retrieval runs: its round trips are not in the answer's time.
    question_stored: asyncio.Task[None]


@dataclass
class Retrieval:
    sources: list[Source]
    embed_ms: float
    search_ms: float
    collection: str | None = None


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


class RagEngine:
    def __init__(
        self,
        settings: Settings,
        *,
        store: VectorStore,
        embedders: Embedders,
        generations: LiveGenerations,
        chat: ChatModel,
        conversations: ConversationStore,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedders = embedders
        self.generations = generations
        self.chat = chat
        self.conversations = conversations
        self._storing: set[asyncio.Task[None]] = set()

    async def begin(self, request: QueryRequest) -> Turnstart:
        """Find (or start) the conversation and read its recent history; the user's message is stored
        in a task of its own, which `finish` waits for."""
        started = time.perf_counter()
        if request.conversation_id is not None:
            if await self.conversations.get(request.conversation_id) is None:
                raise ApiError(404, "conversation_not_found", f"no conversation {request.conversation_id}")
            conversation_id = request.conversation_id
            history = await self.conversations.recent_turns(conversation_id)
        else:
            conversation_id, history = uuid4(), []
        stored = asyncio.create_task(
            self._store_question(conversation_id, request.query, new=request.conversation_id is None)
        )
        # Stored even if the answer never starts (the client left): then only this set holds the task.
        self._storing.add(stored)
        stored.add_done_callback(self._stored)
        return Turnstart(conversation_id, history, started, stored)

    def _stored(self, task: asyncio.Task[None]) -> None:
        self._storing.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("storing a question failed: %s: %s", type(error).__name__, error)

    async def _store_question(self, conversation_id: UUID, query: str, *, new: bool) -> None:
        if new:
            title = query[:_TITLE_CHARS]
            await self.conversations.start(title, "user", query, conversation_id=conversation_id)
        else:
            await self.conversations.add_message(conversation_id, "user", query)

    async def retrieve(self, query: str, options: RetrievalOptions) -> Retrieval:
        """The chunks that best match `query`, within the options' filters."""
        # The live generation says which collection to search and with which model to embed:
        # after a reindex switches it, the next question follows, with no restart.
        generation = await self.generations.get(self.settings.qdrant_collection)
        if generation is None:
            return Retrieval([], 0.0, 0.0)
        t0 = time.perf_counter()
        with tracer.start_as_current_span(
            "embed query", attributes={"ragstream.model": generation.embedding_model}
        ):
            vector = await self.embedders.get(generation.embedding_model).embed_question(query)
        embed_ms = _ms(t0)
        t1 = time.perf_counter()
        where = SearchFilter(
            document_ids=options.document_ids,
            uploaded_after=options.uploaded_after,
            uploaded_before=options.uploaded_before,
        )
        try:
            hits = await self.store.search(
                generation.name,
                vector,
                limit=options.top_k or self.settings.query_top_k,
                where=where,
                text=query,
                mode=options.search_mode or self.settings.search_mode,
            )
        except CollectionNotFound:
            hits = []
        sources = [
            Source(
                document_id=hit.payload.document_id,
                filename=hit.payload.filename,
                chunk_index=hit.payload.chunk_index,
                score=hit.score,
                text=hit.payload.content,
                page=hit.payload.page,
                section=hit.payload.section,
            )
            for hit in hits
        ]
        return Retrieval(sources, embed_ms, _ms(t1), generation.name)

    def chat_request(self, query: str, history: list[Turn], retrieval: Retrieval) -> ChatRequest:
        """What the chat model is asked: DESIGN.md's prompt, and the passages for extractive answers."""
        chunks = [ContextChunk(s.filename, s.text, s.page, s.section) for s in retrieval.sources]
        return ChatRequest(
            prompt=build_prompt(query, chunks, recent_history(history, self.settings.history_token_budget)),
            query=query,
            passages=[s.text for s in retrieval.sources],
        )

    async def finish(
        self,
        turn: Turnstart,
        answer: str,
        retrieval: Retrieval,
        *,
        usage: Usage,
        timings: Timings,
        interrupted: bool = False,
    ) -> UUID:
        """Store the assistant's answer with the sources it was given (and whether it was cut short),
        after the question it answers."""
        await turn.question_stored
        metadata: dict[str, Any] = {
            "sources": [s.model_dump(mode="json", exclude={"text"}) for s in retrieval.sources],
            "model": self.chat.name,
            "usage": usage.model_dump(),
            "timings": timings.model_dump(),
        }
        if interrupted:
            metadata["interrupted"] = True
        return await self.conversations.add_message(turn.conversation_id, "assistant", answer, metadata)

    def timings(
        self, turn: Turnstart, retrieval: Retrieval, llm_started: float, first_token_at: float | None
    ) -> Timings:
        return Timings(
            embed_ms=retrieval.embed_ms,
            search_ms=retrieval.search_ms,
            llm_ms=_ms(llm_started),
            first_token_ms=round((first_token_at - turn.started) * 1000, 3) if first_token_at else None,
            total_ms=_ms(turn.started),
        )
