"""`POST /v1/query`: answer a question over the index, as Server-Sent Events or one JSON object."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.common.llm import ChatChunk
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
from schemas.api import DoneEvent, QueryRequest, QueryResponse, Usage

log = logging.getLogger(__name__)


def _usage(chunk: ChatChunk) -> Usage:
    assert chunk.usage is not None
    return Usage(prompt_tokens=chunk.usage.prompt_tokens, completion_tokens=chunk.usage.completion_tokens)


async def query(request: Request) -> Response:
    engine: RagEngine = request.app.state.engine
    body = await read_model(request, QueryRequest)
    turn = await engine.begin(body)
    if not body.stream:
        return await _answer_json(engine, body, turn)
    return event_stream(request, _answer_events(engine, body, turn))


async def _answer_json(engine: RagEngine, body: QueryRequest, turn: Turnstart) -> Response:
    retrieval = await engine.retrieve(body.query, body)
    llm_started = time.perf_counter()
    parts: list[str] = []
    usage = Usage(prompt_tokens=0, completion_tokens=0)
    first_token_at: float | None = None
    async for chunk in engine.chat.stream(engine.chat_request(body.query, turn.history, retrieval)):
        if chunk.delta:
            first_token_at = first_token_at or time.perf_counter()
            parts.append(chunk.delta)
        if chunk.usage:
            usage = _usage(chunk)
    timings = engine.timings(turn, retrieval, llm_started, first_token_at)
    observe_answer(timings)
    answer = "".join(parts)
    message_id = await engine.finish(turn, answer, retrieval, usage=usage, timings=timings)
    response = QueryResponse(
        conversation_id=turn.conversation_id,
        message_id=message_id,
        model=engine.chat.name,
        collection=retrieval.collection,
        usage=usage,
        timings=timings,
        answer=answer,
        sources=retrieval.sources,
    )
    return JSONResponse(response.model_dump(mode="json"))


async def _answer_events(
    engine: RagEngine, body: QueryRequest, turn: Turnstart
) -> AsyncIterator[ServerSentEvent]:
    parts: list[str] = []
    retrieval: Retrieval | None = None
    try:
        retrieval = await engine.retrieve(body.query, body)
        yield sources_event(retrieval.sources)
        llm_started = time.perf_counter()
        first_token_at: float | None = None
        usage = Usage(prompt_tokens=0, completion_tokens=0)
        async for chunk in engine.chat.stream(engine.chat_request(body.query, turn.history, retrieval)):
            if chunk.delta:
                first_token_at = first_token_at or time.perf_counter()
                parts.append(chunk.delta)
                yield token_event(chunk.delta)
            if chunk.usage:
                usage = _usage(chunk)
        timings = engine.timings(turn, retrieval, llm_started, first_token_at)
        observe_answer(timings)
        message_id = await engine.finish(turn, "".join(parts), retrieval, usage=usage, timings=timings)
        done = DoneEvent(
            conversation_id=turn.conversation_id,
            message_id=message_id,
            model=engine.chat.name,
            collection=retrieval.collection,
            usage=usage,
            timings=timings,
        )
        yield done_event(done)
    except asyncio.CancelledError:
        # The client went away: keep what was said so far, marked as interrupted.
        if retrieval is not None and parts:
            await asyncio.shield(_save_interrupted(engine, turn, retrieval, "".join(parts)))
        raise
    except Exception as exc:
        log.exception("answering in conversation %s failed", turn.conversation_id)
        stage = "retrieval" if retrieval is None else "llm"
        ANSWER_ERRORS.labels(f"{stage}_error").inc()
        yield error_event(f"{stage}_error", f"the answer failed during {stage}: {type(exc).__name__}: {exc}")


async def _save_interrupted(engine: RagEngine, turn: Turnstart, retrieval: Retrieval, partial: str) -> None:
    timings = engine.timings(turn, retrieval, time.perf_counter(), None)
    usage = Usage(prompt_tokens=0, completion_tokens=0)
    await engine.finish(turn, partial, retrieval, usage=usage, timings=timings, interrupted=True)
