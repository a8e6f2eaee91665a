"""The documents a caller may see: every read the API makes of the `documents` table goes through
`DocumentStore`, whose statements all carry the caller's visibility rule."""

from __future__ import annotations

from typing import Any, get_args
from uuid import UUID

from apps.common.database import Pool
from apps.common.identity import Access
from schemas.api import DocumentStatus

STATUSES: tuple[DocumentStatus, ...] = get_args(DocumentStatus)

_COLUMNS = (
    "id, bucket, s3_key, filename, content_type, size_bytes, status, error_message, version, content_sha256,"
    " chunk_count, coverage, workflow_id, uploaded_at, indexed_at, updated_at, metadata, indexed_version,"
    " collection, tenant_id AS tenant, groups,"
    # The version's chunks in the index so far, in whichever collection holds the most of them.
    " (SELECT coalesce(max(written.n), 0) FROM (SELECT sum(b.chunk_count) AS n FROM ingest_batches b"
    " WHERE b.document_id = documents.id AND b.version = documents.version GROUP BY b.collection)"
    " AS written) AS indexed_chunks"
)
# The visibility rule of `Access.sees`, in SQL: the tenant's documents without groups or sharing one.
_VISIBLE = "tenant_id = %(tenant)s AND (%(every_group)s OR groups = '{}' OR groups && %(groups)s::text[])"


class DocumentStore:
    def __init__(self, pool: Pool, access: Access) -> None:
        self._pool = pool
        self._scope: dict[str, Any] = {
            "tenant": access.tenant,
            "every_group": access.every_group,
            "groups": sorted(access.groups),
        }

    async def get(self, document_id: UUID) -> dict[str, Any] | None:
        """The document's row, or None when there is none the caller may see."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE id = %(id)s AND {_VISIBLE}",
                self._scope | {"id": document_id},
            )
            return await cur.fetchone()

    async def list_page(
        self, *, status: DocumentStatus | None, filename: str | None = None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the caller's documents, newest first, and their count (deleted ones only when
        asked for; only those whose filename holds `filename`, in any case, when given)."""
        wanted = "status = %(status)s" if status else "status <> 'deleted'"
        named = " AND strpos(lower(filename), lower(%(filename)s)) > 0" if filename else ""
        where = f"{wanted}{named} AND {_VISIBLE}"
        params = self._scope | {"status": status, "filename": filename, "limit": limit, "offset": offset}
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE {where}"
                " ORDER BY uploaded_at DESC, id LIMIT %(limit)s OFFSET %(offset)s",
                params,
            )
            rows = await cur.fetchall()
            cur = await conn.execute(f"SELECT count(*) AS n FROM documents WHERE {where}", params)
            total = await cur.fetchone()
        return rows, int(total["n"]) if total else 0

    async def count_by_status(self) -> dict[DocumentStatus, int]:
        """How many of the caller's documents are in each status, every status named."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT status, count(*) AS n FROM documents WHERE {_VISIBLE} GROUP BY status", self._scope
            )
            found = {row["status"]: int(row["n"]) for row in await cur.fetchall()}
        return {status: found.get(status, 0) for status in STATUSES}

    async def in_status(self, status: DocumentStatus) -> list[dict[str, Any]]:
        """Every document of the caller's in `status`, oldest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE status = %(status)s AND {_VISIBLE}"
                " ORDER BY uploaded_at, id",
                self._scope | {"status": status},
            )
            return await cur.fetchall()
