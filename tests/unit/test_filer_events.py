"""Unit tests of `apps.common.filer_events`: SeaweedFS filer events (protobuf, from Kafka) -> object changes.

The recorded events are what a SeaweedFS 4.48 filer published for S3 puts (fixtures/); the others are
built with the same message classes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from apps.common.filer_events import NotAFilerEvent, filer_changes, object_key, parse_filer_event
from apps.common.filer_pb import Entry, EventNotification
from apps.common.intake import workflow_id_for
from schemas.s3_events import S3ObjectChange

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "seaweedfs_filer_events.json").read_text())


def recorded(name: str, bucket: str = "docs") -> list[S3ObjectChange]:
    record = RECORDED[name]
    event = parse_filer_event(bytes.fromhex(record["value"]))
    return filer_changes(record["key"], event, bucket=bucket, timestamp_ms=record["timestamp_ms"])


def entry(name: str, body: bytes | None = b"content", *, mtime: int = 1_796_665_127, **extended: str) -> Any:
    """An entry as the S3 gateway writes it (md5 and, unless told otherwise, the ETag in `extended`)."""
    value = Entry(name=name, is_directory=body is None)
    value.attributes.mtime = mtime
    if body is not None:
        value.attributes.file_size = len(body)
        value.attributes.md5 = hashlib.md5(body).digest()
    for key, text in extended.items():
        value.extended[key.replace("_", "-")] = text.encode()
    return value


def built(
    path: str, *, old: Any = None, new: Any = None, new_parent: str = "", timestamp_ms: int | None = None
) -> list[S3ObjectChange]:
    event = EventNotification(new_parent_path=new_parent)
    if old is not None:
        event.old_entry.CopyFrom(old)
    if new is not None:
        event.new_entry.CopyFrom(new)
    decoded = parse_filer_event(event.SerializeToString())
    return filer_changes(path, decoded, bucket="docs", timestamp_ms=timestamp_ms)


def test_a_recorded_put_is_a_creation_with_the_s3_etag_and_the_send_time() -> None:
    [change] = recorded("create")
    assert (change.bucket, change.key, change.kind, change.size) == ("docs", "notes/a b ü.txt", "created", 11)
    assert change.etag == hashlib.md5(b"hello world").hexdigest()  # what S3's HEAD returns, unquoted
    assert change.event_name == "seaweedfs:Create"
    assert change.event_time == datetime.fromtimestamp(RECORDED["create"]["timestamp_ms"] / 1000, UTC)
    assert workflow_id_for(change).startswith(f"upload:docs/notes/a b ü.txt@{change.etag}#t:")


def test_a_recorded_overwrite_is_a_creation_of_the_new_content() -> None:
    [change] = recorded("overwrite")
    assert (change.kind, change.key, change.size) == ("created", "notes/a b ü.txt", 14)
    assert change.etag == hashlib.md5(b"second version").hexdigest()
    assert change.event_name == "seaweedfs:Update"


def test_a_recorded_delete_is_a_removal() -> None:
    [change] = recorded("delete")
    assert (change.kind, change.key) == ("removed", "notes/a b ü.txt")
    assert change.version.startswith("deleted:")


def test_an_empty_object_has_size_zero_and_the_empty_md5() -> None:
    [change] = recorded("empty_file")
    assert (change.key, change.size, change.etag) == ("empty.txt", 0, hashlib.md5(b"").hexdigest())


def test_a_multipart_upload_has_the_multipart_etag() -> None:
    [change] = recorded("multipart")
    assert (change.key, change.size) == ("big.bin", 5 * 1024 * 1024 + 10)
    assert change.etag == "8b0be7847da5564ae08e97af63b60885-2"


@pytest.mark.parametrize("name", ["multipart_part", "folder", "bucket", "system", "other_bucket"])
def test_internal_entries_directories_and_other_buckets_are_skipped(name: str) -> None:
    assert recorded(name) == []


def test_another_bucket_is_read_when_it_is_the_configured_one() -> None:
    [change] = recorded("other_bucket", bucket="other")
    assert (change.bucket, change.key) == ("other", "x.txt")


def test_a_nested_key_with_spaces_and_unicode_is_kept_as_it_is() -> None:
    key = "tenants/acme/Ré sumé + notes/2026 Q1 100%.md"
    [change] = built(
        f"/buckets/docs/{key}",
        new=entry(key.rpartition("/")[2]),
        new_parent=f"/buckets/docs/{key.rpartition('/')[0]}",
    )
    assert change.key == key
    assert change.filename == "2026 Q1 100%.md"


def test_the_md5_names_the_content_when_the_s3_etag_is_absent() -> None:
    [change] = built(
        "/buckets/docs/a.txt", new=entry("a.txt", b"written through the filer"), new_parent="/buckets/docs"
    )
    assert change.etag == hashlib.md5(b"written through the filer").hexdigest()


def test_the_s3_etag_wins_over_the_md5() -> None:
    new = entry("a.txt", b"abc", Seaweed_X_Amz_ETag='"0123456789abcdef0123456789abcdef-3"')
    [change] = built("/buckets/docs/a.txt", new=new, new_parent="/buckets/docs")
    assert change.etag == "0123456789abcdef0123456789abcdef-3"


def test_a_rename_removes_the_old_key_and_creates_the_new_one() -> None:
    old, new = entry("draft.txt", b"text"), entry("final.txt", b"text")
    removed, created = built(
        "/buckets/docs/drafts/draft.txt", old=old, new=new, new_parent="/buckets/docs/done"
    )
    assert (removed.kind, removed.key, removed.event_name) == (
        "removed",
        "drafts/draft.txt",
        "seaweedfs:Rename",
    )
    assert (created.kind, created.key, created.etag) == (
        "created",
        "done/final.txt",
        hashlib.md5(b"text").hexdigest(),
    )


def test_a_move_out_of_the_bucket_is_only_a_removal() -> None:
    [change] = built(
        "/buckets/docs/a.txt", old=entry("a.txt"), new=entry("a.txt"), new_parent="/buckets/archive"
    )
    assert (change.kind, change.key) == ("removed", "a.txt")


def test_an_older_event_without_a_parent_path_stays_in_the_key_folder() -> None:
    [change] = built("/buckets/docs/x/a.txt", old=entry("a.txt", b"1"), new=entry("a.txt", b"2"))
    assert (change.kind, change.key) == ("created", "x/a.txt")


def test_a_removed_directory_is_skipped() -> None:
    assert built("/buckets/docs/folder", old=entry("folder", None)) == []


def test_versioned_buckets_internal_folders_are_skipped() -> None:
    path = "/buckets/docs/report.pdf.versions/v_0123"
    assert built(path, new=entry("v_0123"), new_parent="/buckets/docs/report.pdf.versions") == []


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/buckets/docs/a.txt", "a.txt"),
        ("/buckets/docs/a/b/c.txt", "a/b/c.txt"),
        ("/buckets/docs/", None),
        ("/buckets/docs", None),
        ("/buckets/docsx/a.txt", None),
        ("/buckets/.system/owners/x/docs", None),
        ("/buckets/docs/.uploads/u1/0001.part", None),
        ("/elsewhere/docs/a.txt", None),
    ],
)
def test_object_key(path: str, key: str | None) -> None:
    assert object_key(path, "docs") == key


def test_the_same_bytes_again_after_other_content_are_a_change_of_their_own() -> None:
    """A, B, A within one second: the record timestamps (ms) tell the two A's apart."""
    a1, b, a2 = (
        built("/buckets/docs/k.txt", new=entry("k.txt", body), new_parent="/buckets/docs", timestamp_ms=ms)
        for body, ms in ((b"A", 1_796_665_127_100), (b"B", 1_796_665_127_200), (b"A", 1_796_665_127_300))
    )
    ids = [workflow_id_for(change) for [change] in (a1, b, a2)]
    assert len(set(ids)) == 3
    assert a1[0].order < b[0].order < a2[0].order  # type: ignore[operator]


def test_a_redelivered_record_keeps_its_workflow_id() -> None:
    once, again = recorded("create"), recorded("create")
    assert [workflow_id_for(c) for c in once] == [workflow_id_for(c) for c in again]


def test_without_a_record_timestamp_the_mtime_orders_at_the_end_of_its_second() -> None:
    [change] = built(
        "/buckets/docs/a.txt", new=entry("a.txt", mtime=1_796_665_127), new_parent="/buckets/docs"
    )
    assert change.event_time == datetime(2026, 12, 7, 17, 38, 47, 999_999, UTC)
    precise = entry("a.txt")
    precise.attributes.mtime_ns = 250_000_000
    [change] = built("/buckets/docs/a.txt", new=precise, new_parent="/buckets/docs")
    assert change.event_time == datetime(2026, 12, 7, 17, 38, 47, 250_000, UTC)


@pytest.mark.parametrize("value", [b"", b"\xff\xff\xff", json.dumps({"Records": []}).encode()])
def test_what_is_not_a_filer_event_is_refused(value: bytes) -> None:
    with pytest.raises(NotAFilerEvent):
        parse_filer_event(value)
