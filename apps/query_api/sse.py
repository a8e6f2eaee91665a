"""Server-Sent Events of an answer: `sources`, `token`..., then `done` or `error`, framed by sse-starlette."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request

from schemas.api import DoneEvent, ErrorDetail, Source, SourcesEvent, TokenEvent

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event_stream(request: Request, events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    """The streamed response: headers that keep proxies from buffering, and keep-alive comments
    (`RAGSTREAM_SSE_KEEPALIVE_SECONDS`) while retrieval or the model is slow."""
    keepalive: float = request.app.state.settings.sse_keepalive_seconds
    return EventSourceResponse(events, headers=SSE_HEADERS, ping=keepalive)


def _event(name: str, body: BaseModel) -> ServerSentEvent:
    return ServerSentEvent(event=name, data=body.model_dump_json())


def sources_event(sources: list[Source]) -> ServerSentEvent:
    return _event("sources", SourcesEvent(sources=sources))


def token_event(delta: str) -> ServerSentEvent:
    return _event("token", TokenEvent(delta=delta))


def done_event(done: DoneEvent) -> ServerSentEvent:
    return _event("done", done)


def error_event(code: str, message: str) -> ServerSentEvent:
    return _event("error", ErrorDetail(code=code, message=message))
