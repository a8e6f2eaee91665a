"""Normalises SeaweedFS filer events (the protobuf `EventNotification` its filer publishes to Kafka,
keyed by the entry's path) into the object changes of one bucket.

An event carries the old entry (a removal), the new one (a creation), or both: an overwrite when the
path stays (a creation of the new content), a rename when it moves (a removal and a creation).
Directories, the filer's `/buckets/.system/`, multipart parts under `.uploads/`, versioned buckets'
`<key>.versions/` folders and other buckets are skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from google.protobuf.message import DecodeError

from apps.common.filer_pb import EventNotification
from schemas.s3_events import S3ObjectChange

BUCKETS_DIR = "/buckets"
# What SeaweedFS's S3 gateway returns as the object's ETag (s3_constants.ExtETagKey): a multipart
# upload's `<md5 of the parts' md5s>-<parts>` too. Entries written without the gateway have only md5.
_ETAG_KEY = "Seaweed-X-Amz-ETag"
_INTERNAL_FOLDERS = (".uploads",)  # s3_constants.MultipartUploadsFolder
_VERSIONS_SUFFIX = ".versions"  # s3_constants.VersionsFolder


class NotAFilerEvent(ValueError):
    """The message is not a SeaweedFS filer `EventNotification`."""


def parse_filer_event(value: bytes) -> Any:
    """Decode one message's value; raises `NotAFilerEvent` when it is not one."""
    try:
        event = EventNotification.FromString(value)
    except DecodeError as exc:
        raise NotAFilerEvent(f"not a protobuf EventNotification: {exc}") from exc
    if not event.HasField("old_entry") and not event.HasField("new_entry"):
        raise NotAFilerEvent("an EventNotification without an entry")
    return event


def filer_changes(
    path: str, event: Any, *, bucket: str, timestamp_ms: int | None = None
) -> list[S3ObjectChange]:
    """The changes of `bucket`'s objects that one event (keyed by `path`) reports, in order.

    `timestamp_ms` is the Kafka record's timestamp, set when the filer sent the event: the entry's
    mtime has whole seconds only, so without it two puts within one second (A, B, A) would share an
    order. A redelivery of the record keeps its timestamp, and so its workflow id.
    """
    old = event.old_entry if event.HasField("old_entry") else None
    new = event.new_entry if event.HasField("new_entry") else None
    new_path = f"{event.new_parent_path or _parent(path)}/{new.name}" if new is not None else None
    changes: list[S3ObjectChange] = []
    if old is not None and (new is None or new_path != path):
        event_name = "seaweedfs:Delete" if new is None else "seaweedfs:Rename"
        changes += _change(path, old, "removed", event_name, bucket=bucket, timestamp_ms=timestamp_ms)
    if new is not None and new_path is not None:
        event_name = "seaweedfs:Create" if old is None else "seaweedfs:Update"
        changes += _change(new_path, new, "created", event_name, bucket=bucket, timestamp_ms=timestamp_ms)
    return changes


def _change(
    path: str,
    entry: Any,
    kind: Literal["created", "removed"],
    event_name: str,
    *,
    bucket: str,
    timestamp_ms: int | None,
) -> list[S3ObjectChange]:
    key = object_key(path, bucket)
    if key is None or entry.is_directory:
        return []
    attributes = entry.attributes
    return [
        S3ObjectChange(
            bucket=bucket,
            key=key,
            kind=kind,
            event_name=event_name,
            size=attributes.file_size,
            etag=_etag(entry),
            event_time=_event_time(attributes, timestamp_ms),
        )
    ]


def object_key(path: str, bucket: str) -> str | None:
    """The key of the object at filer path `path` when it is an object of `bucket`, else None."""
    prefix = f"{BUCKETS_DIR}/{bucket}/"
    if not path.startswith(prefix) or path == prefix:
        return None
    key = path.removeprefix(prefix)
    segments = key.split("/")
    if segments[0] in _INTERNAL_FOLDERS or any(s.endswith(_VERSIONS_SUFFIX) for s in segments[:-1]):
        return None
    return key


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _etag(entry: Any) -> str | None:
    etag = entry.extended.get(_ETAG_KEY)
    if etag:
        return str(etag.decode().strip('"'))
    md5 = entry.attributes.md5
    return str(md5.hex()) if md5 else None


def _event_time(attributes: Any, timestamp_ms: int | None) -> datetime | None:
    if timestamp_ms is not None and timestamp_ms > 0:
        return datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    if not attributes.mtime:
        return None
    moment = datetime.fromtimestamp(attributes.mtime, UTC)
    # Whole seconds sit at the second's end, as the reconciler's listing times do.
    nanos = attributes.mtime_ns or 999_999_000
    return moment + timedelta(microseconds=nanos // 1000)
