"""Helpers the tests share: isolated settings, polling with a deadline, and reading Kafka offsets."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from apps.common.settings import Settings
from apps.devstack.process import free_port
from apps.devstack.stack import LocalStack, create_bucket_with_notifications

T = TypeVar("T")


async def isolated_settings(stack: LocalStack, directory: Path, **overrides: Any) -> Settings:
    """Settings on `stack` that no other test shares, with the bucket and its SQS notifications created."""
    tag = uuid.uuid4().hex[:10]
    values: dict[str, Any] = {
        key.removeprefix("RAGSTREAM_").lower(): value for key, value in stack.environment().items()
    }
    queue = f"events-{tag}"
    values |= {
        "state_dir": directory,
        "kafka_topic_prefix": f"t{tag}.",
        "kafka_consumer_group_prefix": f"g{tag}",
        "kafka_partitions": 2,
        "temporal_task_queue": f"q{tag}",
        "s3_bucket": f"bucket-{tag}",
        "s3_events_sqs_queue_url": stack.s3.queue_url(queue),
        "qdrant_url": str(directory / "qdrant"),
        "api_port": free_port(),
        "indexing_timeout": "PT2M",
    }
    values |= overrides
    settings = Settings(_env_file=None, **values)
    await create_bucket_with_notifications(settings, queue)
    return settings


async def wait_for(
    condition: Callable[[], Awaitable[T | None]],
    *,
    timeout: float = 60.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await condition()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")


async def committed_offsets(settings: Settings, group: str, topic: str) -> int:
    """The sum over partitions of what `group` committed on `topic` (Tansu needs the partitions named)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
        offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await admin.close()
    return sum(max(meta.offset, 0) for meta in offsets.values())
