"""Reindex by replay, with no downtime: `ragstream reindex` builds a new generation from the topic's
history with new settings while questions keep being answered; the alias switches once every
live document is in; deletions and replacements made before are honoured; the old generation
stays until dropped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import numpy as np
import pytest

from apps.cli.system import ALL_COMPONENTS, running_system
from apps.common import generations
from apps.common.database import open_pool
from apps.common.identity import DEFAULT_TENANT, GROUPS_METADATA, Access
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from apps.common.vector_store import SearchFilter, VectorStore
from apps.devstack.stack import LocalStack
from apps.stream_processors.chunking import ChunkingPolicy, chunk_elements
from apps.stream_processors.partitioning import configure_offline, partition_document
from tests.openai_stub import OpenAIStub, running_openai_stub
from tests.support import isolated_settings, settings_environment, wait_for, wait_until_complete

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TOPICS = ["glaciers", "volcanoes", "deserts", "coral reefs", "tides", "monsoons"]


def article(topic: str, words: int = 320) -> str:
    sentences = [
        f"This paragraph {n} explains {topic} in some detail for the reindex test."
        for n in range(words // 12)
    ]
    return f"# {topic.title()}\n\n" + "\n\n".join(sentences)


async def ragstream(settings: Settings, *args: str) -> tuple[int, str]:
    """Run the `ragstream` CLI as a user would, without blocking the servers in this process."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ragstream"),
        *args,
        env=os.environ | settings_environment(settings) | {"COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


EVERY_DEFAULT_POINT = Access(tenant=DEFAULT_TENANT, every_group=True)


async def point_versions(
    store: VectorStore,
    collection: str,
    document_id: UUID,
    dimensions: int,
    access: Access = EVERY_DEFAULT_POINT,
) -> list[str]:
    probe = np.ones(dimensions, dtype=np.float32) / np.sqrt(dimensions)
    hits = await store.search(
        collection, probe, access=access, limit=1000, where=SearchFilter(document_ids=[document_id])
    )
    return [hit.payload.version for hit in hits]


# A tenant's document for a group: a reindex must keep who may see its points.
GROUP_KEY = "tenants/acme/reindex/launch-codes.md"


async def put_group_document(s3: Any, settings: Settings) -> None:
    await s3.put_object(
        Bucket=settings.s3_bucket,
        Key=GROUP_KEY,
        Body=article("launch codes").encode(),
        Metadata={GROUPS_METADATA: "legal"},
    )


async def assert_seen_by_its_group_only(
    store: VectorStore, collection: str, document_id: UUID, dimensions: int
) -> None:
    def seen(access: Access) -> Any:
        return point_versions(store, collection, document_id, dimensions, access)

    assert await seen(Access(tenant="acme", groups=frozenset({"legal"})))
    assert await seen(Access(tenant="acme", every_group=True))
    assert not await seen(Access(tenant="acme", groups=frozenset({"sales"})))
    assert not await seen(Access(tenant=DEFAULT_TENANT, every_group=True))


class Questions:
    """Asks questions without pause until stopped; remembers errors and which generation answered."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.errors: list[str] = []
        self.served: list[str | None] = []

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.api_url, timeout=60) as client:
            while not stop.is_set():
                topic = TOPICS[len(self.served) % len(TOPICS)]
                body = {"query": f"What about {topic}?", "stream": False}
                try:
                    response = await client.post("/v1/query", json=body)
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                    continue
                if response.status_code != 200 or not response.json()["sources"]:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
                    continue
                self.served.append(response.json()["collection"])


@contextlib.asynccontextmanager
async def asking(api_url: str) -> AsyncIterator[Questions]:
    questions = Questions(api_url)
    stop = asyncio.Event()
    task = asyncio.create_task(questions.run(stop))
    try:
        yield questions
    finally:
        stop.set()
        await task


async def test_reindex_with_another_chunk_size(settings: Settings) -> None:
    configure_offline()
    replaced, deleted = "reindex/replaced.md", "reindex/deleted.md"
    keys = [f"reindex/{topic}.md" for topic in TOPICS]
    async with running_system(settings, ALL_COMPONENTS) as system:
        store = system.store
        assert store is not None
        async with s3_client(settings) as s3:
            for key, topic in zip(keys, TOPICS, strict=True):
                await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=article(topic).encode())
            await s3.put_object(Bucket=settings.s3_bucket, Key=deleted, Body=article("avalanches").encode())
            await put_group_document(s3, settings)
            for version in range(1, 4):
                await s3.put_object(
                    Bucket=settings.s3_bucket,
                    Key=replaced,
                    Body=article(f"aurora version {version}").encode(),
                )
                await wait_until_complete(settings, [replaced])
            await wait_until_complete(settings, [*keys, deleted, GROUP_KEY])
            await s3.delete_object(Bucket=settings.s3_bucket, Key=deleted)

        pool = await open_pool(settings.database_url)
        try:

            async def deleted_document() -> bool:
                from tests.support import document_rows

                [row] = await document_rows(settings, [deleted])
                return bool(row["status"] == "deleted")

            await wait_for(deleted_document, what="the removed object to be deleted")
            [old] = await generations.list_all(pool, settings.qdrant_collection)
            old_points = await store.count(old.name)
            assert old.chunk_size == 200

            async with asking(settings.api_url) as questions:
                await wait_for(lambda: _at_least(questions.served, 3), what="questions answered before")
                code, output = await ragstream(
                    settings, "reindex", "--chunk-size", "80", "--chunk-overlap", "8"
                )
                assert code == 0, output
                new_name = f"{settings.qdrant_collection}_g2"
                # The API reads the live generation at most a second old: the switch shows within that.
                await wait_for(
                    lambda: _answered_from(questions.served, new_name), what="answers from the new one"
                )
                first_new = questions.served.index(new_name)
                await wait_for(lambda: _at_least(questions.served, first_new + 4), what="more answers after")

            assert questions.errors == []
            assert set(questions.served[:first_new]) == {old.name}
            assert set(questions.served[first_new:]) == {new_name}
            assert f"{new_name} is live" in output

            new = await generations.get(pool, new_name)
            assert new is not None
            assert new.status == "live"
            assert (new.chunk_size, new.chunk_overlap) == (80, 8)
            assert (await generations.get(pool, old.name)).status == "retired"  # type: ignore[union-attr]
            assert await store.resolve(settings.qdrant_collection) == new_name
            assert await store.count(old.name) == old_points  # the old generation is intact

            # Each live document holds exactly the chunks the new chunking makes of its latest version.
            policy = ChunkingPolicy(size=80, overlap=8)
            expected_total = 0
            from tests.support import document_rows

            rows = {
                row["s3_key"]: row
                for row in await document_rows(settings, [*keys, replaced, deleted, GROUP_KEY])
            }
            for key, text in [
                *zip(keys, map(article, TOPICS), strict=True),
                (replaced, article("aurora version 3")),
                (GROUP_KEY, article("launch codes")),
            ]:
                expected = len(
                    chunk_elements(partition_document(text.encode(), key, "text/markdown").elements, policy)
                )
                expected_total += expected
                assert await store.count(new_name, document_id=rows[key]["id"]) == expected, key
            assert await store.count(new_name) == expected_total
            assert set(await point_versions(store, new_name, rows[replaced]["id"], 384)) == {
                rows[replaced]["version"]
            }
            assert await store.count(new_name, document_id=rows[deleted]["id"]) == 0
            await assert_seen_by_its_group_only(store, new_name, rows[GROUP_KEY]["id"], 384)

            code, output = await ragstream(settings, "status")
            assert code == 0, output
            assert new_name in output
            assert old.name in output

            code, output = await ragstream(settings, "reindex", "--drop", new_name)
            assert code == 1  # the live generation cannot be dropped
            code, output = await ragstream(settings, "reindex", "--drop", old.name)
            assert code == 0, output
            assert not await store.collection_exists(old.name)
            assert (await generations.get(pool, old.name)).status == "dropped"  # type: ignore[union-attr]
        finally:
            await pool.close()


async def _at_least(items: list[Any], count: int) -> bool:
    return len(items) >= count


async def _answered_from(served: list[str | None], collection: str) -> bool:
    return collection in served


@pytest.fixture
async def stub() -> AsyncIterator[OpenAIStub]:
    async with running_openai_stub() as running:
        yield running


async def test_reindex_from_chunks_with_another_embedding_model(
    local_stack: LocalStack, tmp_path: Path, stub: OpenAIStub
) -> None:
    """Replaying `document.chunked` re-embeds without parsing again; questions then use the new model."""
    settings = await isolated_settings(
        local_stack,
        tmp_path,
        embedding_model="all-MiniLM-L6-v2",
        chat_model="extractive",
        openai_api_key="sk-test",
        openai_base_url=stub.base_url,
    )
    keys = [f"models/{topic}.md" for topic in TOPICS[:3]]
    async with running_system(settings, ALL_COMPONENTS) as system:
        assert system.store is not None
        async with s3_client(settings) as s3:
            for key, topic in zip(keys, TOPICS[:3], strict=True):
                await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=article(topic).encode())
            await put_group_document(s3, settings)
        rows = await wait_until_complete(settings, [*keys, GROUP_KEY])
        assert not stub.embedding_requests

        code, output = await ragstream(
            settings, "reindex", "--from", "document.chunked", "--embedding-model", "text-embedding-3-small"
        )
        assert code == 0, output
        new_name = f"{settings.qdrant_collection}_g2"
        assert await system.store.count(new_name) == sum(r["chunk_count"] for r in rows)
        embedded = sum(len(inputs) for inputs in stub.embedding_requests)
        assert embedded == sum(r["chunk_count"] for r in rows)  # every chunk once, none parsed again
        [group_row] = [r for r in rows if r["s3_key"] == GROUP_KEY]
        await assert_seen_by_its_group_only(system.store, new_name, group_row["id"], 1536)

        async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client:
            response = await client.post("/v1/query", json={"query": "What about deserts?", "stream": False})
        assert response.status_code == 200
        assert response.json()["collection"] == new_name
        assert stub.embedding_requests[-1] == ["What about deserts?"]  # the question, with the new model


async def test_switching_the_local_models_runtime_is_a_reindex_from_the_chunks(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    """A system built on PyTorch moves to ONNX Runtime int8 only through a new generation: until then
    its questions are embedded by the runtime that embedded its chunks."""
    settings = await isolated_settings(
        local_stack, tmp_path, local_embedding_runtime="torch", chat_model="extractive"
    )
    keys = [f"runtime/{topic}.md" for topic in TOPICS[:3]]
    async with running_system(settings, ALL_COMPONENTS) as system:
        assert system.store is not None
        async with s3_client(settings) as s3:
            for key, topic in zip(keys, TOPICS[:3], strict=True):
                await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=article(topic).encode())
        rows = await wait_until_complete(settings, keys)
        pool = await open_pool(settings.database_url)
        try:
            [old] = await generations.list_all(pool, settings.qdrant_collection)
            assert old.embedding_model == "all-MiniLM-L6-v2"
            code, output = await ragstream(
                settings,
                "reindex",
                "--from",
                "document.chunked",
                "--embedding-model",
                "all-MiniLM-L6-v2@onnx-int8",
            )
            assert code == 0, output
            new = await generations.get(pool, f"{settings.qdrant_collection}_g2")
        finally:
            await pool.close()
        assert new is not None
        assert (new.embedding_model, new.status) == ("all-MiniLM-L6-v2@onnx-int8", "live")
        assert await system.store.count(new.name) == sum(r["chunk_count"] for r in rows)

        async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client:
            response = await client.post("/v1/query", json={"query": "What about deserts?", "stream": False})
        assert response.status_code == 200
        answer = response.json()
        assert answer["collection"] == new.name
        assert answer["sources"][0]["filename"] == "deserts.md"
