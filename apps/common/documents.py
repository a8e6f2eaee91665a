"""The `documents` table as ingestion writes it: one row per S3 object, holding the state of its
latest version. Callers read it through `apps.query_api.document_store`, scoped to what they see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from apps.common.database import Pool
from apps.common.identity import tenant_of_key
from schemas.s3_events import S3ObjectChange
from schemas.workflows import Finalization, RegisteredDocument, ValidatedObject

DocumentStatus = Literal["pending", "indexing", "complete", "failed", "deleted"]


def document_id_for(bucket: str, key: str) -> UUID:
    """The stable id of the document at `bucket`/`key`, the same for every version."""
    return uuid5(NAMESPACE_URL, f"s3://{bucket}/{key}")


def _order_parts(order: str) -> tuple[str, str]:
    """An order's kind and value; a bare value is an S3 sequencer (rows written before the kinds)."""
    kind, _, value = order.rpartition(":")
    return (kind or "s"), value.upper()


def order_is_older(candidate: str | None, current: str | None) -> bool:
    """Whether change order `candidate` comes before `current` (`S3ObjectChange.order`: sequencers
    are hex strings, zero-padded to compare; times are fixed-width hex). Orders of different kinds,
    or unknown ones, never compare."""
    if not candidate or not current:
        return False
    (kind, value), (current_kind, current_value) = _order_parts(candidate), _order_parts(current)
    if kind != current_kind or not value or not current_value:
        return False
    width = max(len(value), len(current_value))
    return value.ljust(width, "0") < current_value.ljust(width, "0")


async def register_version(
    pool: Pool,
    change: S3ObjectChange,
    validated: ValidatedObject,
    workflow_id: str,
    *,
    collection: str,
    reprocess: bool = False,
) -> RegisteredDocument | None:
    """Record that `change`'s version is being indexed (or failed validation).

    Returns None when the row already holds a newer change of the object (this event arrived
    late), so the caller can stop: older changes never overwrite newer ones. Another workflow's
    registration of the same version (two events of one upload) makes this one a duplicate,
    unless it is a reprocess.
    """
    document_id = document_id_for(change.bucket, change.key)
    status: DocumentStatus = "failed" if validated.error else "indexing"
    uploaded_at = change.event_time or datetime.now(UTC)
    async with pool.connection() as conn, conn.transaction():
        # One registration of a key at a time, the key's first included (FOR UPDATE locks no row yet).
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{change.bucket}/{change.key}",)
        )
        cur = await conn.execute(
            "SELECT version, sequencer, content_sha256, status, chunk_count, indexed_version, groups,"
            " workflow_id FROM documents"
            " WHERE bucket = %s AND s3_key = %s FOR UPDATE",
            (change.bucket, change.key),
        )
        previous: dict[str, Any] | None = await cur.fetchone()
        if (
            previous is not None
            and previous["version"] != change.version
            and order_is_older(change.order, previous["sequencer"])
        ):
            return None
        if (
            previous is not None
            and not reprocess
            and previous["version"] == change.version
            and previous["workflow_id"] not in (None, workflow_id)
            and previous["status"] in ("indexing", "complete", "failed")
        ):
            return RegisteredDocument(document_id=document_id, duplicate_of=previous["workflow_id"])
        unchanged = bool(
            previous is not None
            and validated.sha256
            and previous["content_sha256"] == validated.sha256
            and previous["status"] == "complete"
            and sorted(previous["groups"]) == validated.groups  # the points carry the groups
        )
        # A version indexed again (reprocessed) counts its batches from zero.
        await conn.execute(
            "DELETE FROM ingest_batches WHERE document_id = %s AND version = %s",
            (document_id, change.version),
        )
        await conn.execute(
            "INSERT INTO documents (id, bucket, s3_key, filename, content_type, size_bytes, status,"
            " error_message, version, sequencer, content_sha256, workflow_id, uploaded_at, collection,"
            " tenant_id, groups, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
            " ON CONFLICT (bucket, s3_key) DO UPDATE SET filename = EXCLUDED.filename,"
            " content_type = EXCLUDED.content_type, size_bytes = EXCLUDED.size_bytes,"
            " status = EXCLUDED.status, error_message = EXCLUDED.error_message,"
            " version = EXCLUDED.version, sequencer = EXCLUDED.sequencer,"
            " content_sha256 = EXCLUDED.content_sha256, workflow_id = EXCLUDED.workflow_id,"
            " uploaded_at = EXCLUDED.uploaded_at, collection = EXCLUDED.collection,"
            " tenant_id = EXCLUDED.tenant_id, groups = EXCLUDED.groups, updated_at = now()",
            (
                document_id,
                change.bucket,
                change.key,
                validated.filename,
                validated.content_type or None,
                validated.size,
                status,
                validated.error,
                change.version,
                change.order,
                validated.sha256,
                workflow_id,
                uploaded_at,
                collection,
                tenant_of_key(change.key),
                validated.groups,
            ),
        )
    if unchanged and previous:
        return RegisteredDocument(
            document_id=document_id,
            unchanged=True,
            chunk_count=previous["chunk_count"],
            indexed_version=previous["indexed_version"] or previous["version"],
        )
    return RegisteredDocument(document_id=document_id)


async def finalize(pool: Pool, outcome: Finalization, *, if_status: DocumentStatus | None = None) -> bool:
    """Record the outcome of indexing one version; a no-op (False) if a newer version took over,
    or if the row is not in status `if_status` (when given)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE documents SET status = %s, chunk_count = %s, error_message = %s,"
            " coverage = CASE WHEN %s = 'complete' THEN coalesce(%s, coverage) ELSE coverage END,"
            " indexed_at = CASE WHEN %s = 'complete' THEN now() ELSE indexed_at END, updated_at = now(),"
            " metadata = CASE WHEN %s::text IS NULL THEN metadata - 'note'"
            " ELSE metadata || jsonb_build_object('note', %s::text) END,"
            " indexed_version = CASE WHEN %s = 'complete' THEN coalesce(%s, version) ELSE indexed_version END"
            " WHERE id = %s AND version = %s AND status = coalesce(%s::text, status)",
            (
                outcome.status,
                outcome.chunk_count,
                outcome.error,
                outcome.status,
                outcome.coverage,
                outcome.status,
                outcome.note,
                outcome.note,
                outcome.status,
                outcome.indexed_version,
                outcome.document_id,
                outcome.version,
                if_status,
            ),
        )
        return cur.rowcount > 0
