"""`/v1/documents`: what was ingested, its status, and deleting or reprocessing it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.common.intake import start_upload, workflow_id_for
from apps.common.s3 import s3_client
from apps.query_api.auth import identity_of
from apps.query_api.document_store import DocumentStore
from apps.query_api.errors import ApiError
from apps.query_api.requests import path_uuid, read_model, read_query
from schemas.api import (
    Document,
    DocumentCounts,
    DocumentPage,
    DocumentQuery,
    ReprocessRequest,
    ReprocessStarted,
    SkippedDocument,
)
from schemas.s3_events import S3ObjectChange


def _store(request: Request) -> DocumentStore:
    return DocumentStore(request.app.state.pool, identity_of(request).access)


def _document(row: dict[str, Any]) -> Document:
    return Document.model_validate(row)


async def list_documents(request: Request) -> Response:
    query = read_query(request, DocumentQuery)
    rows, total = await _store(request).list_page(
        status=query.status, filename=query.filename, limit=query.limit, offset=query.offset
    )
    page = DocumentPage(
        items=[_document(r) for r in rows], total=total, limit=query.limit, offset=query.offset
    )
    return JSONResponse(page.model_dump(mode="json"))


async def count_documents(request: Request) -> Response:
    counts = await _store(request).count_by_status()
    total = sum(n for status, n in counts.items() if status != "deleted")
    return JSONResponse(DocumentCounts(counts=counts, total=total).model_dump(mode="json"))


async def get_document(request: Request) -> Response:
    row = await _document_or_404(request)
    return JSONResponse(_document(row).model_dump(mode="json"))


async def _document_or_404(request: Request) -> dict[str, Any]:
    document_id = path_uuid(request)
    row = await _store(request).get(document_id)
    if row is None:
        raise ApiError(404, "document_not_found", f"no document {document_id}")
    return row


async def delete_document(request: Request) -> Response:
    """Delete the object from S3 and its chunks from the index; answers once the removal has started."""
    row = await _document_or_404(request)
    if row["status"] == "deleted":
        raise ApiError(404, "document_not_found", f"document {row['id']} is already deleted")
    settings = request.app.state.settings
    async with s3_client(settings) as s3:
        await s3.delete_object(Bucket=row["bucket"], Key=row["s3_key"])
    # The bucket's notification starts the same removal; starting it here too makes DELETE work
    # where no notifications are configured (the duplicate removal is harmless).
    change = S3ObjectChange(
        bucket=row["bucket"],
        key=row["s3_key"],
        kind="removed",
        event_name="ragstream:DeleteDocument",
        event_time=datetime.now(UTC),
    )
    started = await start_upload(await request.app.state.temporal(), settings, change)
    return JSONResponse({"workflow_id": started.workflow_id, "status": "deleting"}, status_code=202)


async def reprocess_document(request: Request) -> Response:
    """Index the document's current object again, from the start (typically after it failed)."""
    row = await _document_or_404(request)
    started = await _reprocess(request, row)
    return JSONResponse({"workflow_id": started, "status": "indexing"}, status_code=202)


async def reprocess_documents(request: Request) -> Response:
    """Index again every document of the caller's in a status (`failed`): each as one reprocess."""
    body = await read_model(request, ReprocessRequest)
    started = ReprocessStarted(workflows=[], skipped=[])
    for row in await _store(request).in_status(body.status):
        try:
            started.workflows.append(await _reprocess(request, row))
        except ApiError as exc:
            started.skipped.append(SkippedDocument(document_id=row["id"], reason=exc.message))
    return JSONResponse(started.model_dump(mode="json"), status_code=202)


async def _reprocess(request: Request, row: dict[str, Any]) -> str:
    """Start indexing `row`'s current object again; its workflow id."""
    if row["status"] in ("deleted", "indexing"):
        raise ApiError(409, "conflict", f"document {row['id']} is {row['status']}: nothing to reprocess")
    settings = request.app.state.settings
    async with s3_client(settings) as s3:
        try:
            head = await s3.head_object(Bucket=row["bucket"], Key=row["s3_key"])
        except ClientError as exc:
            raise ApiError(
                409, "conflict", f"the object s3://{row['bucket']}/{row['s3_key']} no longer exists"
            ) from exc
    change = S3ObjectChange(
        bucket=row["bucket"],
        key=row["s3_key"],
        kind="created",
        event_name="ragstream:Reprocess",
        size=head.get("ContentLength"),
        etag=str(head.get("ETag", "")).strip('"') or None,
        version_id=head.get("VersionId"),
        event_time=datetime.now(UTC),
    )
    attempt = f"{workflow_id_for(change)}#reprocess-{uuid.uuid4().hex[:8]}"
    temporal = await request.app.state.temporal()
    started = await start_upload(temporal, settings, change, workflow_id=attempt, reprocess=True)
    return started.workflow_id
