"""Kafka: the FastStream broker every deployable uses, topic creation, and keyed publishing.

Delivery is at least once: subscribers commit only after their handler succeeded
(`AckPolicy.NACK_ON_ERROR`; FastStream's default commits first). Producers wait for all
replicas (`acks="all"`); the idempotent producer is a setting because the embedded broker
rejects aiokafka's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from opentelemetry.trace import SpanKind
from pydantic import BaseModel

from apps.common.kafka_security import broker_security, client_security
from apps.common.settings import Settings
from apps.common.tracing import inject, tracer
from schemas.events import DocumentRef
from schemas.topics import DOCUMENT_READY, TOPIC_MODELS, dlq_topic

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def make_broker(settings: Settings, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        max_request_size=MAX_MESSAGE_BYTES,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        logger=logging.getLogger(f"ragstream.kafka.{client_id}"),
        **broker_security(settings),
    )


def consumer_options(settings: Settings) -> dict[str, Any]:
    """Subscriber settings: read from the beginning of a new group's topics, commit after the work."""
    return {
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.kafka_session_timeout_ms,
        "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
        "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
        "ack_policy": AckPolicy.NACK_ON_ERROR,
    }


def message_key(event: BaseModel) -> bytes | None:
    """Events about a document are keyed by its id, so one document's events stay in order."""
    return str(event.document_id).encode() if isinstance(event, DocumentRef) else None


async def publish_event(
    broker: KafkaBroker, topic: str, event: BaseModel, *, headers: dict[str, str] | None = None
) -> None:
    """Publish `event`, keyed by its document, carrying the current trace in its headers."""
    with tracer.start_as_current_span(f"publish {topic}", kind=SpanKind.PRODUCER) as span:
        span.set_attribute("messaging.destination.name", topic)
        await broker.publish(event, topic, key=message_key(event), headers=inject(dict(headers or {})))


@contextlib.asynccontextmanager
async def admin_client(
    settings: Settings, *, request_timeout_ms: int = 10_000
) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client of the configured cluster, started, and closed when the block ends."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=request_timeout_ms,
        **client_security(settings),
    )
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


def topic_names(settings: Settings) -> list[str]:
    names = [settings.topic(name) for name in TOPIC_MODELS]
    return names + [dlq_topic(name) for name in names]


async def ensure_topics(settings: Settings) -> None:
    """Create the pipeline's topics (and their dead-letter topics) with the configured partitions, and
    the SeaweedFS filer's topic the intake reads, if one is set (a broker may not create topics itself)."""
    compacted = settings.topic(DOCUMENT_READY)
    filer = [settings.s3_events_filer_topic] if settings.s3_events_filer_topic else []
    topics = [
        NewTopic(
            name,
            num_partitions=settings.kafka_partitions,
            replication_factor=settings.kafka_replication_factor,
            topic_configs={"cleanup.policy": "compact"} if name == compacted else {},
        )
        for name in [*topic_names(settings), *filer]
    ]
    async with admin_client(settings) as admin:
        created = await create_missing_topics(admin, topics)
    if created:
        log.info("created topics %s", ", ".join(t.name for t in created))


async def create_missing_topics(admin: AIOKafkaAdminClient, topics: Sequence[NewTopic]) -> list[NewTopic]:
    """Create those of `topics` the cluster lacks; returns them."""
    existing = set(await admin.list_topics())
    missing = [topic for topic in topics if topic.name not in existing]
    if missing:
        response = await admin.create_topics(missing)
        for topic, code, *_ in response.topic_errors:
            if code not in (0, 36):  # 36: created meanwhile by another process
                raise RuntimeError(f"could not create Kafka topic {topic}: error code {code}")
    return missing
