"""`POST /v1/query`: answer a question over the index, as Server-Sent Events or one JSON object."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.query_api.auth import identity_of
from apps.query_api.errors import error_response
from apps.query_api.rag import AnswerEvent, Failed, Finished, RagEngine, Sources, Token, collect
from apps.query_api.requests import read_model
from apps.query_api.sse import (
    ServerSentEvent,
    done_event,
    error_event,
    event_stream,
    sources_event,
    token_event,
)
from schemas.api import DoneEvent, QueryRequest, QueryResponse


async def query(request: Request) -> Response:
    engine: RagEngine = request.app.state.engine
    body = await read_model(request, QueryRequest)
    events = await engine.answer(identity_of(request), body)
    if body.stream:
        return event_stream(request, _as_server_sent(events))
    return await _as_json(events)


def _done(finished: Finished) -> DoneEvent:
    assert finished.conversation_id is not None
    assert finished.message_id is not None
    return DoneEvent(
        conversation_id=finished.conversation_id,
        message_id=finished.message_id,
        model=finished.model,
        collection=finished.collection,
        usage=finished.usage,
        timings=finished.timings,
        citations=finished.citations,
    )


async def _as_server_sent(events: AsyncIterator[AnswerEvent]) -> AsyncGenerator[ServerSentEvent, None]:
    async for event in events:
        if isinstance(event, Sources):
            yield sources_event(event.sources)
        elif isinstance(event, Token):
            yield token_event(event.delta)
        elif isinstance(event, Finished):
            yield done_event(_done(event))
        else:
            yield error_event(event.code, event.message)


async def _as_json(answer: AsyncGenerator[AnswerEvent]) -> Response:
    collected = await collect(answer)
    if isinstance(collected, Failed):
        # The request was fine; what failed is upstream (the model, the vector store).
        return error_response(502, collected.code, collected.message)
    done = _done(collected.finished)
    response = QueryResponse(**done.model_dump(), answer=collected.text, sources=collected.sources)
    return JSONResponse(response.model_dump(mode="json"))
