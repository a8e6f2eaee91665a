"""`ragstream ingest --wait` against a fake query API: it waits as long as the documents make
progress, however long that takes, and gives up only after a spell without any."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import apps.cli.ingest
from apps.cli.ingest import Uploaded, wait_until_indexed
from apps.common.settings import Settings


class FakeClock:
    """Time that passes only when the CLI pauses between polls: 100 s a pause."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def pause(self, _: float) -> None:
        self.now += 100.0


def _serve(monkeypatch: pytest.MonkeyPatch, states: Iterator[dict[str, Any]]) -> None:
    """Each poll of the document gets the next state."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(states))

    def client(settings: Settings, *, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=settings.api_url, transport=httpx.MockTransport(answer))

    monkeypatch.setattr(apps.cli.ingest, "api_client", client)


def _state(status: str, indexed_chunks: int) -> dict[str, Any]:
    return {
        "status": status,
        "version": "v1",
        "indexed_chunks": indexed_chunks,
        "chunk_count": indexed_chunks if status == "complete" else 0,
        "coverage": 1.0,
        "metadata": {},
        "error_message": None,
    }


UPLOADED = [Uploaded(Path("manual.pdf"), "manual.pdf", uuid.uuid4(), "v1")]


def test_it_waits_for_a_document_that_keeps_making_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Twenty polls 100 s apart, 2,000 s in all, with more chunks in each: far past the idle limit."""
    progress = [_state("indexing", 64 * n) for n in range(20)] + [_state("complete", 64 * 20)]
    _serve(monkeypatch, iter(progress))
    clock = FakeClock()

    failures = wait_until_indexed(Settings(), UPLOADED, idle_timeout=150, clock=clock, pause=clock.pause)

    assert failures == 0
    assert clock.now >= 2000


def test_it_gives_up_after_a_spell_without_progress(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stuck = [_state("indexing", 64), _state("indexing", 128)] + [_state("indexing", 128)] * 10
    _serve(monkeypatch, iter(stuck))
    clock = FakeClock()

    failures = wait_until_indexed(Settings(), UPLOADED, idle_timeout=150, clock=clock, pause=clock.pause)

    assert failures == 1
    # Progress last at the second poll (100 s), then two pauses without any: past 150 s of none.
    assert clock.now == 300
    assert "gave up waiting after 150s without progress" in capsys.readouterr().err
