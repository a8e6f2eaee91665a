"""`ragstream dlq list` and `ragstream dlq redrive` against a fake query API: what they ask for and
what they print, errors included."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import apps.cli.dlq
from apps.cli.main import app
from apps.common.settings import Settings

DOCUMENT_ID = "6f1c6d3e-2a5b-4c8e-9d7f-0a1b2c3d4e5f"
LETTER = {
    "stage": "embed",
    "error": "APIStatusError: upstream overloaded",
    "attempts": 2,
    "document": {
        "document_id": DOCUMENT_ID,
        "version": "etag-1",
        "filename": "walruses.txt",
        "tenant": "default",
    },
    "topic": "document.chunked.dlq",
    "source_topic": "document.chunked",
    "partition": 3,
    "offset": 17,
    "dead_lettered_at": "2026-12-07T10:00:00Z",
}
UNNAMED = LETTER | {
    "stage": "parse",
    "document": None,
    "attempts": None,
    "topic": "document.ready.dlq",
    "offset": 4,
}

Answer = Callable[[httpx.Request], httpx.Response]
Sent = list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Callable[[Answer], Sent]:
    """Answer the CLI's requests with `answer`; returns what it sent (method, path, body, query)."""

    def serve(answer: Answer) -> Sent:
        sent: Sent = []

        def record(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content) if request.content else None
            sent.append((request.method, request.url.path, body, dict(request.url.params)))
            return answer(request)

        def client(settings: Settings, *, timeout: float = 30.0) -> httpx.Client:
            return httpx.Client(base_url=settings.api_url, transport=httpx.MockTransport(record))

        monkeypatch.setattr(apps.cli.dlq, "api_client", client)
        return sent

    return serve


def test_list_shows_each_letters_stage_error_attempts_document_and_place(
    api: Callable[[Answer], Sent],
) -> None:
    sent = api(lambda _: httpx.Response(200, json={"items": [LETTER, UNNAMED]}))

    result = CliRunner().invoke(app, ["dlq", "list"])

    assert result.exit_code == 0, result.output
    assert sent == [("GET", "/v1/dead-letters", None, {})]
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        f"embed: walruses.txt (document {DOCUMENT_ID}, version etag-1)",
        "  error: APIStatusError: upstream overloaded (2 attempts)",
        "  at document.chunked.dlq partition 3 offset 17, 2026-12-07T10:00:00Z",
    ]
    assert lines[3] == "parse: no document named in its body"
    assert lines[4] == "  error: APIStatusError: upstream overloaded (? attempts)"
    assert lines[-1].startswith("2 dead letters waiting: `ragstream dlq redrive`")


def test_list_of_one_stage_asks_for_that_stage(api: Callable[[Answer], Sent]) -> None:
    sent = api(lambda _: httpx.Response(200, json={"items": []}))

    result = CliRunner().invoke(app, ["dlq", "list", "--stage", "upsert"])

    assert result.exit_code == 0, result.output
    assert sent == [("GET", "/v1/dead-letters", None, {"stage": "upsert"})]
    assert result.stdout.strip() == "0 dead letters of stage upsert waiting"


def test_redrive_prints_each_letter_and_the_counts(api: Callable[[Answer], Sent]) -> None:
    skipped = {"letter": UNNAMED, "reason": "the document was deleted"}
    sent = api(
        lambda _: httpx.Response(202, json={"redriven": [LETTER], "skipped": [skipped], "still_waiting": 0})
    )

    result = CliRunner().invoke(app, ["dlq", "redrive"])

    assert result.exit_code == 0, result.output
    assert sent == [("POST", "/v1/dead-letters/redrive", {"stage": None}, {})]
    assert result.stdout.splitlines() == [
        f"redriven embed: walruses.txt (document {DOCUMENT_ID}, version etag-1)"
        " from document.chunked.dlq partition 3 offset 17",
        "skipped parse: no document named in its body: the document was deleted",
        "redrove 1 dead letters (1 embed), skipped 1: `ragstream status` shows how their documents end",
    ]


def test_redrive_of_one_stage_says_what_it_left_behind(api: Callable[[Answer], Sent]) -> None:
    sent = api(lambda _: httpx.Response(202, json={"redriven": [], "skipped": [], "still_waiting": 2}))

    result = CliRunner().invoke(app, ["dlq", "redrive", "--stage", "embed"])

    assert result.exit_code == 0, result.output
    assert sent == [("POST", "/v1/dead-letters/redrive", {"stage": "embed"}, {})]
    assert "2 left waiting behind letters of another stage" in result.stdout


def test_an_unknown_stage_is_refused_before_asking(api: Callable[[Answer], Sent]) -> None:
    sent = api(lambda _: httpx.Response(500))

    result = CliRunner().invoke(app, ["dlq", "redrive", "--stage", "report"])

    assert result.exit_code == 2
    assert sent == []


def test_the_apis_error_is_printed_not_a_traceback(api: Callable[[Answer], Sent]) -> None:
    error = {"error": {"code": "forbidden", "message": "this route needs the scope 'admin'"}}
    api(lambda _: httpx.Response(403, json=error))

    result = CliRunner().invoke(app, ["dlq", "list"])

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "forbidden: this route needs the scope 'admin'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_an_api_that_does_not_answer_is_named(api: Callable[[Answer], Sent]) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    api(refuse)

    result = CliRunner().invoke(app, ["dlq", "redrive"])

    assert result.exit_code == 1
    assert "does not answer: start the system with `ragstream dev`" in " ".join(result.stderr.split())
