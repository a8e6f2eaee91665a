"""Exactly-once effect from at-least-once delivery: a repeated S3 event starts nothing new, a new
version replaces the old one's points, unchanged content is not parsed again, and a deleted
object leaves the index, the listings and the answers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from apps.cli.system import ALL_COMPONENTS, System, running_system
from apps.common.documents import document_id_for
from apps.common.identity import DEFAULT_TENANT, Access
from apps.common.s3 import s3_client, sqs_client
from apps.common.settings import Settings
from apps.common.vector_store import SearchFilter, VectorStore
from apps.devstack.stack import LocalStack
from schemas.points import ChunkPayload
from schemas.topics import S3_EVENTS
from tests.support import (
    isolated_settings,
    wait_for,
    wait_until_complete,
    wait_until_settled,
    workflow_activities,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def system(settings: Settings) -> AsyncIterator[System]:
    async with running_system(settings, ALL_COMPONENTS) as running:
        yield running


def s3_event(
    bucket: str, key: str, *, etag: str, version_id: str | None = None, removed: bool = False
) -> str:
    """An S3 event notification as AWS sends it (key URL-encoded)."""
    obj: dict[str, Any] = {"key": key.replace(" ", "+").replace("/", "%2F"), "size": 10, "eTag": etag}
    if version_id:
        obj["versionId"] = version_id
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": datetime.now(UTC).isoformat(),
        "eventName": "ObjectRemoved:Delete" if removed else "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": obj},
    }
    return json.dumps({"Records": [record]})


async def point_payloads(store: VectorStore, settings: Settings, document_id: str) -> list[ChunkPayload]:
    """The payload of every point the document has in the live collection."""
    from uuid import UUID

    import numpy as np

    probe = np.ones(384, dtype=np.float32) / np.sqrt(384)
    hits = await store.search(
        settings.qdrant_collection,
        probe,
        access=Access(tenant=DEFAULT_TENANT, every_group=True),
        limit=1000,
        where=SearchFilter(document_ids=[UUID(document_id)]),
    )
    return [hit.payload for hit in hits]


async def workflow_runs(system: System, workflow_id: str) -> int:
    assert system.temporal is not None
    runs = [w async for w in system.temporal.list_workflows(f"WorkflowId = '{workflow_id}'")]
    return len(runs)


async def test_each_event_delivered_three_times_indexes_once(settings: Settings, system: System) -> None:
    """Through SQS, Kafka and the webhook, each event three times: one workflow, one set of points."""
    bucket = f"{settings.s3_bucket}-quiet"
    texts = {f"dup/doc {n}.txt": f"Duplicate delivery test document number {n}. " * 40 for n in range(3)}
    etags: dict[str, str] = {}
    async with s3_client(settings) as s3:
        await s3.create_bucket(Bucket=bucket)
        for key, text in texts.items():
            etags[key] = (await s3.put_object(Bucket=bucket, Key=key, Body=text.encode()))["ETag"].strip('"')
    assert system.broker is not None
    async with sqs_client(settings) as sqs, httpx.AsyncClient(base_url=settings.api_url) as api:
        for key in texts:
            body = s3_event(bucket, key, etag=etags[key])
            for _ in range(3):
                await sqs.send_message(QueueUrl=settings.s3_events_sqs_queue_url, MessageBody=body)
                await system.broker.publish(body.encode(), settings.topic(S3_EVENTS))
                assert (await api.post("/v1/s3/events", content=body)).status_code == 202

    rows = await wait_until_complete(settings, list(texts), bucket=bucket)
    assert system.store is not None
    for row in rows:
        assert await workflow_runs(system, row["workflow_id"]) == 1
        assert (
            await system.store.count(settings.qdrant_collection, document_id=row["id"]) == row["chunk_count"]
        )
    assert await system.store.count(settings.qdrant_collection) == sum(r["chunk_count"] for r in rows)


async def test_multipart_upload_starts_one_workflow(local_stack: LocalStack, tmp_path: Path) -> None:
    """moto, like S3, may notify twice for one multipart upload. (The 5 MiB part is over the size
    limit set here, so the document fails fast instead of embedding megabytes.)"""
    settings = await isolated_settings(local_stack, tmp_path, max_object_size=1024 * 1024)
    key = "multipart/big.txt"
    part = (
        "A multipart upload may notify more than once. " * 120_000
    ).encode()  # over S3's 5 MiB part minimum
    async with s3_client(settings) as s3:
        upload = await s3.create_multipart_upload(Bucket=settings.s3_bucket, Key=key)
        parts = []
        for number, body in enumerate((part, b"The last part is small."), start=1):
            uploaded = await s3.upload_part(
                Bucket=settings.s3_bucket, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=body
            )
            parts.append({"ETag": uploaded["ETag"], "PartNumber": number})
        await s3.complete_multipart_upload(
            Bucket=settings.s3_bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
        )
    async with running_system(settings, ["worker", "intake"]) as system:
        [row] = await wait_until_settled(settings, [key], timeout=60)
        assert "over the 1.0 MiB limit" in row["error_message"]
        assert await workflow_runs(system, row["workflow_id"]) == 1


async def test_new_versions_replace_old_points_and_deletions_leave_everything(
    settings: Settings, system: System
) -> None:
    replaced, deleted = "versions/replaced.md", "versions/deleted.txt"
    store = system.store
    assert store is not None
    async with s3_client(settings) as s3:
        await s3.put_object(
            Bucket=settings.s3_bucket, Key=deleted, Body=b"Marmots whistle to warn of eagles."
        )
        for generation in range(1, 4):
            body = (
                f"# Version {generation}\n\n"
                + f"Paragraph of version {generation} about lighthouses. " * (30 * generation)
            )
            etag = (await s3.put_object(Bucket=settings.s3_bucket, Key=replaced, Body=body.encode()))["ETag"]

            async def indexed(version: str = etag.strip('"')) -> bool:
                [row] = await wait_until_complete(settings, [replaced])
                return bool(row["version"] == version)

            await wait_for(indexed, what=f"version {generation} indexed")
        await wait_until_complete(settings, [deleted])
        await s3.delete_object(Bucket=settings.s3_bucket, Key=deleted)

    [row] = await wait_until_complete(settings, [replaced])
    versions = [payload.version for payload in await point_payloads(store, settings, str(row["id"]))]
    assert versions
    assert set(versions) == {row["version"]}
    assert len(versions) == row["chunk_count"]

    [gone] = await wait_for(
        lambda: _status_rows(settings, [deleted], "deleted"), what="the removed object to be deleted"
    )
    deleted_id = document_id_for(settings.s3_bucket, deleted)
    assert await store.count(settings.qdrant_collection, document_id=deleted_id) == 0
    assert gone["chunk_count"] == 0
    async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as api:
        listing = (await api.get("/v1/documents")).json()
        assert str(deleted_id) not in {d["id"] for d in listing["items"]}
        answer = await api.post("/v1/query", json={"query": "Why do marmots whistle?", "stream": False})
        assert str(deleted_id) not in {s["document_id"] for s in answer.json()["sources"]}


async def _status_rows(settings: Settings, keys: list[str], status: str) -> list[dict[str, Any]] | None:
    from tests.support import document_rows

    rows = await document_rows(settings, keys)
    return rows if rows and all(r["status"] == status for r in rows) else None


async def test_unchanged_content_skips_parse_and_embedding(settings: Settings, system: System) -> None:
    """A new S3 version with the same bytes (same sha256) reuses the indexed chunks and says so."""
    bucket = f"{settings.s3_bucket}-versioned"
    key = "unchanged/notes.txt"
    body = b"Versioned buckets give every upload its own version id, even with identical bytes."
    async with s3_client(settings) as s3:
        await s3.create_bucket(Bucket=bucket)
        await s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        first = await s3.put_object(Bucket=bucket, Key=key, Body=body)
        second = await s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert first["VersionId"] != second["VersionId"]
    async with httpx.AsyncClient(base_url=settings.api_url) as api:
        event = s3_event(bucket, key, etag=first["ETag"].strip('"'), version_id=first["VersionId"])
        assert (await api.post("/v1/s3/events", content=event)).status_code == 202
        [row] = await wait_until_complete(settings, [key], bucket=bucket)
        event = s3_event(bucket, key, etag=second["ETag"].strip('"'), version_id=second["VersionId"])
        workflow_id = (await api.post("/v1/s3/events", content=event)).json()["workflows"][0]

    async def second_complete() -> dict[str, Any] | None:
        [latest] = await wait_until_complete(settings, [key], bucket=bucket)
        return latest if latest["version"] == second["VersionId"] else None

    latest = await wait_for(second_complete, what="the second version")
    assert latest["chunk_count"] == row["chunk_count"]
    assert "content unchanged" in latest["metadata"]["note"]
    assert system.temporal is not None
    activities = workflow_activities(await system.temporal.get_workflow_handle(workflow_id).fetch_history())
    assert "register_document" in activities
    assert "publish_document_ready" not in activities


async def test_the_latest_upload_to_an_unversioned_key_wins_even_with_bytes_seen_before(
    settings: Settings, system: System
) -> None:
    """A, then B, then A again under one key; then a removal and the same bytes once more: each
    time the index answers from the latest upload (the dev stack's bucket is unversioned)."""
    key = "latest/beacon.txt"
    amber, blue = b"The harbour beacon burns AMBER tonight.", b"The harbour beacon burns BLUE tonight."
    store = system.store
    assert store is not None
    document_id = str(document_id_for(settings.s3_bucket, key))

    async def indexed(body: bytes) -> None:
        async def holds_it() -> bool:
            [row] = await wait_until_settled(settings, [key])
            if row["status"] != "complete" or row["content_sha256"] != hashlib.sha256(body).hexdigest():
                return False
            texts = [payload.content for payload in await point_payloads(store, settings, document_id)]
            return texts == [body.decode()]

        await wait_for(holds_it, timeout=90, what=f"{body.decode()!r} indexed")

    async with s3_client(settings) as s3:
        for body in (amber, blue, amber):
            await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=body)
            await indexed(body)
        await s3.delete_object(Bucket=settings.s3_bucket, Key=key)
        await wait_for(lambda: _status_rows(settings, [key], "deleted"), what="the removal")
        await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=amber)
        await indexed(amber)

    async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as api:
        found = await api.post("/v1/search", json={"query": "What colour does the harbour beacon burn?"})
    assert [s["text"] for s in found.json()["sources"] if s["document_id"] == document_id] == [amber.decode()]
