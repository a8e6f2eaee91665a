"""Dead letters on the real servers: an embedding-provider outage dead-letters one batch of a long
document and fails it; `ragstream dlq list` shows the letter; once the provider is back, `ragstream
dlq redrive` sends it back and the document becomes complete, whole and searchable. A second
redrive sends nothing; `--stage` filters."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from apps.cli.system import ALL_COMPONENTS, running_system
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from apps.devstack.stack import LocalStack
from schemas.events import DocumentChunked
from schemas.topics import DOCUMENT_CHUNKED
from tests.openai_stub import OpenAIStub, running_openai_stub
from tests.support import isolated_settings, read_topic, settings_environment, wait_for, wait_until_settled

pytestmark = pytest.mark.integration

KEY = "outage/sea-mammals.txt"
ANIMALS = ["walrus", "seal", "otter", "manatee", "dolphin", "orca", "beluga", "dugong"]
# The first paragraph alone names the narwhal: found by a search only if the first batch is indexed.
TEXT = "\n\n".join(
    ["The narwhal keeps its long spiral tusk pointed at the cold arctic sky all winter."]
    + [
        f"Paragraph {i} says the {ANIMALS[i % len(ANIMALS)]} swims along coast number {i} at dawn, "
        f"diving for food {i} times before it rests on the ice."
        for i in range(1, 120)
    ]
).encode()


@pytest.fixture
async def stub() -> AsyncIterator[OpenAIStub]:
    async with running_openai_stub() as running:
        yield running


@pytest.fixture
async def dlq_settings(local_stack: LocalStack, tmp_path: Path, stub: OpenAIStub) -> Settings:
    return await isolated_settings(
        local_stack,
        tmp_path,
        openai_api_key="sk-test",
        openai_base_url=stub.base_url,
        openai_max_retries=0,  # one request per stage attempt
        stage_max_attempts=2,
        stage_retry_backoff_seconds=0.1,
        embed_batch_messages=1,  # each batch of chunks embedded on its own, so one can fail alone
        chunk_size=40,
        chunk_overlap=0,
    )


async def ragstream(settings: Settings, *args: str) -> tuple[int, str, str]:
    """`ragstream ARGS` in a process of its own, as an operator runs it: exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ragstream"),
        *args,
        env=os.environ | settings_environment(settings),
        cwd=settings.state_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_document_failed_by_an_embedding_outage_is_complete_after_a_redrive(
    dlq_settings: Settings, stub: OpenAIStub
) -> None:
    settings = dlq_settings
    stub.embedding_failures = settings.stage_max_attempts  # every attempt at the first batch fails
    async with running_system(settings, ALL_COMPONENTS) as system:
        async with s3_client(settings) as s3:
            await s3.put_object(Bucket=settings.s3_bucket, Key=KEY, Body=TEXT)
        [row] = await wait_until_settled(settings, [KEY], timeout=90)
        assert row["status"] == "failed", row
        assert "embed failed" in row["error_message"]
        records = await read_topic(settings, settings.topic(DOCUMENT_CHUNKED), expect=2)
        batches = [DocumentChunked.model_validate_json(record.value) for record in records]
        assert [b.batch_index for b in batches] == list(range(len(batches)))
        assert batches[-1].batch_count == len(batches)  # the last batch says how many there are
        chunks = sum(len(b.chunks) for b in batches)
        store = system.store
        assert store is not None
        written = sum(len(b.chunks) for b in batches[1:])  # every batch but the dead-lettered first

        async def rest_written() -> bool:
            return await store.count(settings.qdrant_collection, document_id=row["id"]) == written

        await wait_for(rest_written, timeout=30, what="the batches after the first to be written")

        async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client:
            listed = (await client.get("/v1/dead-letters")).json()["items"]
            [letter] = listed
            assert (letter["stage"], letter["attempts"]) == ("embed", settings.stage_max_attempts)
            assert "503" in letter["error"] or "overloaded" in letter["error"]
            assert letter["document"] == {
                "document_id": str(row["id"]),
                "version": row["version"],
                "filename": "sea-mammals.txt",
                "tenant": "default",
            }
            assert letter["source_topic"] == settings.topic(DOCUMENT_CHUNKED)
            assert json.loads(records[0].value)["batch_index"] == 0

            code, out, err = await ragstream(settings, "dlq", "list")
            assert code == 0, err
            assert f"embed: sea-mammals.txt (document {row['id']}, version {row['version']})" in out
            assert f"({settings.stage_max_attempts} attempts)" in out
            assert f"{settings.topic(DOCUMENT_CHUNKED)}.dlq partition {letter['partition']}" in out
            assert "1 dead letters waiting" in out

            # Written, but a document indexed in part is never served: no search finds its chunks.
            only_it = {"query": "walrus", "document_ids": [str(row["id"])]}
            for mode in ("dense", "sparse", "hybrid"):
                partial = await client.post("/v1/search", json=only_it | {"search_mode": mode})
                assert partial.status_code == 200, partial.text
                assert partial.json()["sources"] == [], mode

            # The provider is back. A redrive of another stage's letters sends nothing.
            code, out, err = await ragstream(settings, "dlq", "redrive", "--stage", "parse")
            assert code == 0, err
            assert "redrove 0 dead letters" in out
            code, out, err = await ragstream(settings, "dlq", "list", "--stage", "embed")
            assert "1 dead letters of stage embed waiting" in out
            code, out, err = await ragstream(settings, "dlq", "list", "--stage", "upsert")
            assert "0 dead letters of stage upsert waiting" in out

            code, out, err = await ragstream(settings, "dlq", "redrive")
            assert code == 0, err
            assert "redrove 1 dead letters (1 embed)" in out

            async def complete() -> dict[str, object] | None:
                [again] = await wait_until_settled(settings, [KEY])
                return again if again["status"] == "complete" else None

            done = await wait_for(complete, timeout=90, what="the redriven document to complete")
            assert done["chunk_count"] == chunks  # every batch, not only the redriven one
            assert done["error_message"] is None

            search = await client.post("/v1/search", json={"query": "narwhal", "search_mode": "sparse"})
            assert search.status_code == 200, search.text
            hits = search.json()["sources"]
            assert [hit["document_id"] for hit in hits[:1]] == [str(row["id"])]
            assert "narwhal" in hits[0]["text"]
            whole = await client.post("/v1/search", json=only_it | {"top_k": 50})
            assert len(whole.json()["sources"]) == min(50, chunks)

            requests = len(stub.embedding_requests)
            again = await client.post("/v1/dead-letters/redrive", json={})
            assert again.status_code == 202, again.text
            assert again.json() == {"redriven": [], "skipped": [], "still_waiting": 0}
            assert (await client.get("/v1/dead-letters")).json() == {"items": []}
        assert len(stub.embedding_requests) == requests
