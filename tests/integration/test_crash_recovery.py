"""The process running the stream processors is killed with SIGKILL in the middle of ingesting
60 documents and started again: every document ends `complete`, and the index holds exactly
the chunks they report — nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from apps.cli.system import running_system
from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from tests.support import document_rows, wait_for, wait_until_complete

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCUMENT_COUNT = 60


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as the `RAGSTREAM_*` environment of another process."""
    environment = {}
    for name, value in settings.model_dump(exclude_none=True).items():
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        elif hasattr(value, "total_seconds"):
            value = f"PT{value.total_seconds()}S"
        environment[f"RAGSTREAM_{name.upper()}"] = str(value)
    return environment


class ProcessorsProcess:
    """`ragstream processors` in a process of its own, as a deployment runs it."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = os.environ | settings_environment(self.settings)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "ragstream"), "processors"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log.parent,
            )

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown, no commit. Its parser workers are ours too: stop them."""
        assert self.process is not None
        children = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        _, alive = psutil.wait_procs(children, timeout=15)
        for child in alive:
            child.kill()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)


@pytest.fixture
def processors(settings: Settings, tmp_path: Path) -> Iterator[ProcessorsProcess]:
    process = ProcessorsProcess(settings, tmp_path / "processors.log")
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
    settings: Settings, processors: ProcessorsProcess
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
