"""Uploads through the API, no S3 credentials needed: `POST /v1/documents` streams a file into the
bucket under the caller's tenant; `POST /v1/documents/uploads` hands out a presigned PUT for files
that should not pass through the API. Ingestion then flows from the object, as for any other."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.common import file_types
from apps.common.documents import document_id_for
from apps.common.identity import Identity, groups_metadata, key_of_tenant, parse_groups
from apps.common.intake import start_upload
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from apps.query_api.auth import identity_of
from apps.query_api.errors import ApiError
from apps.query_api.requests import read_model
from schemas.api import UPLOAD_KEY_MAX_CHARS, UPLOAD_KEY_PATTERN, Document, PresignedUpload, UploadUrlRequest
from schemas.s3_events import S3ObjectChange

PRESIGNED_SECONDS = 15 * 60
# The multipart envelope around the file: boundaries, part headers, the small fields.
_FORM_OVERHEAD = 64 * 1024


def tenant_key(identity: Identity, key: str) -> str:
    """The bucket key of `key` under the caller's tenant; 422 for a key that is not a plain path."""
    if len(key) > UPLOAD_KEY_MAX_CHARS or not re.fullmatch(UPLOAD_KEY_PATTERN, key):
        raise ApiError(422, "invalid_key", f"{key!r} is not a relative path of plain names (a/b/c.pdf)")
    return key_of_tenant(identity.tenant, key)


def _content_type(filename: str) -> str:
    content_type = file_types.content_type_for(filename)
    if content_type is None:
        suffix = PurePosixPath(filename).suffix or "(none)"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"ragstream cannot parse {suffix} files: it indexes {file_types.supported_extensions()}",
        )
    return content_type


def _check_size(settings: Settings, size: int) -> None:
    if size > settings.max_object_size:
        raise ApiError(
            413,
            "payload_too_large",
            f"the file is {size} bytes, over the {settings.max_object_size} allowed"
            " (RAGSTREAM_MAX_OBJECT_SIZE)",
        )
    if size == 0:
        raise ApiError(422, "empty_file", "the file is empty")


def pending_document(
    settings: Settings,
    identity: Identity,
    change: S3ObjectChange,
    content_type: str,
    groups: frozenset[str],
    workflow_id: str,
) -> Document:
    """The document an upload creates, as `GET /v1/documents/{id}` will show it once registered."""
    now = datetime.now(UTC)
    return Document(
        id=document_id_for(change.bucket, change.key),
        bucket=change.bucket,
        s3_key=change.key,
        filename=change.filename,
        content_type=content_type,
        size_bytes=change.size,
        status="pending",
        error_message=None,
        version=change.version,
        content_sha256=None,
        chunk_count=0,
        coverage=None,
        indexed_version=None,
        collection=settings.qdrant_collection,
        tenant=identity.tenant,
        groups=sorted(groups),
        workflow_id=workflow_id,
        uploaded_at=now,
        indexed_at=None,
        updated_at=now,
        metadata={},
    )


async def upload_document(request: Request) -> Response:
    """Stream the multipart `file` into S3 under the caller's tenant; start its ingestion."""
    settings: Settings = request.app.state.settings
    identity = identity_of(request)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_object_size + _FORM_OVERHEAD:
        _check_size(settings, int(declared))
    async with request.form(max_files=1, max_fields=8) as form:
        unknown = sorted(set(form.keys()) - {"file", "groups", "key"})
        if unknown:
            raise ApiError(422, "invalid_request", f"unknown form fields {unknown}: send file, groups, key")
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ApiError(422, "invalid_request", "send the document as the multipart field `file`")
        if any(isinstance(v, UploadFile) for name in ("groups", "key") for v in form.getlist(name)):
            raise ApiError(422, "invalid_request", "`groups` and `key` are text fields, not files")
        key = tenant_key(identity, _text(form.get("key")) or PurePosixPath(upload.filename).name)
        content_type = _content_type(key)
        size = upload.size if upload.size is not None else 0
        _check_size(settings, size)
        groups = parse_groups(_text(form.get("groups")))
        await upload.seek(0)
        mismatch = file_types.content_mismatch(content_type, await upload.read(file_types.SNIFF_BYTES))
        if mismatch:
            raise ApiError(415, "unsupported_media_type", f"{mismatch}: upload the right file")
        await upload.seek(0)
        async with s3_client(settings) as s3:
            put = await s3.put_object(
                Bucket=settings.s3_bucket,
                Key=key,
                Body=upload.file,
                ContentLength=size,
                ContentType=content_type,
                Metadata=groups_metadata(groups),
            )
    # The bucket's notification starts the same ingestion; starting it here too makes uploads work
    # where no notifications are configured (the duplicate start is harmless).
    change = S3ObjectChange(
        bucket=settings.s3_bucket,
        key=key,
        kind="created",
        event_name="ragstream:Upload",
        size=size,
        etag=str(put.get("ETag", "")).strip('"') or None,
        version_id=put.get("VersionId"),
        event_time=datetime.now(UTC),
    )
    started = await start_upload(await request.app.state.temporal(), settings, change)
    document = pending_document(settings, identity, change, content_type, groups, started.workflow_id)
    return JSONResponse(document.model_dump(mode="json"), status_code=202)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


async def presign_upload(request: Request) -> Response:
    """A presigned PUT for one file under the caller's tenant, with the headers to send along."""
    settings: Settings = request.app.state.settings
    identity = identity_of(request)
    body = await read_model(request, UploadUrlRequest)
    key = tenant_key(identity, body.key or PurePosixPath(body.filename).name)
    content_type = _content_type(key)
    _check_size(settings, body.size)
    groups = parse_groups(body.groups)
    headers = {"Content-Type": content_type}
    params: dict[str, Any] = {"Bucket": settings.s3_bucket, "Key": key, "ContentType": content_type}
    metadata = groups_metadata(groups)
    if metadata:
        headers |= {f"x-amz-meta-{name}": value for name, value in metadata.items()}
        params["Metadata"] = metadata
    async with s3_client(settings) as s3:
        url = await s3.generate_presigned_url("put_object", Params=params, ExpiresIn=PRESIGNED_SECONDS)
    presigned = PresignedUpload(
        url=url,
        headers=headers,
        key=key,
        document_id=document_id_for(settings.s3_bucket, key),
        expires_at=datetime.now(UTC) + timedelta(seconds=PRESIGNED_SECONDS),
    )
    return JSONResponse(presigned.model_dump(mode="json"), status_code=201)
