"""LiveGenerations: the live generation is read once a ttl, a busy caller never waits for that
read while the last one is under two ttls old, and callers at the same moment share one query."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

import pytest

from apps.common import generations
from apps.common.database import Pool
from apps.common.generations import LiveGenerations
from schemas.generations import Generation
from tests.support import wait_for


def _generation(number: int) -> Generation:
    return Generation(
        name=f"documents_g{number}",
        alias="documents",
        number=number,
        embedding_model="all-MiniLM-L6-v2",
        dimensions=384,
        chunk_size=200,
        chunk_overlap=30,
        source="ingestion",
        status="live",
        created_at=datetime.now(UTC),
    )


class FakeTable:
    """Stands in for `generations.live`: counts queries, and holds each until released."""

    def __init__(self) -> None:
        self.queries = 0
        self.live = _generation(1)
        self.error: Exception | None = None
        self.open = asyncio.Event()
        self.open.set()

    async def read(self, pool: Pool, alias: str) -> Generation | None:
        self.queries += 1
        await self.open.wait()
        if self.error is not None:
            raise self.error
        return self.live


async def wait_until(condition: Callable[[], bool]) -> None:
    async def met() -> bool:
        return condition()

    await wait_for(met, timeout=5, interval=0.01)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> FakeTable:
    fake = FakeTable()
    monkeypatch.setattr(generations, "live", fake.read)
    return fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> LiveGenerations:
    return LiveGenerations(cast(Pool, None), ttl_seconds=1.0, clock=clock)


async def test_callers_at_the_same_moment_share_one_query(table: FakeTable, cache: LiveGenerations) -> None:
    table.open.clear()
    waiting = [asyncio.create_task(cache.get("documents")) for _ in range(5)]
    await wait_until(lambda: table.queries == 1)
    table.open.set()
    assert [g.name for g in await asyncio.gather(*waiting) if g] == ["documents_g1"] * 5
    assert table.queries == 1


async def test_within_the_ttl_nothing_is_read(table: FakeTable, cache: LiveGenerations, clock: Clock) -> None:
    await cache.get("documents")
    clock.now += 0.9
    table.live = _generation(2)
    assert (await cache.get("documents")).name == "documents_g1"  # type: ignore[union-attr]
    assert table.queries == 1


async def test_after_the_ttl_the_last_reading_is_served_while_the_next_is_read(
    table: FakeTable, cache: LiveGenerations, clock: Clock
) -> None:
    await cache.get("documents")
    table.live, table.open = _generation(2), asyncio.Event()
    clock.now += 1.5
    # The read is held: had get waited for it, this would not return.
    first = await asyncio.wait_for(cache.get("documents"), 1)
    second = await asyncio.wait_for(cache.get("documents"), 1)
    assert (first and first.name, second and second.name) == ("documents_g1", "documents_g1")
    assert table.queries == 2  # one reading in the background, shared
    table.open.set()
    await wait_until(lambda: cache._cache["documents"][1] == table.live)
    assert (await cache.get("documents")).name == "documents_g2"  # type: ignore[union-attr]
    assert table.queries == 2


async def test_a_reading_two_ttls_old_is_not_served(
    table: FakeTable, cache: LiveGenerations, clock: Clock
) -> None:
    await cache.get("documents")
    table.live = _generation(2)
    clock.now += 2.0
    assert (await cache.get("documents")).name == "documents_g2"  # type: ignore[union-attr]


async def test_a_failed_background_reading_is_logged_and_tried_again(
    table: FakeTable, cache: LiveGenerations, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await cache.get("documents")
    table.error = OSError("connection refused")
    clock.now += 1.2
    with caplog.at_level(logging.WARNING, logger="apps.common.generations"):
        assert (await cache.get("documents")).name == "documents_g1"  # type: ignore[union-attr]
        await wait_until(lambda: "connection refused" in caplog.text)
    table.error, table.live = None, _generation(2)
    assert (await cache.get("documents")).name == "documents_g1"  # type: ignore[union-attr]
    await wait_until(lambda: cache._cache["documents"][1] == table.live)
    assert table.queries == 3


async def test_closing_stops_the_reading_under_way(
    table: FakeTable, cache: LiveGenerations, clock: Clock
) -> None:
    await cache.get("documents")
    table.open.clear()
    clock.now += 1.5
    await cache.get("documents")
    [reading] = cache._reading.values()
    await cache.close()
    assert reading.cancelled()
    assert not cache._reading


async def test_when_the_reading_is_too_old_its_error_reaches_the_caller(
    table: FakeTable, cache: LiveGenerations, clock: Clock
) -> None:
    await cache.get("documents")
    table.error = OSError("connection refused")
    clock.now += 5
    with pytest.raises(OSError, match="connection refused"):
        await cache.get("documents")


def test_a_generation_built_by_another_embedder_than_the_settings_name_says_how_to_switch() -> None:
    live = _generation(3)  # built with torch, before the ONNX runtimes
    assert generations.embedder_drift(live, "all-MiniLM-L6-v2") is None
    drift = generations.embedder_drift(live, "all-MiniLM-L6-v2@onnx-int8")
    assert drift is not None
    assert "documents_g3 was built with all-MiniLM-L6-v2" in drift
    assert drift.endswith(
        "ragstream reindex --from document.chunked --embedding-model all-MiniLM-L6-v2@onnx-int8"
    )
