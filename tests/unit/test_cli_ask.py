"""`ragstream ask` against a fake query API: the options it sends, and how it prints the stream."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import apps.cli.ask
from apps.cli.main import app
from apps.common.settings import Settings

SOURCE = {
    "document_id": "6f1c6d3e-2a5b-4c8e-9d7f-0a1b2c3d4e5f",
    "filename": "penguins.txt",
    "chunk_index": 0,
    "score": 0.8,
    "text": "The male emperor penguin incubates the egg.",
}


def _sse(*events: tuple[str, dict[str, Any]]) -> bytes:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The bodies `ask` posts to /v1/query; the fake API answers each with one streamed answer."""
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        stream = _sse(
            ("sources", {"sources": [SOURCE, SOURCE | {"filename": "eggs.txt", "chunk_index": 3}]}),
            ("token", {"delta": "The male penguin."}),
            (
                "done",
                {
                    "conversation_id": "c0ffee00-0000-4000-8000-000000000000",
                    "model": "extractive",
                    "citations": [2],
                },
            ),
        )
        return httpx.Response(200, content=stream, headers={"Content-Type": "text/event-stream"})

    def client(settings: Settings, *, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=settings.api_url, transport=httpx.MockTransport(answer))

    monkeypatch.setattr(apps.cli.ask, "api_client", client)
    return bodies


def test_ask_sends_the_search_mode_and_top_k_it_is_given(sent: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(app, ["ask", "Who incubates?", "--search-mode", "sparse", "--top-k", "3"])

    assert result.exit_code == 0, result.output
    assert sent == [{"query": "Who incubates?", "stream": True, "search_mode": "sparse", "top_k": 3}]
    assert "The male penguin." in result.output
    assert "penguins.txt" in result.output


def test_ask_leaves_the_search_mode_to_the_server_by_default(sent: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(app, ["ask", "Who incubates?"])

    assert result.exit_code == 0, result.output
    assert sent == [{"query": "Who incubates?", "stream": True}]


def test_ask_refuses_an_unknown_search_mode(sent: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(app, ["ask", "Who incubates?", "--search-mode", "fuzzy"])

    assert result.exit_code == 2
    assert "'fuzzy' is not one of" in result.output
    assert "'dense', 'sparse', 'hybrid'" in result.output
    assert sent == []


def test_ask_marks_the_sources_the_answer_cites(sent: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(app, ["ask", "Who incubates the egg?"])

    assert result.exit_code == 0, result.output
    assert "  [1] penguins.txt  (chunk 0" in result.output
    assert " *[2] eggs.txt  (chunk 3" in result.output
