"""Unit tests of `apps.query_api.sse`: the answer's Server-Sent Events, how they are framed, and the
streaming response (keep-alive comments, the end, a client that leaves)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, MutableMapping
from typing import Any
from uuid import UUID

import pytest

from apps.query_api.sse import (
    PING,
    SSE_HEADERS,
    EventStreamResponse,
    ServerSentEvent,
    done_event,
    error_event,
    sources_event,
    token_event,
)
from schemas.api import DoneEvent, Source, Timings, Usage
from tests.support import wait_for

DOCUMENT_ID = UUID("8c1f6b6e-2f0a-5d0e-9a51-3f8f4d2b7c11")
CONVERSATION_ID = UUID("0b7e1c8a-9d3f-4e25-8a6b-1c2d3e4f5a6b")
MESSAGE_ID = UUID("5f6e7d8c-1a2b-4c3d-9e8f-a0b1c2d3e4f5")


def parse_frame(raw: bytes) -> tuple[str, Any]:
    """The event name and JSON data of one encoded SSE frame, checking its framing on the way."""
    text = raw.decode("utf-8")
    assert text.endswith("\r\n\r\n"), text
    lines = text[: -len("\r\n\r\n")].split("\r\n")
    assert len(lines) == 2, lines
    event_line, data_line = lines
    assert event_line.startswith("event: ")
    assert data_line.startswith("data: ")
    return event_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))


def test_token_event() -> None:
    event = token_event("Hello ")
    assert isinstance(event, ServerSentEvent)
    assert event.event == "token"
    assert isinstance(event.data, str)
    assert json.loads(event.data) == {"delta": "Hello "}
    assert event.encode() == b'event: token\r\ndata: {"delta":"Hello "}\r\n\r\n'


def test_token_with_newlines_stays_one_data_line() -> None:
    # JSON escapes newlines, so a delta with line breaks cannot break the SSE framing.
    event = token_event("line one\n\nline two\r\n")
    name, data = parse_frame(event.encode())
    assert name == "token"
    assert data == {"delta": "line one\n\nline two\r\n"}


def test_token_with_unicode() -> None:
    name, data = parse_frame(token_event("企鹅 🐧 café").encode())
    assert (name, data) == ("token", {"delta": "企鹅 🐧 café"})


def test_sources_event() -> None:
    sources = [
        Source(
            document_id=DOCUMENT_ID,
            filename="penguins.pdf",
            chunk_index=3,
            score=0.87,
            text="The male incubates the egg.",
            page=2,
            section="Breeding",
        ),
        Source(document_id=DOCUMENT_ID, filename="penguins.pdf", chunk_index=4, score=0.5, text="More."),
    ]
    event = sources_event(sources)
    assert event.event == "sources"
    name, data = parse_frame(event.encode())
    assert name == "sources"
    assert data == {
        "sources": [
            {
                "document_id": str(DOCUMENT_ID),
                "filename": "penguins.pdf",
                "chunk_index": 3,
                "score": 0.87,
                "text": "The male incubates the egg.",
                "page": 2,
                "section": "Breeding",
            },
            {
                "document_id": str(DOCUMENT_ID),
                "filename": "penguins.pdf",
                "chunk_index": 4,
                "score": 0.5,
                "text": "More.",
                "page": None,
                "section": None,
            },
        ]
    }


def test_no_sources() -> None:
    assert parse_frame(sources_event([]).encode()) == ("sources", {"sources": []})


def test_done_event() -> None:
    done = DoneEvent(
        conversation_id=CONVERSATION_ID,
        message_id=MESSAGE_ID,
        model="extractive",
        usage=Usage(prompt_tokens=120, completion_tokens=17),
        timings=Timings(embed_ms=3.5, search_ms=1.25, llm_ms=40.0, first_token_ms=5.0, total_ms=50.0),
        citations=[2, 1],
    )
    event = done_event(done)
    assert event.event == "done"
    name, data = parse_frame(event.encode())
    assert name == "done"
    assert data == {
        "conversation_id": str(CONVERSATION_ID),
        "message_id": str(MESSAGE_ID),
        "model": "extractive",
        "collection": None,
        "usage": {"prompt_tokens": 120, "completion_tokens": 17},
        "timings": {
            "embed_ms": 3.5,
            "search_ms": 1.25,
            "llm_ms": 40.0,
            "first_token_ms": 5.0,
            "total_ms": 50.0,
        },
        "citations": [2, 1],
    }
    assert DoneEvent.model_validate(data) == done


def test_error_event() -> None:
    event = error_event("llm_unavailable", "the chat model did not answer")
    assert event.event == "error"
    assert parse_frame(event.encode()) == (
        "error",
        {"code": "llm_unavailable", "message": "the chat model did not answer"},
    )


def test_events_carry_no_id_or_retry() -> None:
    for event in (token_event("x"), error_event("c", "m"), sources_event([])):
        assert b"id:" not in event.encode()
        assert b"retry:" not in event.encode()


def test_headers_stop_proxies_buffering() -> None:
    assert SSE_HEADERS["Cache-Control"] == "no-cache"
    assert SSE_HEADERS["X-Accel-Buffering"] == "no"


def test_an_unnamed_event_is_data_only() -> None:
    assert ServerSentEvent(data="[DONE]").encode() == b"data: [DONE]\r\n\r\n"


@pytest.mark.parametrize("data", ["one\ntwo\r\nthree\rfour", "one\ntwo\r\nthree\rfour\n"])
def test_data_with_line_breaks_is_one_data_line_a_line(data: str) -> None:
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    expected = "".join(f"data: {line}\r\n" for line in lines)
    assert ServerSentEvent(event="x", data=data).encode() == f"event: x\r\n{expected}\r\n".encode()


class Client:
    """An ASGI server's side of one response: what was sent, and a receive that reports a disconnect
    when `leave` is called."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.left = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.messages.append(dict(message))

    def leave(self) -> None:
        self.left.set()

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


async def respond(response: EventStreamResponse, client: Client) -> None:
    await response({"type": "http"}, client.receive, client.send)


async def test_the_response_streams_every_event_then_ends() -> None:
    async def events() -> AsyncGenerator[ServerSentEvent, None]:
        yield token_event("a")
        yield token_event("b")

    client = Client()
    await respond(EventStreamResponse(events(), keepalive_seconds=10), client)
    start, *bodies, end = client.messages
    assert start["status"] == 200
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    assert headers["x-accel-buffering"] == "no"
    assert [b["body"] for b in bodies] == [token_event("a").encode(), token_event("b").encode()]
    assert all(b["more_body"] for b in bodies)
    assert end == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_comments_keep_the_connection_alive_while_no_event_comes() -> None:
    release = asyncio.Event()

    async def events() -> AsyncGenerator[ServerSentEvent, None]:
        await release.wait()
        yield token_event("late")

    client = Client()
    responding = asyncio.create_task(respond(EventStreamResponse(events(), keepalive_seconds=0.01), client))

    async def pinged_twice() -> bool:
        return client.body.count(PING) >= 2

    await wait_for(pinged_twice, timeout=10, interval=0.01, what="two keep-alive comments")
    release.set()
    await responding
    assert client.body.endswith(token_event("late").encode())
    assert client.messages[-1]["more_body"] is False


async def test_a_client_that_leaves_cancels_the_answer_where_it_waits() -> None:
    waiting = asyncio.Event()
    seen: list[str] = []

    async def events() -> AsyncGenerator[ServerSentEvent, None]:
        yield token_event("first")
        try:
            waiting.set()
            await asyncio.Event().wait()  # the model, never answering
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        yield token_event("never")

    client = Client()
    responding = asyncio.create_task(respond(EventStreamResponse(events(), keepalive_seconds=10), client))
    await waiting.wait()
    client.leave()
    await asyncio.wait_for(responding, timeout=5)
    assert seen == ["cancelled"]
    assert not responding.cancelled()
    assert client.body == token_event("first").encode()
    assert responding.cancelling() == 0  # the cancellation was the response's own, and taken back


async def test_a_response_cancelled_by_its_server_stays_cancelled() -> None:
    async def events() -> AsyncGenerator[ServerSentEvent, None]:
        await asyncio.Event().wait()
        yield token_event("never")

    client = Client()
    responding = asyncio.create_task(respond(EventStreamResponse(events(), keepalive_seconds=10), client))
    await asyncio.sleep(0)
    responding.cancel()
    with pytest.raises(asyncio.CancelledError):
        await responding
