"""The RAG engine: a caller's question in, the answer out as typed events.

`answer` keeps the turn in one of the caller's conversations (`POST /v1/query`); `answer_stateless`
serves the OpenAI endpoint, whose client sends the conversation every time. Both search only what the
caller may see, and yield `Sources`, then `Token`s, then `Finished` (with the sources the answer cites)
or `Failed`: routes only map the events to their wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID, uuid4

from apps.common.database import Pool
from apps.common.embeddings import Embedders
from apps.common.generations import LiveGenerations
from apps.common.identity import Access, Identity
from apps.common.llm import ChatModel, ChatRequest
from apps.common.logs import log_context
from apps.common.settings import Settings
from apps.common.tracing import tracer
from apps.common.vector_store import CollectionNotFound, SearchFilter, VectorStore
from apps.query_api.citations import cited_sources
from apps.query_api.context import Anchor, with_neighbours
from apps.query_api.conversation_store import ConversationStore
from apps.query_api.errors import ApiError
from apps.query_api.metrics import ANSWER_ERRORS, observe_answer
from apps.query_api.prompt import ContextChunk, Turn, build_prompt, recent_history
from apps.query_api.rerank import Reranker, reranked
from schemas.api import QueryRequest, RetrievalOptions, Source, Timings, Usage

log = logging.getLogger(__name__)
_TITLE_CHARS = 80
Stage = Literal["retrieval", "llm", "storage"]


@dataclass(frozen=True)
class Sources:
    sources: list[Source]


@dataclass(frozen=True)
class Token:
    delta: str


@dataclass(frozen=True)
class Finished:
    model: str
    usage: Usage
    timings: Timings
    collection: str | None
    citations: list[int]  # the sources the answer cites, by number (1-based), in the order first cited
    conversation_id: UUID | None = None  # None: a stateless answer, stored nowhere
    message_id: UUID | None = None


@dataclass(frozen=True)
class Failed:
    stage: Stage
    message: str

    @property
    def code(self) -> str:
        return f"{self.stage}_error"


AnswerEvent = Sources | Token | Finished | Failed


@dataclass(frozen=True)
class Collected:
    """A whole answer, for a response that is not streamed."""

    sources: list[Source]
    text: str
    finished: Finished


async def collect(answer: AsyncGenerator[AnswerEvent]) -> Collected | Failed:
    """The answer's events gathered into one, or its failure."""
    sources: list[Source] = []
    parts: list[str] = []
    # Closed here, in the caller's task: the answer's context (log fields, spans) ends where it began.
    async with contextlib.aclosing(answer) as events:
        async for event in events:
            if isinstance(event, Sources):
                sources = event.sources
            elif isinstance(event, Token):
                parts.append(event.delta)
            elif isinstance(event, Failed):
                return event
            else:
                return Collected(sources, "".join(parts), event)
    raise RuntimeError("the answer ended without a finished or failed event")


@dataclass
class Retrieval:
    sources: list[Source]
    embed_ms: float
    search_ms: float
    collection: str | None = None
    rerank_ms: float | None = None  # None: no reranker
    # Each found chunk's version, by document and chunk index: where its neighbours are looked up.
    versions: dict[tuple[UUID, int], str] = field(default_factory=dict)
    # What the model is given of each source, in order (`context`); None: the source's own text.
    context: list[str] | None = None


@dataclass
class _Turn:
    """One question being answered: its history, and where the turn is kept (if anywhere)."""

    question: str
    history: list[Turn]
    started: float
    conversations: ConversationStore | None = None
    conversation_id: UUID | None = None
    # The user's message being written while retrieval runs: its round trips are not in the answer's time.
    question_stored: asyncio.Task[None] | None = None


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


class RagEngine:
    def __init__(
        self,
        settings: Settings,
        *,
        pool: Pool,
        store: VectorStore,
        embedders: Embedders,
        generations: LiveGenerations,
        chat: ChatModel,
        reranker: Reranker | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.store = store
        self.embedders = embedders
        self.generations = generations
        self.chat = chat
        self.reranker = reranker
        self._storing: set[asyncio.Task[None]] = set()

    async def answer(self, identity: Identity, request: QueryRequest) -> AsyncGenerator[AnswerEvent]:
        """The answer to `request` in one of the caller's conversations (a new one unless it names
        one): a 404 before any event for a conversation the caller does not own."""
        started = time.perf_counter()
        conversations = ConversationStore(self.pool, identity)
        history: list[Turn] = []
        if request.conversation_id is not None:
            if await conversations.get(request.conversation_id) is None:
                raise ApiError(404, "conversation_not_found", f"no conversation {request.conversation_id}")
            history = await conversations.recent_turns(request.conversation_id)
        conversation_id = request.conversation_id or uuid4()
        stored = asyncio.create_task(
            self._store_question(
                conversations, conversation_id, request.query, new=request.conversation_id is None
            )
        )
        turn = _Turn(request.query, history, started, conversations, conversation_id, stored)
        # Stored even if the answer never starts (the client left): then only this set holds the task.
        self._storing.add(stored)
        stored.add_done_callback(self._stored)
        return self._answering(turn, request, identity.access)

    async def answer_stateless(
        self, identity: Identity, question: str, history: list[Turn], options: RetrievalOptions
    ) -> AsyncGenerator[AnswerEvent]:
        """The answer to `question` after `history`, stored nowhere."""
        return self._answering(_Turn(question, history, time.perf_counter()), options, identity.access)

    def _stored(self, task: asyncio.Task[None]) -> None:
        self._storing.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("storing a question failed: %s: %s", type(error).__name__, error)

    async def _store_question(
        self, conversations: ConversationStore, conversation_id: UUID, question: str, *, new: bool
    ) -> None:
        if new:
            title = question[:_TITLE_CHARS]
            await conversations.start(title, "user", question, conversation_id=conversation_id)
        elif await conversations.add_message(conversation_id, "user", question) is None:
            raise LookupError(f"conversation {conversation_id} was deleted while being continued")

    async def _answering(
        self, turn: _Turn, options: RetrievalOptions, access: Access
    ) -> AsyncGenerator[AnswerEvent]:
        parts: list[str] = []
        retrieval: Retrieval | None = None
        stage: Stage = "retrieval"
        with log_context(conversation_id=turn.conversation_id):
            try:
                retrieval = await self.retrieve(turn.question, options, access=access)
                retrieval.context = await self.context(retrieval, access=access)
                stage = "llm"
                yield Sources(retrieval.sources)
                llm_started = time.perf_counter()
                first_token_at: float | None = None
                usage = Usage(prompt_tokens=0, completion_tokens=0)
                with tracer.start_as_current_span("llm", attributes={"ragstream.model": self.chat.name}):
                    async for chunk in self.chat.stream(
                        self.chat_request(turn.question, turn.history, retrieval)
                    ):
                        if chunk.delta:
                            first_token_at = first_token_at or time.perf_counter()
                            parts.append(chunk.delta)
                            yield Token(chunk.delta)
                        if chunk.usage:
                            usage = Usage(
                                prompt_tokens=chunk.usage.prompt_tokens,
                                completion_tokens=chunk.usage.completion_tokens,
                            )
                timings = self._timings(turn, retrieval, llm_started, first_token_at)
                observe_answer(timings)
                stage = "storage"
                answer = "".join(parts)
                # From the whole text: a marker may have come split across deltas.
                citations = cited_sources(answer, len(retrieval.sources))
                message_id = await self._finish(
                    turn, answer, retrieval, citations=citations, usage=usage, timings=timings
                )
                yield Finished(
                    self.chat.name,
                    usage,
                    timings,
                    retrieval.collection,
                    citations,
                    turn.conversation_id,
                    message_id,
                )
            except asyncio.CancelledError:
                # The client went away: keep what was said so far, marked as interrupted.
                if retrieval is not None and parts and turn.conversations is not None:
                    await asyncio.shield(self._save_interrupted(turn, retrieval, "".join(parts)))
                raise
            except Exception as exc:
                log.exception("answering in conversation %s failed", turn.conversation_id)
                ANSWER_ERRORS.labels(f"{stage}_error").inc()
                yield Failed(stage, f"the answer failed during {stage}: {type(exc).__name__}: {exc}")

    async def retrieve(self, query: str, options: RetrievalOptions, *, access: Access) -> Retrieval:
        """The chunks that best match `query`, among those `access` may see, within the options' filters:
        with a reranker, the top_k it ranks best of the search's best rerank_candidates."""
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
        top_k = options.top_k or self.settings.query_top_k
        limit = max(top_k, self.settings.rerank_candidates) if self.reranker is not None else top_k
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
                access=access,
                limit=limit,
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
        search_ms = _ms(t1)
        # Reversed: should two versions of a chunk both be found, the better ranked one's is kept.
        versions = {(h.payload.document_id, h.payload.chunk_index): h.payload.version for h in reversed(hits)}
        rerank_ms: float | None = None
        if self.reranker is not None:
            t2 = time.perf_counter()
            with tracer.start_as_current_span("rerank", attributes={"ragstream.candidates": len(sources)}):
                sources = await reranked(self.reranker, query, sources, top_k)
            rerank_ms = _ms(t2)
        return Retrieval(sources, embed_ms, search_ms, generation.name, rerank_ms, versions)

    async def context(self, retrieval: Retrieval, *, access: Access) -> list[str]:
        """What the model is given of each source: the chunk with its neighbours in its section when
        `context_neighbours` is set (the sources themselves stay the chunks found), else the chunk."""
        plain = [s.text for s in retrieval.sources]
        radius = self.settings.context_neighbours
        if radius == 0 or retrieval.collection is None or not retrieval.sources:
            return plain
        anchors = [
            Anchor(
                s.document_id,
                retrieval.versions[s.document_id, s.chunk_index],
                s.chunk_index,
                s.section,
                s.text,
            )
            for s in retrieval.sources
        ]
        with tracer.start_as_current_span("context", attributes={"ragstream.neighbours": radius}):
            try:
                return await with_neighbours(
                    self.store,
                    retrieval.collection,
                    anchors,
                    access=access,
                    radius=radius,
                    budget_tokens=self.settings.context_token_budget,
                )
            except CollectionNotFound:  # dropped by a reindex since the search: the chunks found will do
                return plain

    def chat_request(self, query: str, history: list[Turn], retrieval: Retrieval) -> ChatRequest:
        """What the chat model is asked: DESIGN.md's prompt, and the passages for extractive answers."""
        texts = retrieval.context or [s.text for s in retrieval.sources]
        chunks = [
            ContextChunk(s.filename, text, s.page, s.section)
            for s, text in zip(retrieval.sources, texts, strict=True)
        ]
        return ChatRequest(
            prompt=build_prompt(query, chunks, recent_history(history, self.settings.history_token_budget)),
            query=query,
            passages=texts,
        )

    async def _finish(
        self,
        turn: _Turn,
        answer: str,
        retrieval: Retrieval,
        *,
        citations: list[int],
        usage: Usage,
        timings: Timings,
        interrupted: bool = False,
    ) -> UUID | None:
        """Store the assistant's answer with the sources it was given and those it cites (and whether it
        was cut short), after the question it answers; None for a stateless turn."""
        if turn.conversations is None or turn.conversation_id is None or turn.question_stored is None:
            return None
        await turn.question_stored
        metadata: dict[str, Any] = {
            "sources": [s.model_dump(mode="json", exclude={"text"}) for s in retrieval.sources],
            "citations": citations,
            "model": self.chat.name,
            "usage": usage.model_dump(),
            "timings": timings.model_dump(),
        }
        if interrupted:
            metadata["interrupted"] = True
        message_id = await turn.conversations.add_message(turn.conversation_id, "assistant", answer, metadata)
        if message_id is None:
            raise LookupError(f"conversation {turn.conversation_id} was deleted while being answered")
        return message_id

    async def _save_interrupted(self, turn: _Turn, retrieval: Retrieval, partial: str) -> None:
        timings = self._timings(turn, retrieval, time.perf_counter(), None)
        usage = Usage(prompt_tokens=0, completion_tokens=0)
        citations = cited_sources(partial, len(retrieval.sources))
        await self._finish(
            turn, partial, retrieval, citations=citations, usage=usage, timings=timings, interrupted=True
        )

    def _timings(
        self, turn: _Turn, retrieval: Retrieval, llm_started: float, first_token_at: float | None
    ) -> Timings:
        return Timings(
            embed_ms=retrieval.embed_ms,
            search_ms=retrieval.search_ms,
            rerank_ms=retrieval.rerank_ms,
            llm_ms=_ms(llm_started),
            first_token_ms=round((first_token_at - turn.started) * 1000, 3) if first_token_at else None,
            total_ms=_ms(turn.started),
        )
