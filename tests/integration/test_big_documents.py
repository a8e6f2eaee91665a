"""Big documents on the real servers: a 1,000-page PDF and a 50 MB HTML page are indexed whole, their
chunks reach the embed stage while parsing goes on, the parser workers stay under 1.5 GB, and
`ingest --wait` waits as long as they make progress rather than for a fixed total."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from aiokafka import AIOKafkaConsumer

from apps.cli.ingest import Placement, upload, wait_until_indexed
from apps.cli.system import ALL_COMPONENTS, running_system
from apps.common.embeddings import HASHING_MODEL
from apps.common.settings import Settings
from apps.devstack.stack import LocalStack
from schemas.events import DocumentChunked, DocumentEmbedded
from schemas.topics import DOCUMENT_CHUNKED, DOCUMENT_EMBEDDED
from tests import big_documents
from tests.support import document_rows, isolated_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PAGES = 1000
MEGABYTES = 50
MAX_WORKER_PEAK_RSS = 1.5 * 1024**3
# Longer than any spell without progress, much shorter than indexing both documents takes.
IDLE_TIMEOUT = 60.0


@pytest.fixture
async def settings(local_stack: LocalStack, tmp_path: Path) -> Settings:
    # The hashing embedder: what is measured here is parsing, not the model's speed.
    return await isolated_settings(
        local_stack, tmp_path, embedding_model=HASHING_MODEL, indexing_timeout="PT30M"
    )


def _parser_workers() -> list[psutil.Process]:
    """The parser's worker processes: this process's children started by multiprocessing's spawn."""
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if any("spawn_main" in part for part in child.cmdline())
    ]


def _peak_rss(process: psutil.Process) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {process.pid}")


async def test_big_documents_are_indexed_whole_with_bounded_memory(
    settings: Settings, tmp_path: Path
) -> None:
    manual = tmp_path / "manual.pdf"
    manual.write_bytes(big_documents.pdf([big_documents.manual_page(n) for n in range(1, PAGES + 1)]))
    catalogue = tmp_path / "catalogue.html"
    catalogue.write_bytes(big_documents.html(MEGABYTES))
    assert catalogue.stat().st_size >= MEGABYTES * 1_000_000

    async with running_system(settings, ALL_COMPONENTS):
        workers = _parser_workers()
        assert workers, "no parser worker processes found"
        uploaded = await upload(settings, [(manual, manual.name), (catalogue, catalogue.name)], Placement())
        started = time.monotonic()
        failures = await asyncio.to_thread(wait_until_indexed, settings, uploaded, IDLE_TIMEOUT)
        elapsed = time.monotonic() - started
        peaks = {worker.pid: _peak_rss(worker) for worker in workers}

        rows = {r["s3_key"]: r for r in await document_rows(settings, [manual.name, catalogue.name])}
        assert failures == 0, {key: (r["status"], r["error_message"]) for key, r in rows.items()}
        # The wait outlasted its idle limit: it waited on progress, not on a total.
        assert elapsed > IDLE_TIMEOUT, elapsed
        assert max(peaks.values()) < MAX_WORKER_PEAK_RSS, {
            pid: f"{rss / 2**20:.0f} MiB" for pid, rss in peaks.items()
        }

        manual_id = rows[manual.name]["id"]
        assert rows[manual.name]["coverage"] >= 0.99
        assert rows[catalogue.name]["coverage"] >= 0.99

        async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client:
            response = await client.post(
                "/v1/search",
                json={"query": "pump station 900 lifts water", "search_mode": "sparse", "top_k": 1},
            )
        assert response.status_code == 200, response.text
        [top] = response.json()["sources"]
        assert (top["document_id"], top["page"]) == (str(manual_id), 900)

    chunk_count = rows[manual.name]["chunk_count"]
    chunked = [
        r
        for r in await _whole_topic(settings, settings.topic(DOCUMENT_CHUNKED))
        if DocumentChunked.model_validate_json(r.value).document_id == manual_id
    ]
    embedded = [
        r
        for r in await _whole_topic(settings, settings.topic(DOCUMENT_EMBEDDED))
        if DocumentEmbedded.model_validate_json(r.value).document_id == manual_id
    ]
    assert sum(len(DocumentChunked.model_validate_json(r.value).chunks) for r in chunked) == chunk_count
    # The manual's first batches were embedded seconds before its parser published the last one.
    assert min(r.timestamp for r in embedded) < max(r.timestamp for r in chunked) - 5_000


async def _whole_topic(settings: Settings, topic: str) -> list[Any]:
    """Every record `topic` holds now, read without a group: until three polls in a row find no more
    (Tansu's end offsets can fall short of the end after a batch)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    empty_polls = 0
    deadline = time.monotonic() + 90
    try:
        while empty_polls < 3 or not records:
            assert time.monotonic() < deadline, f"{topic}: not read to its end within 90 s"
            batch = [r for part in (await consumer.getmany(timeout_ms=1000)).values() for r in part]
            records.extend(batch)
            empty_polls = 0 if batch else empty_polls + 1
    finally:
        await consumer.stop()
    return records
