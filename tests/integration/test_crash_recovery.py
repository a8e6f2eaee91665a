"""The process running the stream processors is killed with SIGKILL in the middle of ingesting
60 documents and started again: every document ends `complete`, and the index holds exactly
the chunks they report — nothing lost, nothing duplicated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.cli.system import running_system
from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from tests.support import ComponentProcess, document_rows, wait_for, wait_until_complete

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCUMENT_COUNT = 60


@pytest.fixture
def processors(settings: Settings, tmp_path: Path) -> Iterator[ComponentProcess]:
    process = ComponentProcess(settings, "processors", tmp_path / "processors.log")
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.kill()


def _text(number: int) -> str:
    sentences = [
        f"Document {number} sentence {s} describes crash recovery in stream processing." for s in range(40)
    ]
    return "\n\n".join(sentences)


async def test_sigkill_mid_ingestion_loses_and_duplicates_nothing(
    settings: Settings, processors: ComponentProcess
) -> None:
    keys = [f"crash/doc-{n:03}.txt" for n in range(DOCUMENT_COUNT)]
    async with running_system(settings, ["worker", "intake"]):
        processors.start()
        async with s3_client(settings) as s3:
            for number, key in enumerate(keys):
                await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=_text(number).encode())

        async def some_complete() -> bool:
            rows = await document_rows(settings, keys)
            return sum(1 for r in rows if r["status"] == "complete") >= 5

        await wait_for(some_complete, timeout=120, what="the first documents to complete")
        done_before_crash = sum(1 for r in await document_rows(settings, keys) if r["status"] == "complete")
        processors.kill()
        assert done_before_crash < DOCUMENT_COUNT, "the crash came too late to interrupt anything"

        processors.start()
        rows = await wait_until_complete(settings, keys, timeout=300)
        processors.stop()

    store = QdrantEdgeStore(Path(settings.qdrant_url))
    try:
        for row in rows:
            assert row["chunk_count"] >= 2
            assert await store.count(settings.qdrant_collection, document_id=row["id"]) == row["chunk_count"]
        assert await store.count(settings.qdrant_collection) == sum(r["chunk_count"] for r in rows)
    finally:
        await store.close()
