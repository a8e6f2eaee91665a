"""Unit tests of `apps.query_api.sse`: the answer's Server-Sent Events and how sse-starlette frames them."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from sse_starlette import ServerSentEvent

from apps.query_api.sse import SSE_HEADERS, done_event, error_event, sources_event, token_event
from schemas.api import DoneEvent, Source, Timings, Usage

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
        assert event.id is None
        assert event.retry is None
        assert b"id:" not in event.encode()
        assert b"retry:" not in event.encode()


def test_headers_stop_proxies_buffering() -> None:
    assert SSE_HEADERS["Cache-Control"] == "no-cache"
    assert SSE_HEADERS["X-Accel-Buffering"] == "no"
