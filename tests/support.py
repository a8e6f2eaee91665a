"""Helpers the tests share: isolated settings, putting objects, polling with a deadline, asking which
document answers, and reading Kafka offsets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from psycopg.rows import dict_row
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from apps.common.documents import document_id_for
from apps.common.kafka import admin_client
from apps.common.s3 import s3_client
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
        "temporal_task_queue": f"q{tag}",
        "s3_bucket": f"bucket-{tag}",
        "s3_events_sqs_queue_url": stack.s3.queue_url(queue),
        "qdrant_url": str(directory / "qdrant"),
        "qdrant_collection": f"docs_{tag}",
        "api_port": free_port(),
        "indexing_timeout": "PT2M",
    }
    values |= overrides
    settings = Settings(_env_file=None, **values)
    await create_bucket_with_notifications(settings, queue)
    return settings


async def put_objects(settings: Settings, files: Mapping[str, bytes]) -> None:
    """Put each key's bytes into the settings' bucket (its S3 events start their ingestion)."""
    async with s3_client(settings) as s3:
        for key, body in files.items():
            await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=body)


async def assert_answered_from(settings: Settings, questions: Mapping[str, tuple[str, int | None]]) -> None:
    """Ask each key's question (a non-streamed /v1/query): its top source is that key's document, on
    the page given (where one is)."""
    async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client:
        for key, (question, page) in questions.items():
            response = await client.post("/v1/query", json={"query": question, "stream": False})
            assert response.status_code == 200, response.text
            top = response.json()["sources"][0]
            assert top["document_id"] == str(document_id_for(settings.s3_bucket, key)), (question, top)
            if page is not None:
                assert top["page"] == page, top


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


async def _partitions(admin: AIOKafkaAdminClient, topic: str) -> list[TopicPartition]:
    described = await admin.describe_topics([topic])
    return [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]


async def topic_partitions(settings: Settings, topic: str) -> list[TopicPartition]:
    """The partitions `topic` has."""
    async with admin_client(settings) as admin:
        return await _partitions(admin, topic)


async def committed_offsets(settings: Settings, group: str, topic: str) -> int:
    """The sum over partitions of what `group` committed on `topic` (Tansu needs the partitions named)."""
    async with admin_client(settings) as admin:
        offsets = await admin.list_consumer_group_offsets(group, partitions=await _partitions(admin, topic))
    return sum(max(meta.offset, 0) for meta in offsets.values())


async def document_rows(
    settings: Settings, keys: list[str], bucket: str | None = None
) -> list[dict[str, Any]]:
    """The `documents` rows of these object keys (in the settings' bucket unless told otherwise)."""
    ids = [document_id_for(bucket or settings.s3_bucket, key) for key in keys]
    async with await psycopg.AsyncConnection.connect(settings.database_url, row_factory=dict_row) as conn:
        cur = await conn.execute("SELECT * FROM documents WHERE id = ANY(%s)", (ids,))
        return await cur.fetchall()


async def wait_until_settled(
    settings: Settings, keys: list[str], *, timeout: float = 90.0, bucket: str | None = None
) -> list[dict[str, Any]]:
    """Wait until every key's document is complete, failed or deleted; returns the rows."""

    async def settled() -> list[dict[str, Any]] | None:
        rows = await document_rows(settings, keys, bucket)
        done = len(rows) == len(keys) and all(r["status"] in ("complete", "failed", "deleted") for r in rows)
        return rows if done else None

    return await wait_for(settled, timeout=timeout, what=f"{len(keys)} documents to settle")


async def wait_until_complete(
    settings: Settings, keys: list[str], *, timeout: float = 90.0, bucket: str | None = None
) -> list[dict[str, Any]]:
    """Wait until every key's document is complete; fails at once if one failed."""
    rows = await wait_until_settled(settings, keys, timeout=timeout, bucket=bucket)
    problems = [(r["s3_key"], r["status"], r["error_message"]) for r in rows if r["status"] != "complete"]
    assert not problems, problems
    return rows


async def read_topic(settings: Settings, topic: str, *, expect: int, timeout: float = 30.0) -> list[Any]:
    """The first `expect` records of `topic` (all partitions, from the beginning), read without a group."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    assert len(records) >= expect, f"{topic}: {len(records)} records, expected {expect}"
    return records


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as the `RAGSTREAM_*` environment of another process."""
    environment = {}
    secrets = {name: getattr(settings, name) for name in type(settings).model_fields}
    for name, value in settings.model_dump(mode="json", exclude_none=True).items():
        if hasattr(secrets[name], "get_secret_value"):
            value = secrets[name].get_secret_value()
        text = value if isinstance(value, str) else json.dumps(value)
        environment[f"RAGSTREAM_{name.upper()}"] = text
    return environment


class ComponentProcess:
    """`ragstream <component>` in a process of its own, as a deployment runs it."""

    def __init__(self, settings: Settings, component: str, log: Path) -> None:
        self.settings = settings
        self.component = component
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = os.environ | settings_environment(self.settings)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "ragstream"), self.component],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log.parent,
            )

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown, no commit. Its children (parser workers) are ours too."""
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


def workflow_activities(history: WorkflowHistory) -> list[str]:
    """The activities a workflow ran, in order: local activities leave a marker in its history."""
    names = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            [data] = event.marker_recorded_event_attributes.details["data"].payloads
            names.append(json.loads(data.data)["activity_type"])
    return names
