"""The S3-event intake: reads notifications from SQS (AWS's way), from the Kafka topic `s3.events`
(MinIO's way) and from a SeaweedFS filer's topic (its protobuf events, `RAGSTREAM_S3_EVENTS_FILER_TOPIC`),
and starts one `UploadWorkflow` per object version.

An SQS message is deleted only after its workflows started, so a crash redelivers it; the
workflow ids make that redelivery harmless. The messages of one receive start together and are
deleted in one call.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream.kafka import KafkaBroker, KafkaMessage
from temporalio.client import Client

from apps.common.filer_events import NotAFilerEvent, filer_changes, parse_filer_event
from apps.common.intake import start_uploads
from apps.common.kafka import consumer_options
from apps.common.s3_events import NotAnS3Event, object_changes, parse_notification
from apps.common.settings import Settings
from schemas.topics import S3_EVENTS

log = logging.getLogger(__name__)
_LONG_POLL_SECONDS = 5
_ERROR_BACKOFF_SECONDS = 2.0


async def handle_notification(body: str | bytes, *, temporal: Client, settings: Settings) -> int:
    """Start the workflows of one notification; returns how many object changes it held."""
    try:
        notification = parse_notification(body)
    except NotAnS3Event as exc:
        log.info("ignoring a message that is not an S3 event: %s", exc)
        return 0
    changes = object_changes(notification)
    await start_uploads(temporal, settings, changes)
    return len(changes)


async def poll_sqs(sqs: Any, queue_url: str, *, temporal: Client, settings: Settings) -> None:
    """Long-poll the queue until cancelled."""
    log.info("reading S3 events from SQS %s", queue_url)
    while True:
        try:
            response = await sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=_LONG_POLL_SECONDS
            )
            messages = response.get("Messages", [])
            if messages:
                await _handle_messages(sqs, queue_url, messages, temporal=temporal, settings=settings)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reading S3 events from SQS failed; retrying")
            await asyncio.sleep(_ERROR_BACKOFF_SECONDS)


async def _handle_messages(
    sqs: Any, queue_url: str, messages: list[dict[str, Any]], *, temporal: Client, settings: Settings
) -> None:
    """Start the messages' workflows together, then delete in one call the messages whose workflows
    started; the others come back after the queue's visibility timeout."""
    outcomes = await asyncio.gather(
        *(handle_notification(m["Body"], temporal=temporal, settings=settings) for m in messages),
        return_exceptions=True,
    )
    handled: list[dict[str, str]] = []
    for message, outcome in zip(messages, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            log.error(
                "starting the workflows of SQS message %s failed (it will be redelivered): %s: %s",
                message["MessageId"],
                type(outcome).__name__,
                outcome,
            )
        else:
            handled.append({"Id": str(len(handled)), "ReceiptHandle": message["ReceiptHandle"]})
    if handled:
        deleted = await sqs.delete_message_batch(QueueUrl=queue_url, Entries=handled)
        for failure in deleted.get("Failed", []):
            log.warning("deleting an SQS message failed (it will be redelivered): %s", failure)


def subscribe_s3_events(broker: KafkaBroker, *, temporal: Client, settings: Settings) -> None:
    """Consume `s3.events` (as MinIO publishes them) on `broker`."""

    @broker.subscriber(
        settings.topic(S3_EVENTS), group_id=settings.consumer_group("intake"), **consumer_options(settings)
    )
    async def on_s3_event(body: Any, message: KafkaMessage) -> None:
        await handle_notification(message.body, temporal=temporal, settings=settings)


async def handle_filer_event(
    key: bytes | None, value: bytes, timestamp_ms: int | None, *, temporal: Client, settings: Settings
) -> int:
    """Start the workflows of one SeaweedFS filer event; returns how many object changes it held."""
    try:
        event = parse_filer_event(value)
    except NotAFilerEvent as exc:
        log.info("ignoring a message that is not a SeaweedFS filer event: %s", exc)
        return 0
    path = key.decode(errors="replace") if key else ""
    changes = filer_changes(path, event, bucket=settings.s3_bucket, timestamp_ms=timestamp_ms)
    await start_uploads(temporal, settings, changes)
    return len(changes)


def subscribe_filer_events(broker: KafkaBroker, *, temporal: Client, settings: Settings) -> None:
    """Consume the SeaweedFS filer's topic (named in full, as its notification.toml names it) on `broker`."""

    @broker.subscriber(
        settings.s3_events_filer_topic,
        group_id=settings.consumer_group("intake-filer"),
        **consumer_options(settings),
    )
    async def on_filer_event(body: Any, message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple), "a single-message subscriber gets one record"
        await handle_filer_event(
            record.key, message.body, record.timestamp, temporal=temporal, settings=settings
        )
