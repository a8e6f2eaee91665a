"""The walking skeleton on the real servers: objects put into S3 travel S3 notification -> SQS ->
intake -> Temporal UploadWorkflow -> Kafka (parse -> embed -> upsert -> report) -> signal ->
`complete`, and questions about them are answered over SSE with them among the sources.

Every hop is checked where it leaves a trace: the workflow histories in Temporal, the
consumer groups' committed offsets in Kafka, the points in the vector store, the SQS queue.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from apps.cli.system import ALL_COMPONENTS, System, running_system
from apps.common.documents import document_id_for
from apps.common.s3 import s3_client, sqs_client
from apps.common.settings import Settings
from schemas.topics import DOCUMENT_CHUNKED, DOCUMENT_EMBEDDED, DOCUMENT_INDEXED, DOCUMENT_READY, S3_EVENTS
from tests.support import committed_offsets, wait_until_complete, workflow_activities

pytestmark = pytest.mark.integration

DOCUMENTS = {
    "notes/penguins.txt": (
        "Emperor penguins breed during the Antarctic winter.\n\n"
        "The male emperor penguin incubates the single egg on his feet for about two months "
        "while the female feeds at sea."
    ),
    "guides/tansu broker.md": (
        "# Tansu\n\nTansu is a Kafka-compatible message broker written in Rust.\n\n"
        "## Storage\n\nTansu keeps topic data in memory, in S3, or in Postgres."
    ),
    "recipes/sourdough.txt": (
        "Sourdough bread rises with a starter of wild yeast and lactic acid bacteria.\n\n"
        "Feed the starter with equal weights of flour and water the evening before baking."
    ),
}
QUESTIONS = {
    "notes/penguins.txt": "Who incubates the egg of the emperor penguin?",
    "guides/tansu broker.md": "Which language is the Tansu broker written in?",
    "recipes/sourdough.txt": "How do I feed a sourdough starter?",
}
UPLOAD_ACTIVITIES = ["validate_s3_object", "register_document", "publish_document_ready", "finalize_document"]


@pytest.fixture
async def system(settings: Settings) -> AsyncIterator[System]:
    async with running_system(settings, ALL_COMPONENTS) as running:
        yield running


async def _ask(settings: Settings, question: str) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events of one answer, as (event name, data)."""
    events = []
    async with (
        httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client,
        aconnect_sse(client, "POST", "/v1/query", json={"query": question}) as source,
    ):
        assert source.response.status_code == 200
        assert source.response.headers["cache-control"] == "no-cache"
        assert source.response.headers["x-accel-buffering"] == "no"
        async for event in source.aiter_sse():
            events.append((event.event, json.loads(event.data)))
    return events


async def test_documents_put_in_s3_are_indexed_and_answered(settings: Settings, system: System) -> None:
    async with s3_client(settings) as s3:
        for key, text in DOCUMENTS.items():
            await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=text.encode())

    rows = await wait_until_complete(settings, list(DOCUMENTS))

    # Temporal: one UploadWorkflow per object, completed, with every activity and the signal.
    assert system.temporal is not None
    for row in rows:
        handle = system.temporal.get_workflow_handle(row["workflow_id"])
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
        history = await handle.fetch_history()
        assert workflow_activities(history) == UPLOAD_ACTIVITIES
        signals = [
            e.workflow_execution_signaled_event_attributes.signal_name
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        ]
        assert signals == ["indexing_finished"]

    # Kafka: every stage's consumer group committed past each document's messages.
    topic, group = settings.topic, settings.consumer_group
    assert await committed_offsets(settings, group("parse"), topic(DOCUMENT_READY)) == len(DOCUMENTS)
    assert await committed_offsets(settings, group("embed"), topic(DOCUMENT_CHUNKED)) == len(DOCUMENTS)
    assert await committed_offsets(settings, group("upsert"), topic(DOCUMENT_EMBEDDED)) == len(DOCUMENTS)
    assert await committed_offsets(settings, group("report-indexed"), topic(DOCUMENT_INDEXED)) == len(
        DOCUMENTS
    )

    # The vector store holds exactly the chunks the documents reported.
    assert system.store is not None
    assert await system.store.count(settings.qdrant_collection) == sum(r["chunk_count"] for r in rows)
    assert all(r["chunk_count"] >= 1 and r["indexed_at"] is not None for r in rows)

    # The intake consumed the S3 notifications from SQS.
    async with sqs_client(settings) as sqs:
        attributes = await sqs.get_queue_attributes(
            QueueUrl=settings.s3_events_sqs_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"

    for key, question in QUESTIONS.items():
        events = await _ask(settings, question)
        names = [name for name, _ in events]
        assert names[0] == "sources"
        assert names[-1] == "done"
        assert set(names[1:-1]) == {"token"}
        sources = events[0][1]["sources"]
        assert sources[0]["document_id"] == str(document_id_for(settings.s3_bucket, key)), (question, sources)
        answer = "".join(data["delta"] for name, data in events if name == "token")
        assert answer.strip()


async def test_s3_events_from_kafka_and_webhook_start_ingestion(settings: Settings, system: System) -> None:
    """MinIO publishes the S3 event JSON to `s3.events`; webhooks POST it to /v1/s3/events."""
    bucket = f"{settings.s3_bucket}-quiet"  # no SQS notifications: only the events we send
    async with s3_client(settings) as s3:
        await s3.create_bucket(Bucket=bucket)
        etags = {}
        for key in ("via kafka.txt", "via webhook.txt"):
            response = await s3.put_object(Bucket=bucket, Key=key, Body=f"This file arrived {key}.".encode())
            etags[key] = response["ETag"].strip('"')

    def notification(key: str) -> dict[str, Any]:
        return {
            "EventName": "s3:ObjectCreated:Put",
            "Key": f"{bucket}/{key}",
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": bucket},
                        "object": {"key": key.replace(" ", "+"), "size": 1, "eTag": etags[key]},
                    },
                }
            ],
        }

    assert system.broker is not None
    await system.broker.publish(notification("via kafka.txt"), settings.topic(S3_EVENTS))
    async with httpx.AsyncClient(base_url=settings.api_url) as client:
        response = await client.post("/v1/s3/events", json=notification("via webhook.txt"))
    assert response.status_code == 202, response.text
    assert response.json()["workflows"] == [f"upload:{bucket}/via webhook.txt@{etags['via webhook.txt']}"]

    await wait_until_complete(settings, list(etags), bucket=bucket)
