"""Normalises S3 event notifications, from SQS, Kafka or a webhook, into object changes."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

from pydantic import ValidationError

from schemas.s3_events import S3EventNotification, S3ObjectChange

_CREATED = "ObjectCreated:"
_REMOVED = "ObjectRemoved:"


class NotAnS3Event(ValueError):
    """The message is not an S3 event notification (for example S3's `s3:TestEvent`)."""


def parse_notification(body: str | bytes) -> S3EventNotification:
    """Parse one notification body; raises `NotAnS3Event` for anything else."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotAnS3Event(f"not JSON: {exc}") from exc
    if isinstance(data, dict) and data.get("Event") == "s3:TestEvent":
        raise NotAnS3Event("S3 test event")
    # SNS-wrapped notifications carry the S3 JSON as a string in "Message".
    if isinstance(data, dict) and "Records" not in data and isinstance(data.get("Message"), str):
        return parse_notification(data["Message"])
    try:
        return S3EventNotification.model_validate(data)
    except ValidationError as exc:
        raise NotAnS3Event(f"not an S3 event notification: {exc.errors()[0]['msg']}") from exc


def object_changes(notification: S3EventNotification) -> list[S3ObjectChange]:
    """The created/removed object versions a notification reports, keys decoded, in order."""
    changes = []
    for record in notification.records:
        # MinIO names events `s3:ObjectCreated:Put`; AWS, `ObjectCreated:Put`.
        event_name = record.event_name.removeprefix("s3:")
        if event_name.startswith(_CREATED):
            kind = "created"
        elif event_name.startswith(_REMOVED):
            kind = "removed"
        else:
            continue
        obj = record.s3.object
        changes.append(
            S3ObjectChange(
                bucket=record.s3.bucket.name,
                key=unquote_plus(obj.key),
                kind=kind,
                event_name=event_name,
                size=obj.size,
                etag=obj.e_tag.strip('"') if obj.e_tag else None,
                version_id=obj.version_id if obj.version_id not in (None, "", "null") else None,
                sequencer=obj.sequencer,
                event_time=record.event_time,
            )
        )
    return changes
