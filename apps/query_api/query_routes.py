"""`POST /v1/query`: answer a question over the index, as Server-Sent Events or one JSON object."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.common.llm import ChatChunk
from apps.common.logs import log_context
from apps.common.tracing import tracer
from apps.query_api.errors import error_response
from apps.query_api.metrics import ANSWER_ERRORS, observe_answer
from apps.query_api.rag import RagEngine, Retrieval, Turnstart
from apps.query_api.requests import read_model
from apps.query_api.sse import (
    done_event,
    error_event,
    event_stream,
    sources_event,
    token_event,
)
from schemas.api import (
    DoneEvent,
    ErrorDetail,
    QueryRequest,
    QueryResponse,
    Source,
    SourcesEvent,
    TokenEvent,
    Usage,
)

log = logging.getLogger(__name__)


def _usage(chunk: ChatChunk) -> Usage:
    assert chunk.usage is not None
    return Usage(prompt_tokens=chunk.usage.prompt_tokens, completion_tokens=chunk.usage.completion_tokens)


async def query(request: Request) -> Response:
    engine: RagEngine = request.app.state.engine
    body = await read_model(request, QueryRequest)
    turn = await engine.begin(body)
    events = _answer(engine, body, turn)
    if body.stream:
        return event_stream(request, _as_server_sent(events))
    return await _as_json(events)


Answered = SourcesEvent | TokenEvent | DoneEvent | ErrorDetail


async def _answer(engine: RagEngine, body: QueryRequest, turn: Turnstart) -> AsyncGenerator[Answered]:
    """The answer as it happens: sources, tokens, then done (the turn stored) or an error."""
    parts: list[str] = []
    retrieval: Retrieval | None = None
    stage = "retrieval"
    with log_context(conversation_id=turn.conversation_id):
        try:
            retrieval = await engine.retrieve(body.query, body)
            stage = "llm"
            yield SourcesEvent(sources=retrieval.sources)
            llm_started = time.perf_counter()
            first_token_at: float | None = None
            usage = Usage(prompt_tokens=0, completion_tokens=0)
            with tracer.start_as_current_span("llm", attributes={"ragstream.model": engine.chat.name}):
                request = engine.chat_request(body.query, turn.history, retrieval)
                async for chunk in engine.chat.stream(request):
                    if chunk.delta:
                        first_token_at = first_token_at or time.perf_counter()
                        parts.append(chunk.delta)
                        yield TokenEvent(delta=chunk.delta)
                    if chunk.usage:
                        usage = _usage(chunk)
            timings = engine.timings(turn, retrieval, llm_started, first_token_at)
            observe_answer(timings)
            stage = "storage"
            message_id = await engine.finish(turn, "".join(parts), retrieval, usage=usage, timings=timings)
            yield DoneEvent(
                conversation_id=turn.conversation_id,
                message_id=message_id,
                model=engine.chat.name,
                collection=retrieval.collection,
                usage=usage,
                timings=timings,
            )
        except asyncio.CancelledError:
            # The client went away: keep what was said so far, marked as interrupted.
            if retrieval is not None and parts:
                await asyncio.shield(_save_interrupted(engine, turn, retrieval, "".join(parts)))
            raise
        except Exception as exc:
            log.exception("answering in conversation %s failed", turn.conversation_id)
            ANSWER_ERRORS.labels(f"{stage}_error").inc()
            yield ErrorDetail(
                code=f"{stage}_error",
                message=f"the answer failed during {stage}: {type(exc).__name__}: {exc}",
            )


async def _as_server_sent(events: AsyncIterator[Answered]) -> AsyncIterator[ServerSentEvent]:
    async for event in events:
        if isinstance(event, SourcesEvent):
            yield sources_event(event.sources)
        elif isinstance(event, TokenEvent):
            yield token_event(event.delta)
        elif isinstance(event, DoneEvent):
            yield done_event(event)
        else:
            yield error_event(event.code, event.message)


async def _as_json(answer: AsyncGenerator[Answered]) -> Response:
    sources: list[Source] = []
    parts: list[str] = []
    # Closed here, in this task: the answer's context (log fields, spans) ends where it began.
    async with contextlib.aclosing(answer) as events:
        async for event in events:
            if isinstance(event, SourcesEvent):
                sources = event.sources
            elif isinstance(event, TokenEvent):
                parts.append(event.delta)
            elif isinstance(event, ErrorDetail):
                # The request was fine; what failed is upstream (the model, the vector store).
                return error_response(502, event.code, event.message)
            else:
                response = QueryResponse(**event.model_dump(), answer="".join(parts), sources=sources)
                return JSONResponse(response.model_dump(mode="json"))
    raise RuntimeError("the answer ended without a done or error event")


async def _save_interrupted(engine: RagEngine, turn: Turnstart, retrieval: Retrieval, partial: str) -> None:
    timings = engine.timings(turn, retrieval, time.perf_counter(), None)
    usage = Usage(prompt_tokens=0, completion_tokens=0)
    await engine.finish(turn, partial, retrieval, usage=usage, timings=timings, interrupted=True)
