"""Server-Sent Events of an answer: `sources`, `token`..., then `done` or `error`, framed and streamed
by a plain asyncio response with keep-alive comments that stops the answer when its client leaves."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from schemas.api import DoneEvent, ErrorDetail, Source, SourcesEvent, TokenEvent

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
PING = b": ping\r\n\r\n"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event: its name (none for the default `message`) and its data, one `data:` line a line."""

    data: str
    event: str | None = None

    def encode(self) -> bytes:
        lines = _LINE_BREAK.split(self.data) if "\n" in self.data or "\r" in self.data else [self.data]
        frame = "".join(f"data: {line}\r\n" for line in lines)
        if self.event is not None:
            frame = f"event: {self.event}\r\n{frame}"
        return f"{frame}\r\n".encode()


class EventStreamResponse(Response):
    """`text/event-stream` of `events`, with a comment every `keepalive_seconds` so proxies keep the
    connection open while retrieval or the model is slow. When the client leaves, the task streaming
    the events is cancelled: the answer sees `CancelledError` where it waits, as on any cancellation.

    Plain asyncio tasks, not an anyio task group: this runs once an answer, on the API's event loop.
    """

    media_type = "text/event-stream"

    def __init__(self, events: AsyncGenerator[ServerSentEvent, None], keepalive_seconds: float) -> None:
        self.status_code = 200
        self.background = None
        self.init_headers(SSE_HEADERS)
        self._events = events
        self._keepalive = keepalive_seconds
        self._ended = False
        self._client_left = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.current_task()
        assert streaming is not None
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        watching = asyncio.create_task(self._cancel_when_client_leaves(receive, streaming))
        pinging = asyncio.create_task(self._ping(send))
        try:
            async for event in self._events:
                await send({"type": "http.response.body", "body": event.encode(), "more_body": True})
            self._ended = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self._client_left:
                raise
        finally:
            self._ended = True
            watching.cancel()
            pinging.cancel()
            if self._client_left:
                streaming.uncancel()
            await self._events.aclose()

    async def _cancel_when_client_leaves(self, receive: Receive, streaming: asyncio.Task[object]) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self._ended:
            self._client_left = True
            streaming.cancel()

    async def _ping(self, send: Send) -> None:
        while True:
            await asyncio.sleep(self._keepalive)
            if self._ended:
                return
            await send({"type": "http.response.body", "body": PING, "more_body": True})


def event_stream(request: Request, events: AsyncGenerator[ServerSentEvent, None]) -> EventStreamResponse:
    """The streamed response: headers that keep proxies from buffering, and keep-alive comments
    (`RAGSTREAM_SSE_KEEPALIVE_SECONDS`) while retrieval or the model is slow."""
    keepalive: float = request.app.state.settings.sse_keepalive_seconds
    return EventStreamResponse(events, keepalive)


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
