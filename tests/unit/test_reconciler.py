"""The reconciler on fakes: what a listing compared with the documents table starts, what it leaves
alone, how fast it starts, and how it reads S3's paginated listings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apps.common.intake import workflow_id_for
from apps.common.s3_events import object_changes, parse_notification
from apps.ingest_workflows.reconciler import (
    KnownDocument,
    ListedObject,
    ListedPage,
    Pacer,
    Reconciler,
    list_bucket,
)
from schemas.s3_events import S3ObjectChange

BUCKET = "docs"
NOW = datetime(2026, 12, 8, 12, 0, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=1)


def listed(key: str, etag: str = "e1", *, version_id: str | None = None) -> ListedObject:
    return ListedObject(key=key, etag=etag, version_id=version_id, size=10, last_modified=EARLIER)


def row(
    key: str, version: str = "e1", status: str = "complete", *, updated_at: datetime = EARLIER
) -> KnownDocument:
    return KnownDocument(key=key, version=version, status=status, updated_at=updated_at)  # type: ignore[arg-type]


class FakeClock:
    """Monotonic time that only a sleep advances."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Fakes:
    pages: list[ListedPage]
    rows: list[KnownDocument] = field(default_factory=list)
    lookups: list[tuple[str | None, str | None]] = field(default_factory=list)
    started: list[S3ObjectChange] = field(default_factory=list)
    start_times: list[float] = field(default_factory=list)
    clock: FakeClock = field(default_factory=FakeClock)

    async def listing(self) -> AsyncIterator[ListedPage]:
        for page in self.pages:
            yield page

    async def lookup(self, bucket: str, after: str | None, through: str | None) -> list[KnownDocument]:
        assert bucket == BUCKET
        self.lookups.append((after, through))
        return [
            r for r in self.rows if (after is None or r.key > after) and (through is None or r.key <= through)
        ]

    async def start(self, change: S3ObjectChange) -> None:
        self.started.append(change)
        self.start_times.append(self.clock.now)

    def reconciler(self, per_second: float = 1000.0) -> Reconciler:
        return Reconciler(
            BUCKET,
            listing=self.listing,
            lookup=self.lookup,
            start=self.start,
            pacer=Pacer(per_second, clock=self.clock, sleep=self.clock.sleep),
            now=lambda: NOW,
        )


def one_page(*objects: ListedObject) -> list[ListedPage]:
    return [ListedPage(objects=list(objects), through=None)]


async def test_a_new_object_is_started_once_as_its_event_would_start_it() -> None:
    fakes = Fakes(one_page(listed("a/new.txt", "abc")))
    report = await fakes.reconciler().reconcile()
    [change] = fakes.started
    assert (change.bucket, change.key, change.kind, change.version) == (BUCKET, "a/new.txt", "created", "abc")
    assert report.listed == 1
    assert report.created == 1
    assert report.removed == 0
    # A second pass (its workflow registered the version meanwhile) starts nothing.
    fakes.rows = [row("a/new.txt", "abc", "indexing")]
    await fakes.reconciler().reconcile()
    assert len(fakes.started) == 1


async def test_registered_versions_are_left_alone_failed_ones_too() -> None:
    fakes = Fakes(
        one_page(listed("done.txt"), listed("busy.txt"), listed("bad.txt")),
        rows=[row("done.txt"), row("busy.txt", status="indexing"), row("bad.txt", status="failed")],
    )
    report = await fakes.reconciler().reconcile()
    assert fakes.started == []
    assert report.skipped == {"registered": 2, "failed": 1}


async def test_a_changed_object_is_started() -> None:
    fakes = Fakes(one_page(listed("doc.txt", "new-etag")), rows=[row("doc.txt", "old-etag")])
    await fakes.reconciler().reconcile()
    assert [(c.key, c.kind, c.version) for c in fakes.started] == [("doc.txt", "created", "new-etag")]


async def test_a_recreated_object_is_started() -> None:
    fakes = Fakes(one_page(listed("doc.txt")), rows=[row("doc.txt", "deleted:x", "deleted")])
    await fakes.reconciler().reconcile()
    assert [(c.key, c.kind) for c in fakes.started] == [("doc.txt", "created")]


async def test_a_row_changed_since_the_listing_is_left_to_the_next_pass() -> None:
    fakes = Fakes(
        one_page(listed("doc.txt", "listed-etag")),
        rows=[row("doc.txt", "newer-etag", "indexing", updated_at=NOW + timedelta(seconds=1))],
    )
    report = await fakes.reconciler().reconcile()
    assert fakes.started == []
    assert report.skipped == {"changing": 1}


async def test_a_document_whose_object_is_gone_is_removed() -> None:
    fakes = Fakes(
        one_page(listed("kept.txt")),
        rows=[
            row("kept.txt"),
            row("gone.txt"),
            row("failed-gone.txt", status="failed"),
            row("long-gone.txt", "deleted:t", "deleted"),
            row("being-removed.txt", "deleted:t", "indexing"),
        ],
    )
    report = await fakes.reconciler().reconcile()
    assert sorted((c.key, c.kind) for c in fakes.started) == [
        ("failed-gone.txt", "removed"),
        ("gone.txt", "removed"),
    ]
    assert report.removed == 2
    assert report.skipped == {"registered": 1, "removing": 1}
    removal = fakes.started[0]
    assert removal.event_time == NOW
    assert removal.version == f"deleted:{NOW.isoformat()}"


async def test_a_versioned_removal_has_the_workflow_id_of_its_event() -> None:
    page = ListedPage(objects=[], through=None, delete_markers={"gone.txt": "marker-1"})
    fakes = Fakes([page], rows=[row("gone.txt", "v0")])
    await fakes.reconciler().reconcile()
    [removal] = fakes.started
    event = {
        "Records": [
            {
                "eventName": "ObjectRemoved:DeleteMarkerCreated",
                "eventTime": "2026-12-08T11:59:00.000Z",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": "gone.txt", "versionId": "marker-1"}},
            }
        ]
    }
    [from_event] = object_changes(parse_notification(str(event).replace("'", '"')))
    assert workflow_id_for(removal) == workflow_id_for(from_event)


async def test_the_change_has_the_version_its_event_would_have() -> None:
    record = {
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-12-08T11:00:00.250Z",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "a%2Fb+c.txt", "eTag": "abc-2", "size": 10}},
    }
    [from_event] = object_changes(parse_notification(str({"Records": [record]}).replace("'", '"')))
    fakes = Fakes(one_page(listed("a/b c.txt", "abc-2")))
    await fakes.reconciler().reconcile()
    [change] = fakes.started
    assert (change.key, change.version) == (from_event.key, from_event.version)
    # A listing's LastModified has whole seconds: the change sits at the end of its second, so that an
    # older event of the same second does not look newer.
    assert change.event_time == EARLIER + timedelta(microseconds=999_999)


async def test_pages_are_looked_up_once_each_over_their_key_range() -> None:
    pages = [
        ListedPage(objects=[listed("a.txt"), listed("c.txt")], through="c.txt"),
        ListedPage(objects=[listed("e.txt")], through="e.txt"),
        ListedPage(objects=[listed("g.txt")], through=None),
    ]
    fakes = Fakes(pages, rows=[row("a.txt"), row("b.txt"), row("d.txt"), row("g.txt"), row("z.txt")])
    report = await fakes.reconciler().reconcile()
    assert fakes.lookups == [(None, "c.txt"), ("c.txt", "e.txt"), ("e.txt", None)]
    assert sorted((c.key, c.kind) for c in fakes.started) == [
        ("b.txt", "removed"),
        ("c.txt", "created"),
        ("d.txt", "removed"),
        ("e.txt", "created"),
        ("z.txt", "removed"),
    ]
    assert report.listed == 4


async def test_starts_are_bounded_in_rate() -> None:
    fakes = Fakes(one_page(*(listed(f"doc-{i:02}.txt") for i in range(10))))
    await fakes.reconciler(per_second=5).reconcile()
    gaps = [b - a for a, b in zip(fakes.start_times, fakes.start_times[1:], strict=False)]
    assert len(fakes.started) == 10
    assert min(gaps) >= 0.2 - 1e-9
    assert fakes.start_times[-1] - fakes.start_times[0] < 1.8 + 1e-6


async def test_an_idle_pacer_does_not_save_up_starts() -> None:
    clock = FakeClock()
    pacer = Pacer(2, clock=clock, sleep=clock.sleep)
    await pacer.wait()
    clock.now += 60
    await pacer.wait()
    await pacer.wait()
    assert clock.sleeps == [0.5]


class FakeS3:
    """Answers ListObjectsV2 / ListObjectVersions from canned pages, recording the requests."""

    def __init__(self, *, versioning: str | None, pages: list[dict[str, Any]]) -> None:
        self.versioning = versioning
        self.pages = pages
        self.requests: list[dict[str, Any]] = []

    async def get_bucket_versioning(self, *, Bucket: str) -> dict[str, Any]:
        return {"Status": self.versioning} if self.versioning else {}

    async def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]:
        assert self.versioning is None
        self.requests.append(kwargs)
        return self.pages[len(self.requests) - 1]

    async def list_object_versions(self, **kwargs: Any) -> dict[str, Any]:
        assert self.versioning is not None
        self.requests.append(kwargs)
        return self.pages[len(self.requests) - 1]


def content(key: str, etag: str) -> dict[str, Any]:
    return {"Key": key, "ETag": f'"{etag}"', "Size": 3, "LastModified": EARLIER}


async def test_list_objects_v2_is_read_page_by_page() -> None:
    s3 = FakeS3(
        versioning=None,
        pages=[
            {
                "Contents": [content("a", "1"), content("b", "2")],
                "IsTruncated": True,
                "NextContinuationToken": "t1",
            },
            {"Contents": [content("c", "3")], "IsTruncated": False},
        ],
    )
    pages = [page async for page in list_bucket(s3, BUCKET, page_size=2)]
    assert [[(o.key, o.etag, o.version_id) for o in p.objects] for p in pages] == [
        [("a", "1", None), ("b", "2", None)],
        [("c", "3", None)],
    ]
    assert [p.through for p in pages] == ["b", None]
    assert s3.requests == [
        {"Bucket": BUCKET, "MaxKeys": 2},
        {"Bucket": BUCKET, "MaxKeys": 2, "ContinuationToken": "t1"},
    ]


async def test_a_versioned_bucket_lists_latest_versions_and_delete_markers() -> None:
    def version(key: str, version_id: str, latest: bool) -> dict[str, Any]:
        return content(key, version_id.upper()) | {"VersionId": version_id, "IsLatest": latest}

    s3 = FakeS3(
        versioning="Enabled",
        pages=[
            {
                "Versions": [version("a", "a2", True), version("a", "a1", False), version("b", "b1", False)],
                "DeleteMarkers": [{"Key": "b", "VersionId": "m1", "IsLatest": True, "LastModified": NOW}],
                "IsTruncated": True,
                "NextKeyMarker": "b",
                "NextVersionIdMarker": "b1",
            },
            {"Versions": [version("c", "null", True)], "IsTruncated": False},
        ],
    )
    pages = [page async for page in list_bucket(s3, BUCKET, page_size=4)]
    assert [[(o.key, o.version_id) for o in p.objects] for p in pages] == [[("a", "a2")], [("c", None)]]
    assert pages[0].delete_markers == {"b": "m1"}
    assert [p.through for p in pages] == ["b", None]
    assert s3.requests[1] == {"Bucket": BUCKET, "MaxKeys": 4, "KeyMarker": "b", "VersionIdMarker": "b1"}
