"""The reconciler: lists the bucket, at start and on a schedule, and starts the workflow of every object
change that no S3 event started (S3 delivers events at least once only when nothing drops them).

Each page of the listing is compared with the documents of its key range, one query a page. An object
whose latest version (versionId, else eTag: `S3ObjectChange.version`, as for its event) is not the
document's is started through the event path's `start_upload`; a document whose object is gone gets
a `removed` change. Left alone: versions registered already (indexed or indexing), documents that
failed (retrying them is `ragstream reprocess --failed`'s job, not a schedule's), removals under way,
and rows changed since their page was listed (the event path is at work there: the next pass sees).

Idempotent with the event path: an object's reconciled change has the workflow id its event would
have where the event names the version (versionId); for an unversioned bucket's creation it is
ordered by the listing's LastModified (`#t:...`) instead of the event's time, so an event and a
listing of the same upload can both start a workflow, and `register_version` finds the second a
duplicate of the first: the version is indexed once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client

from apps.common.database import Pool
from apps.common.documents import DocumentStatus
from apps.common.intake import start_upload
from apps.common.settings import Settings
from apps.ingest_workflows.metrics import (
    RECONCILE_CHANGES_STARTED,
    RECONCILE_LAST_PASS_SECONDS,
    RECONCILE_OBJECTS_LISTED,
    RECONCILE_PASSES,
    RECONCILE_SKIPPED,
)
from schemas.s3_events import S3ObjectChange

log = logging.getLogger(__name__)

EVENT_NAME = "ragstream:Reconcile"
_PAGE_SIZE = 1000
_PROGRESS_EVERY = 10_000  # objects listed between progress lines of a big bucket


@dataclass(frozen=True)
class ListedObject:
    """The latest version of an object, as a listing shows it."""

    key: str
    etag: str | None
    version_id: str | None
    size: int | None
    last_modified: datetime


@dataclass(frozen=True)
class ListedPage:
    """One page of a listing: its objects, and the keys it covers, those after the previous page's
    `through` up to its own (None: to the end). On a versioned bucket, the keys whose latest version
    is a delete marker, with the marker's versionId."""

    objects: list[ListedObject]
    through: str | None
    delete_markers: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class KnownDocument:
    """What the documents table holds of a key."""

    key: str
    version: str
    status: DocumentStatus
    updated_at: datetime


@dataclass
class PassReport:
    listed: int = 0
    created: int = 0
    removed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


Listing = Callable[[], AsyncIterator[ListedPage]]
Lookup = Callable[[str, str | None, str | None], Awaitable[list[KnownDocument]]]
Starter = Callable[[S3ObjectChange], Awaitable[object]]


class Pacer:
    """Spaces calls at most `per_second` a second; time not used is not saved up for a burst."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    async def wait(self) -> None:
        now = self._clock()
        slot = now if self._next is None else max(now, self._next)
        if slot > now:
            await self._sleep(slot - now)
        self._next = slot + self._interval


class Reconciler:
    """Brings one bucket's documents in line with its objects, one pass at a time."""

    def __init__(
        self,
        bucket: str,
        *,
        listing: Listing,
        lookup: Lookup,
        start: Starter,
        pacer: Pacer,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bucket = bucket
        self._listing = listing
        self._lookup = lookup
        self._start = start
        self._pacer = pacer
        self._now = now

    async def reconcile(self) -> PassReport:
        """One pass over the whole bucket."""
        report = PassReport()
        began = time.perf_counter()
        pages = self._listing()
        after: str | None = None
        while True:
            listed_at = self._now()
            page = await anext(pages, None)
            if page is None:
                break
            known = await self._lookup(self.bucket, after, page.through)
            changes = self._changes(page, known, listed_at, report)
            for change in changes:
                await self._pacer.wait()
                await self._start(change)
                RECONCILE_CHANGES_STARTED.labels(change.kind).inc()
            report.listed += len(page.objects)
            RECONCILE_OBJECTS_LISTED.inc(len(page.objects))
            if report.listed // _PROGRESS_EVERY > (report.listed - len(page.objects)) // _PROGRESS_EVERY:
                log.info(
                    "reconciling bucket %s: %d objects listed so far, %d started",
                    self.bucket,
                    report.listed,
                    report.created + report.removed,
                )
            after = page.through
        report.seconds = time.perf_counter() - began
        return report

    def _changes(
        self, page: ListedPage, known: list[KnownDocument], listed_at: datetime, report: PassReport
    ) -> list[S3ObjectChange]:
        """The changes of one page to start, counting in `report` what they are and what is left alone."""
        rows = {row.key: row for row in known}
        changes = []
        for obj in page.objects:
            change = self._created(obj)
            row = rows.pop(obj.key, None)
            reason = _reason_to_leave(row, change.version, listed_at)
            if reason:
                _skip(report, reason)
                continue
            changes.append(change)
            report.created += 1
        for row in rows.values():
            reason = _reason_to_keep(row, listed_at)
            if reason:
                _skip(report, reason)
            elif row.status != "deleted":
                changes.append(self._removed(row.key, page.delete_markers.get(row.key)))
                report.removed += 1
        return changes

    def _created(self, obj: ListedObject) -> S3ObjectChange:
        return S3ObjectChange(
            bucket=self.bucket,
            key=obj.key,
            kind="created",
            event_name=EVENT_NAME,
            size=obj.size,
            etag=obj.etag,
            version_id=obj.version_id,
            event_time=_end_of_second(obj.last_modified),
        )

    def _removed(self, key: str, marker_version_id: str | None) -> S3ObjectChange:
        return S3ObjectChange(
            bucket=self.bucket,
            key=key,
            kind="removed",
            event_name=EVENT_NAME,
            version_id=marker_version_id,
            event_time=self._now(),
        )


def _skip(report: PassReport, reason: str) -> None:
    report.skipped[reason] += 1
    RECONCILE_SKIPPED.labels(reason).inc()


def _reason_to_leave(row: KnownDocument | None, version: str, listed_at: datetime) -> str | None:
    """Why a listed object's version needs no workflow, if it needs none."""
    if row is None:
        return None
    if row.version == version:
        return "failed" if row.status == "failed" else "registered"
    if row.updated_at >= listed_at:
        return "changing"
    return None


def _reason_to_keep(row: KnownDocument, listed_at: datetime) -> str | None:
    """Why a document whose object was not listed is not removed, if it is not."""
    if row.status == "deleted":
        return None
    if row.version.startswith("deleted:"):
        return "removing"
    if row.status == "pending" or row.updated_at >= listed_at:
        return "changing"
    return None


def _end_of_second(moment: datetime) -> datetime:
    """A listing's LastModified has whole seconds; the upload happened within that second, so its
    change sits at the second's end, where an older event of the same second cannot look newer."""
    return moment + timedelta(microseconds=999_999) if moment.microsecond == 0 else moment


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


def _version_id(value: str | None) -> str | None:
    """S3 lists an object put while versioning was off with versionId "null", its events with none."""
    return value if value not in (None, "", "null") else None


async def list_bucket(s3: Any, bucket: str, *, page_size: int = _PAGE_SIZE) -> AsyncIterator[ListedPage]:
    """The bucket's latest object versions, a page at a time, in key order."""
    versioning = await s3.get_bucket_versioning(Bucket=bucket)
    pages = _versions if versioning.get("Status") in ("Enabled", "Suspended") else _objects
    async for page in pages(s3, bucket, page_size):
        yield page


async def _objects(s3: Any, bucket: str, page_size: int) -> AsyncIterator[ListedPage]:
    request: dict[str, Any] = {"Bucket": bucket, "MaxKeys": page_size}
    while True:
        response = await s3.list_objects_v2(**request)
        contents = response.get("Contents", [])
        truncated = bool(response.get("IsTruncated"))
        objects = [
            ListedObject(c["Key"], _etag(c.get("ETag")), None, c.get("Size"), c["LastModified"])
            for c in contents
        ]
        if objects or not truncated:
            yield ListedPage(objects, through=objects[-1].key if truncated else None)
        if not truncated:
            return
        request["ContinuationToken"] = response["NextContinuationToken"]


async def _versions(s3: Any, bucket: str, page_size: int) -> AsyncIterator[ListedPage]:
    request: dict[str, Any] = {"Bucket": bucket, "MaxKeys": page_size}
    while True:
        response = await s3.list_object_versions(**request)
        versions, markers = response.get("Versions", []), response.get("DeleteMarkers", [])
        truncated = bool(response.get("IsTruncated"))
        objects = [
            ListedObject(
                v["Key"],
                _etag(v.get("ETag")),
                _version_id(v.get("VersionId")),
                v.get("Size"),
                v["LastModified"],
            )
            for v in versions
            if v.get("IsLatest")
        ]
        latest_markers = {m["Key"]: _version_id(m.get("VersionId")) for m in markers if m.get("IsLatest")}
        # A key's versions may run on into the next page; its latest came first, in this one.
        keys = [entry["Key"] for entry in (*versions, *markers)]
        if keys or not truncated:
            yield ListedPage(objects, through=max(keys) if truncated else None, delete_markers=latest_markers)
        if not truncated:
            return
        request["KeyMarker"] = response["NextKeyMarker"]
        request["VersionIdMarker"] = response["NextVersionIdMarker"]


async def documents_in_range(
    pool: Pool, bucket: str, after: str | None, through: str | None
) -> list[KnownDocument]:
    """The bucket's documents with keys after `after` up to `through` (None: no bound), in S3's key
    order: UTF-8 bytes, which is what the "C" collation compares."""
    sql = "SELECT s3_key, version, status, updated_at FROM documents WHERE bucket = %s"
    params: list[str] = [bucket]
    if after is not None:
        sql += ' AND s3_key COLLATE "C" > %s'
        params.append(after)
    if through is not None:
        sql += ' AND s3_key COLLATE "C" <= %s'
        params.append(through)
    async with pool.connection() as conn:
        cur = await conn.execute(sql, params)
        rows = await cur.fetchall()
    return [KnownDocument(r["s3_key"], r["version"], r["status"], r["updated_at"]) for r in rows]


def bucket_reconciler(settings: Settings, *, s3: Any, pool: Pool, temporal: Client) -> Reconciler:
    """The reconciler of the settings' bucket, starting workflows as the event path does."""

    async def start(change: S3ObjectChange) -> None:
        await start_upload(temporal, settings, change)

    return Reconciler(
        settings.s3_bucket,
        listing=lambda: list_bucket(s3, settings.s3_bucket),
        lookup=lambda bucket, after, through: documents_in_range(pool, bucket, after, through),
        start=start,
        pacer=Pacer(settings.reconcile_starts_per_second),
    )


async def run_reconciler(reconciler: Reconciler, interval: timedelta) -> None:
    """A pass now and one every `interval` after the last ended, until cancelled; a failed pass is
    logged and the next one tries again."""
    while True:
        try:
            report = await reconciler.reconcile()
        except asyncio.CancelledError:
            raise
        except Exception:
            RECONCILE_PASSES.labels("error").inc()
            log.exception("reconciling bucket %s failed; next pass in %s", reconciler.bucket, interval)
        else:
            RECONCILE_PASSES.labels("ok").inc()
            RECONCILE_LAST_PASS_SECONDS.set(report.seconds)
            skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items())) or "none"
            log.info(
                "reconciled bucket %s in %.1f s: %d objects listed; started %d created, %d removed;"
                " left alone: %s (failed documents are left to `ragstream reprocess --failed`)",
                reconciler.bucket,
                report.seconds,
                report.listed,
                report.created,
                report.removed,
                skipped,
            )
        await asyncio.sleep(interval.total_seconds())
