"""Unit tests of `apps.common.s3_events`: AWS S3 event notification JSON -> object changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.common.intake import workflow_id_for
from apps.common.s3_events import NotAnS3Event, object_changes, parse_notification
from schemas.s3_events import S3ObjectChange


def record(
    event_name: str = "ObjectCreated:Put",
    *,
    key: str = "docs/penguins.txt",
    bucket: str = "ragstream-docs",
    size: int | None = 1024,
    etag: str | None = "d41d8cd98f00b204e9800998ecf8427e",
    version_id: str | None = None,
    sequencer: str = "0062E99A88DC407460",
    event_time: str = "2024-05-01T12:34:56.789Z",
) -> dict[str, Any]:
    """One record exactly as S3 (and moto) sends it."""
    obj: dict[str, Any] = {"key": key, "sequencer": sequencer}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag
    if version_id is not None:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": event_time,
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "ragstream-events",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def notification(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records)})


def changes_of(body: str | bytes) -> list[S3ObjectChange]:
    return object_changes(parse_notification(body))


def test_object_created_put() -> None:
    [change] = changes_of(notification(record()))
    assert change == S3ObjectChange(
        bucket="ragstream-docs",
        key="docs/penguins.txt",
        kind="created",
        event_name="ObjectCreated:Put",
        size=1024,
        etag="d41d8cd98f00b204e9800998ecf8427e",
        version_id=None,
        sequencer="0062E99A88DC407460",
        event_time=datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=UTC),
    )


def test_body_may_be_bytes() -> None:
    [change] = changes_of(notification(record()).encode())
    assert change.key == "docs/penguins.txt"


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("docs/my+report+2024.pdf", "docs/my report 2024.pdf"),
        ("docs%2Fpenguins.txt", "docs/penguins.txt"),
        ("a%2Fb%2Fc+d.md", "a/b/c d.md"),
        ("c%2B%2B+notes.txt", "c++ notes.txt"),
        ("caf%C3%A9%2F%E4%BC%81%E9%B9%85.txt", "café/企鹅.txt"),
        ("100%25+sure.txt", "100% sure.txt"),
        ("plain.txt", "plain.txt"),
    ],
)
def test_keys_are_url_decoded(encoded: str, decoded: str) -> None:
    [change] = changes_of(notification(record(key=encoded)))
    assert change.key == decoded


@pytest.mark.parametrize(
    ("event_name", "kind"),
    [
        ("ObjectCreated:Put", "created"),
        ("ObjectCreated:Post", "created"),
        ("ObjectCreated:Copy", "created"),
        ("ObjectCreated:CompleteMultipartUpload", "created"),
        ("ObjectRemoved:Delete", "removed"),
        ("ObjectRemoved:DeleteMarkerCreated", "removed"),
    ],
)
def test_event_kinds(event_name: str, kind: str) -> None:
    [change] = changes_of(notification(record(event_name)))
    assert change.kind == kind
    assert change.event_name == event_name


@pytest.mark.parametrize(
    "event_name",
    [
        "ObjectRestore:Post",
        "ObjectTagging:Put",
        "Replication:OperationFailedReplication",
        "LifecycleExpiration",
    ],
)
def test_other_events_are_ignored(event_name: str) -> None:
    assert changes_of(notification(record(event_name))) == []


def test_removed_objects_have_no_size_or_etag() -> None:
    body = notification(
        record("ObjectRemoved:DeleteMarkerCreated", size=None, etag=None, version_id="3HL4kqtJlcpXroDTDmJ")
    )
    [change] = changes_of(body)
    assert change.kind == "removed"
    assert change.size is None
    assert change.etag is None
    assert change.version_id == "3HL4kqtJlcpXroDTDmJ"
    assert change.version == "deleted:3HL4kqtJlcpXroDTDmJ"


@pytest.mark.parametrize(
    "etag",
    ['"9b2cf535f27731c974343645a3985328"', "9b2cf535f27731c974343645a3985328"],
    ids=["quoted", "unquoted"],
)
def test_etag_quotes_are_removed(etag: str) -> None:
    [change] = changes_of(notification(record(etag=etag)))
    assert change.etag == "9b2cf535f27731c974343645a3985328"


def test_multipart_etag_keeps_its_part_count() -> None:
    [change] = changes_of(notification(record("ObjectCreated:CompleteMultipartUpload", etag='"abc123-3"')))
    assert change.etag == "abc123-3"


@pytest.mark.parametrize("version_id", ["null", "", None])
def test_unversioned_objects_have_no_version_id(version_id: str | None) -> None:
    [change] = changes_of(notification(record(version_id=version_id, etag='"e1"')))
    assert change.version_id is None
    assert change.version == "e1"


def test_multiple_records_keep_their_order() -> None:
    body = notification(
        record(key="a.txt", sequencer="01"),
        record("ObjectTagging:Put", key="ignored.txt"),
        record("ObjectRemoved:Delete", key="b+c.md", sequencer="02", size=None, etag=None),
        record("ObjectCreated:CompleteMultipartUpload", key="d%2Fe.pdf", bucket="other", sequencer="03"),
    )
    changes = changes_of(body)
    assert [(c.bucket, c.key, c.kind, c.sequencer) for c in changes] == [
        ("ragstream-docs", "a.txt", "created", "01"),
        ("ragstream-docs", "b c.md", "removed", "02"),
        ("other", "d/e.pdf", "created", "03"),
    ]


def test_s3_test_event_is_not_an_event() -> None:
    body = json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2024-05-01T12:00:00.000Z",
            "Bucket": "ragstream-docs",
            "RequestId": "5582815E1AEA5ADF",
            "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
        }
    )
    with pytest.raises(NotAnS3Event, match="test event"):
        parse_notification(body)


def test_sns_wrapped_notification() -> None:
    inner = notification(record(key="wrapped+file.txt"))
    body = json.dumps(
        {
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:s3-events",
            "Subject": "Amazon S3 Notification",
            "Message": inner,
            "Timestamp": "2024-05-01T12:34:57.000Z",
        }
    )
    [change] = changes_of(body)
    assert change.key == "wrapped file.txt"
    assert change.kind == "created"


def test_sns_wrapped_test_event_is_not_an_event() -> None:
    body = json.dumps({"Type": "Notification", "Message": json.dumps({"Event": "s3:TestEvent"})})
    with pytest.raises(NotAnS3Event):
        parse_notification(body)


@pytest.mark.parametrize(
    "body",
    ["", "not json", "{", b"\xff\xfe\x00garbage", '{"Records": [}'],
    ids=["empty", "text", "truncated", "binary", "broken"],
)
def test_invalid_json_is_not_an_event(body: str | bytes) -> None:
    with pytest.raises(NotAnS3Event, match="not JSON"):
        parse_notification(body)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"hello": "world"},
        {"Records": []},
        {"Records": [{"eventName": "ObjectCreated:Put"}]},
        {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {}}}]},
        {
            "Records": [
                {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": ""}}}
            ]
        },
        [],
        "Records",
        42,
        None,
    ],
)
def test_json_that_is_not_a_notification(data: Any) -> None:
    with pytest.raises(NotAnS3Event, match="not an S3 event notification"):
        parse_notification(json.dumps(data))


def test_not_an_s3_event_is_a_value_error() -> None:
    assert issubclass(NotAnS3Event, ValueError)


def change(**overrides: Any) -> S3ObjectChange:
    values: dict[str, Any] = {"bucket": "b", "key": "k", "kind": "created", "event_name": "ObjectCreated:Put"}
    return S3ObjectChange(**(values | overrides))


def test_version_prefers_version_id_then_etag_then_sequencer() -> None:
    assert change(version_id="v1", etag="e1", sequencer="s1").version == "v1"
    assert change(etag="e1", sequencer="s1").version == "e1"
    assert change(sequencer="s1").version == "s1"
    assert change().version == "unversioned"
    assert change(version_id="", etag="", sequencer="s1").version == "s1"


def test_a_removal_is_a_version_of_its_own() -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    removed = {"kind": "removed", "event_name": "ObjectRemoved:Delete"}
    assert change(**removed, version_id="v1", etag="e1", sequencer="s1").version == "deleted:v1"
    assert change(**removed, etag="e1", sequencer="s1", event_time=when).version == "deleted:s1"
    assert change(**removed, etag="e1", event_time=when).version == f"deleted:{when.isoformat()}"
    assert change(**removed, etag="e1").version == "deleted:e1"
    assert change(**removed).version == "deleted:unversioned"
    # Never the same version as the creation it undoes.
    created = change(version_id="v1")
    assert change(**removed, version_id="v1").version != created.version


def test_a_changes_order_is_its_sequencer_else_its_time() -> None:
    when = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert change(sequencer="0055aed6dcd90281e5", event_time=when).order == "s:0055AED6DCD90281E5"
    assert change(event_time=when).order == f"t:{int(when.timestamp() * 1_000_000):016X}"
    later = change(event_time=when + timedelta(milliseconds=1)).order
    assert later is not None
    assert later > str(change(event_time=when).order)  # fixed width: ordered as strings
    assert change().order is None


def test_the_same_bytes_put_again_are_a_change_of_their_own() -> None:
    """A, then B, then A again under one unversioned key: three workflows; one event delivered twice:
    one."""
    first = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    a1 = change(etag="aaa", event_time=first)
    b = change(etag="bbb", event_time=first + timedelta(seconds=1))
    a2 = change(etag="aaa", event_time=first + timedelta(seconds=2))
    ids = [workflow_id_for(c) for c in (a1, b, a2)]
    assert len(set(ids)) == 3
    assert workflow_id_for(a1.model_copy()) == ids[0]
    # A versioned bucket names each upload already.
    assert workflow_id_for(change(etag="aaa", version_id="v1", event_time=first)) == "upload:b/k@v1"


def test_minio_notifications_name_events_with_an_s3_prefix() -> None:
    """MinIO publishes `s3:ObjectCreated:Put` (with `EventName` and `Key` beside the records)."""
    body = {
        "EventName": "s3:ObjectCreated:Put",
        "Key": "ragstream/reports/q3 summary.pdf",
        "Records": [
            {
                "eventVersion": "2.0",
                "eventSource": "minio:s3",
                "eventName": "s3:ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "ragstream"},
                    "object": {
                        "key": "reports%2Fq3+summary.pdf",
                        "size": 12,
                        "eTag": "abc",
                        "sequencer": "17",
                    },
                },
            },
            {
                "eventName": "s3:ObjectRemoved:Delete",
                "s3": {"bucket": {"name": "ragstream"}, "object": {"key": "old.txt", "sequencer": "18"}},
            },
        ],
    }
    changes = object_changes(parse_notification(json.dumps(body)))
    assert [(c.kind, c.key, c.event_name) for c in changes] == [
        ("created", "reports/q3 summary.pdf", "ObjectCreated:Put"),
        ("removed", "old.txt", "ObjectRemoved:Delete"),
    ]
