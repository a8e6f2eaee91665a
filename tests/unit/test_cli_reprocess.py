"""`ragstream reprocess --failed` against a fake query API: what it asks for and what it prints."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import apps.cli.reprocess
from apps.cli.main import app
from apps.common.settings import Settings

SKIPPED = {"document_id": "6f1c6d3e-2a5b-4c8e-9d7f-0a1b2c3d4e5f", "reason": "the object no longer exists"}


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    requests: list[tuple[str, dict[str, Any]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append((request.url.path, json.loads(request.content)))
        return httpx.Response(
            202, json={"workflows": ["upload:a#reprocess-1", "upload:b#reprocess-2"], "skipped": [SKIPPED]}
        )

    def client(settings: Settings, *, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=settings.api_url, transport=httpx.MockTransport(answer))

    monkeypatch.setattr(apps.cli.reprocess, "api_client", client)
    return requests


def test_reprocess_failed_asks_the_api_for_every_failed_document(
    sent: list[tuple[str, dict[str, Any]]],
) -> None:
    result = CliRunner().invoke(app, ["reprocess", "--failed"])

    assert result.exit_code == 0, result.output
    assert sent == [("/v1/documents/reprocess", {"status": "failed"})]
    assert "reprocessing 2 failed documents" in result.output
    assert f"skipped {SKIPPED['document_id']}: the object no longer exists" in result.output


def test_reprocess_without_saying_which_asks_nothing(sent: list[tuple[str, dict[str, Any]]]) -> None:
    result = CliRunner().invoke(app, ["reprocess"])

    assert result.exit_code != 0
    assert "--failed" in result.output
    assert sent == []
