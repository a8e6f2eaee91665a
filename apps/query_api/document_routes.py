"""`/v1/documents`: what was ingested, its status, and deleting or reprocessing it."""

from __future__ import annotations

from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.common import documents
from apps.query_api.errors import ApiError
from apps.query_api.requests import path_uuid, query_int
from schemas.api import Document, DocumentPage, DocumentStatus

_STATUSES = get_args(DocumentStatus)


def _document(row: dict[str, Any]) -> Document:
    return Document.model_validate(row)


async def list_documents(request: Request) -> Response:
    status = request.query_params.get("status")
    if status is not None and status not in _STATUSES:
        raise ApiError(422, "invalid_request", f"status must be one of {', '.join(_STATUSES)}")
    limit = query_int(request, "limit", default=50, minimum=1, maximum=500)
    offset = query_int(request, "offset", default=0, minimum=0, maximum=10**9)
    rows, total = await documents.list_page(
        request.app.state.pool,
        status=status,  # type: ignore[arg-type]
        limit=limit,
        offset=offset,
    )
    page = DocumentPage(items=[_document(r) for r in rows], total=total, limit=limit, offset=offset)
    return JSONResponse(page.model_dump(mode="json"))


async def get_document(request: Request) -> Response:
    document_id = path_uuid(request)
    row = await documents.get(request.app.state.pool, document_id)
    if row is None:
        raise ApiError(404, "document_not_found", f"no document {document_id}")
    return JSONResponse(_document(row).model_dump(mode="json"))
