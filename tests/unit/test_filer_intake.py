"""The SeaweedFS filer intake: its topic's records (key, protobuf bytes, timestamp) start the workflows of
the configured bucket's changes; what is not a filer event is logged and skipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from temporalio.client import Client

from apps.common.settings import Settings
from apps.ingest_workflows import intake
from schemas.s3_events import S3ObjectChange

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "seaweedfs_filer_events.json").read_text())
TOPIC = "seaweedfs.filer"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[S3ObjectChange]:
    changes: list[S3ObjectChange] = []

    async def start_uploads(client: Any, settings: Settings, batch: list[S3ObjectChange]) -> list[Any]:
        changes.extend(batch)
        return []

    monkeypatch.setattr(intake, "start_uploads", start_uploads)
    return changes


def settings(bucket: str = "docs") -> Settings:
    return Settings(_env_file=None, s3_bucket=bucket, s3_events_filer_topic=TOPIC)


async def handle(name: str, bucket: str = "docs") -> int:
    record = RECORDED[name]
    return await intake.handle_filer_event(
        record["key"].encode(),
        bytes.fromhex(record["value"]),
        record["timestamp_ms"],
        temporal=cast(Client, object()),
        settings=settings(bucket),
    )


async def test_a_put_starts_its_workflow(started: list[S3ObjectChange]) -> None:
    assert await handle("create") == 1
    assert [(c.key, c.kind) for c in started] == [("notes/a b ü.txt", "created")]


async def test_other_buckets_and_directories_start_nothing(started: list[S3ObjectChange]) -> None:
    assert await handle("create", bucket="elsewhere") == 0
    assert await handle("folder") == 0
    assert started == []


async def test_what_is_not_a_filer_event_is_skipped(started: list[S3ObjectChange]) -> None:
    handled = await intake.handle_filer_event(
        b"/buckets/docs/a.txt",
        b'{"Records": []}',
        None,
        temporal=cast(Client, object()),
        settings=settings(),
    )
    assert (handled, started) == (0, [])


async def test_the_subscriber_passes_the_record_key_and_timestamp(started: list[S3ObjectChange]) -> None:
    broker = KafkaBroker()
    intake.subscribe_filer_events(broker, temporal=cast(Client, object()), settings=settings())
    record = RECORDED["delete"]
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            bytes.fromhex(record["value"]),
            TOPIC,
            key=record["key"].encode(),
            timestamp_ms=record["timestamp_ms"],
        )
    [change] = started
    assert (change.key, change.kind) == ("notes/a b ü.txt", "removed")
    assert change.event_time is not None
    assert round(change.event_time.timestamp() * 1000) == record["timestamp_ms"]
