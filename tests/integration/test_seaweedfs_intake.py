"""SeaweedFS as the S3, its filer's events (protobuf, on Kafka) as the only intake: a put document is
indexed and searchable, a deleted one removed, and a redelivered event starts no second workflow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import NewTopic

from apps.cli.system import ALL_COMPONENTS, System, running_system
from apps.common.documents import document_id_for
from apps.common.filer_events import filer_changes, parse_filer_event
from apps.common.intake import workflow_id_for
from apps.common.kafka import admin_client
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from apps.devstack.seaweedfs import EmbeddedSeaweedFS
from apps.devstack.stack import LocalStack
from tests.support import (
    assert_answered_from,
    committed_offsets,
    document_rows,
    isolated_settings,
    wait_for,
    wait_until_complete,
)

pytestmark = pytest.mark.integration

KEY = "field notes/Pinguïne am Kap.txt"
TEXT = (
    "Penguins of the Cape colony dive for sardines and anchovies at dawn. "
    "The colony at Boulders Beach counts about three thousand African penguins. "
) * 6


@pytest.fixture
async def seaweedfs_settings(local_stack: LocalStack, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings whose S3 is a SeaweedFS of this test, read only through its filer's Kafka topic."""
    base = await isolated_settings(local_stack, tmp_path)
    topic = f"{base.kafka_topic_prefix}seaweedfs.filer"
    # Made before the filer sends to it (Tansu would make it on the first send, with its own defaults).
    async with admin_client(base) as admin:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    seaweedfs = EmbeddedSeaweedFS(
        tmp_path / "seaweedfs", notify_kafka=local_stack.kafka.bootstrap_servers, notify_topic=topic
    )
    try:
        seaweedfs.start(tmp_path / "logs")
        overrides: dict[str, Any] = {
            "s3_endpoint_url": seaweedfs.endpoint_url,
            "s3_events_sqs_queue_url": None,
            "s3_events_from_kafka": False,
            "s3_events_filer_topic": topic,
            "reconcile_interval": None,  # only the events start workflows here
        }
        settings = Settings(_env_file=None, **(base.model_dump() | overrides))
        async with s3_client(settings) as s3:
            await s3.create_bucket(Bucket=settings.s3_bucket)
        yield settings
    finally:
        seaweedfs.stop()


async def filer_records(settings: Settings, path: str) -> list[Any]:
    """The filer topic's records about filer path `path`, read from the start without a group."""
    consumer = AIOKafkaConsumer(
        settings.s3_events_filer_topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        while batches := await consumer.getmany(timeout_ms=1000):
            records += [r for batch in batches.values() for r in batch if r.key == path.encode()]
    finally:
        await consumer.stop()
    return records


async def upload_runs(system: System, settings: Settings) -> list[Any]:
    assert system.temporal is not None
    query = f"TaskQueue = '{settings.temporal_task_queue}'"
    return [w async for w in system.temporal.list_workflows(query)]


async def test_a_document_put_into_seaweedfs_is_indexed_once_and_removed_when_deleted(
    seaweedfs_settings: Settings,
) -> None:
    settings = seaweedfs_settings
    topic, group = settings.s3_events_filer_topic, settings.consumer_group("intake-filer")
    async with running_system(settings, ALL_COMPONENTS) as system, s3_client(settings) as s3:
        put = await s3.put_object(Bucket=settings.s3_bucket, Key=KEY, Body=TEXT.encode())
        [row] = await wait_until_complete(settings, [KEY])
        assert row["chunk_count"] > 0
        assert row["version"] == put["ETag"].strip('"')  # the filer's ETag is S3's
        await assert_answered_from(
            settings, {KEY: ("How many African penguins live at Boulders Beach?", None)}
        )

        # A redelivery: the filer's record again, with its key, bytes and timestamp.
        [record] = await filer_records(settings, f"/buckets/{settings.s3_bucket}/{KEY}")
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            sent = await producer.send_and_wait(
                topic, record.value, key=record.key, timestamp_ms=record.timestamp
            )
        finally:
            await producer.stop()

        async def consumed() -> int | None:
            offsets = await committed_offsets(settings, group, topic)
            return offsets if offsets > sent.offset else None

        await wait_for(consumed, timeout=30, what="the intake to read the redelivered record")
        runs = await upload_runs(system, settings)
        assert [run.id for run in runs] == [row["workflow_id"]]

        await s3.delete_object(Bucket=settings.s3_bucket, Key=KEY)

        async def deleted() -> list[dict[str, Any]] | None:
            rows = await document_rows(settings, [KEY])
            return rows if [r["status"] for r in rows] == ["deleted"] else None

        await wait_for(deleted, timeout=60, what=f"{KEY} to be deleted")
        assert system.store is not None
        document_id = document_id_for(settings.s3_bucket, KEY)
        assert await system.store.count(settings.qdrant_collection, document_id=document_id) == 0
        assert len(await upload_runs(system, settings)) == 2


async def test_the_same_content_put_again_after_other_content_is_indexed_again(
    seaweedfs_settings: Settings,
) -> None:
    """A, B, A within about a second: three changes, told apart by their records' times; A is last."""
    settings = seaweedfs_settings
    key = "versions/ABA.txt"
    bodies = [f"Version {name}: the lighthouse keeper logs {name} ships a night. " * 8 for name in "ABA"]
    async with running_system(settings, ALL_COMPONENTS) as system, s3_client(settings) as s3:
        etags = [
            (await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=body.encode()))["ETag"].strip('"')
            for body in bodies
        ]
        assert etags[0] == etags[2] != etags[1]

        async def three_records() -> list[Any] | None:
            records = await filer_records(settings, f"/buckets/{settings.s3_bucket}/{key}")
            return records if len(records) == 3 else None

        records = await wait_for(three_records, timeout=30, what="the filer's three records")
        [last] = filer_changes(
            records[-1].key.decode(),
            parse_filer_event(records[-1].value),
            bucket=settings.s3_bucket,
            timestamp_ms=records[-1].timestamp,
        )

        async def last_indexed() -> list[dict[str, Any]] | None:
            rows = await document_rows(settings, [key])
            done = [
                r for r in rows if r["workflow_id"] == workflow_id_for(last) and r["status"] == "complete"
            ]
            return done or None

        [row] = await wait_for(last_indexed, timeout=90, what="the last put to be indexed")
        assert row["version"] == etags[0]
        assert len({run.id for run in await upload_runs(system, settings)}) == 3
