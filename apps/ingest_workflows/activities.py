"""The activities of `UploadWorkflow`: everything it does to S3, Postgres and Kafka.

The object's bytes are read here (to hash and sniff them) and never enter a Temporal payload.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from botocore.exceptions import ClientError
from faststream.kafka import KafkaBroker
from temporalio import activity

from apps.common import documents, file_types
from apps.common.database import Pool
from apps.common.generations import LiveGenerations
from apps.common.kafka import publish_event
from apps.common.settings import Settings
from apps.ingest_workflows.metrics import WORKFLOW_OUTCOMES
from schemas.events import DocumentReady
from schemas.s3_events import S3ObjectChange
from schemas.topics import DOCUMENT_READY
from schemas.workflows import Finalization, Publication, RegisteredDocument, Registration, ValidatedObject

log = logging.getLogger(__name__)
_READ_CHUNK = 1024 * 1024


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


@dataclass
class IngestActivities:
    """The activities, bound to the clients they use."""

    settings: Settings
    pool: Pool
    s3: Any
    broker: KafkaBroker
    generations: LiveGenerations

    def all(self) -> list[Any]:
        return [
            self.validate_s3_object,
            self.register_document,
            self.publish_document_ready,
            self.finalize_document,
        ]

    @activity.defn(name="validate_s3_object")
    async def validate_s3_object(self, change: S3ObjectChange) -> ValidatedObject:
        """Check that the object version exists, is not empty, not too large and of a type we parse."""
        filename = PurePosixPath(change.key).name or change.key
        if change.kind == "removed":
            if await self._head(change.bucket, change.key, None) is not None:
                return ValidatedObject(
                    filename=filename, skip_reason="the object exists again: nothing to delete"
                )
            return ValidatedObject(filename=filename)
        head = await self._head(change.bucket, change.key, change.version_id)
        if head is None:
            return ValidatedObject(filename=filename, skip_reason="the object version no longer exists")
        size = int(head["ContentLength"])
        content_type = file_types.content_type_for(filename)
        facts = ValidatedObject(filename=filename, content_type=content_type or "", size=size)
        if content_type is None:
            suffix = PurePosixPath(filename).suffix or "(none)"
            error = f"unsupported file type {suffix}: ragstream indexes {file_types.supported_extensions()}"
            return facts.model_copy(update={"error": error})
        if size == 0:
            return facts.model_copy(update={"error": "the file is empty: upload it again with its content"})
        if size > self.settings.max_object_size:
            error = (
                f"the file is {_mib(size)}, over the {_mib(self.settings.max_object_size)} limit "
                "(RAGSTREAM_MAX_OBJECT_SIZE): split it or raise the limit"
            )
            return facts.model_copy(update={"error": error})
        sha256, first_bytes = await self._hash(change)
        mismatch = file_types.content_mismatch(content_type, first_bytes)
        if mismatch:
            return facts.model_copy(update={"sha256": sha256, "error": f"{mismatch}: upload the right file"})
        return facts.model_copy(update={"sha256": sha256})

    @activity.defn(name="register_document")
    async def register_document(self, registration: Registration) -> RegisteredDocument | None:
        request, validated = registration.request, registration.validated
        if validated.error:
            WORKFLOW_OUTCOMES.labels("failed").inc()
        return await documents.register_version(
            self.pool,
            request.change,
            validated,
            request.workflow_id,
            collection=self.settings.qdrant_collection,
        )

    @activity.defn(name="publish_document_ready")
    async def publish_document_ready(self, publication: Publication) -> None:
        request, validated = publication.request, publication.validated
        change = request.change
        # The chunks go to the generation live now: a reindex replays what arrives meanwhile.
        live = await self.generations.get(self.settings.qdrant_collection)
        event = DocumentReady(
            document_id=request.document_id,
            version=change.version,
            workflow_id=request.workflow_id,
            collection=live.name if live else self.settings.qdrant_collection,
            operation="delete" if change.kind == "removed" else "index",
            bucket=change.bucket,
            key=change.key,
            version_id=change.version_id,
            filename=validated.filename,
            content_type=validated.content_type,
            size=validated.size,
            sha256=validated.sha256,
            uploaded_at=change.event_time or activity.info().started_time,
        )
        await publish_event(self.broker, self.settings.topic(DOCUMENT_READY), event)

    @activity.defn(name="finalize_document")
    async def finalize_document(self, outcome: Finalization) -> None:
        WORKFLOW_OUTCOMES.labels(outcome.status).inc()
        if not await documents.finalize(self.pool, outcome):
            log.info("document %s: version %s was superseded", outcome.document_id, outcome.version)

    async def _head(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any] | None:
        kwargs = {"Bucket": bucket, "Key": key} | ({"VersionId": version_id} if version_id else {})
        try:
            head: dict[str, Any] = await self.s3.head_object(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NoSuchVersion", "405"}:
                return None
            raise
        return head

    async def _hash(self, change: S3ObjectChange) -> tuple[str, bytes]:
        """The sha256 of the object version and its first bytes, read in a stream."""
        kwargs = {"Bucket": change.bucket, "Key": change.key}
        if change.version_id:
            kwargs["VersionId"] = change.version_id
        response = await self.s3.get_object(**kwargs)
        digest = hashlib.sha256()
        head = b""
        body = response["Body"]
        async with body:
            async for chunk in body.iter_chunks(_READ_CHUNK):
                digest.update(chunk)
                if len(head) < file_types.SNIFF_BYTES:
                    head += chunk[: file_types.SNIFF_BYTES - len(head)]
        return digest.hexdigest(), head
