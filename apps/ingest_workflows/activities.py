"""The activities of `UploadWorkflow`: everything it does to S3, Postgres and Kafka.

The object's bytes are read here (to hash and sniff them) and never enter a Temporal payload.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from botocore.exceptions import ClientError
from faststream.kafka import KafkaBroker
from temporalio import activity

from apps.common import documents, file_types
from apps.common.database import Pool
from apps.common.generations import LiveGenerations
from apps.common.identity import groups_of_metadata, tenant_of_key
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
        filename = change.filename
        if change.kind == "removed":
            if await self._unless_gone(self.s3.head_object, change, None) is not None:
                return ValidatedObject(
                    filename=filename, skip_reason="the object exists again: nothing to delete"
                )
            return ValidatedObject(filename=filename)
        # One GET: its headers answer what a HEAD would, and its body is hashed only if they pass.
        response = await self._unless_gone(self.s3.get_object, change, change.version_id)
        if response is None:
            return ValidatedObject(filename=filename, skip_reason="the object version no longer exists")
        body = response["Body"]
        async with body:
            facts = self._check(filename, int(response["ContentLength"]))
            groups = groups_of_metadata(response.get("Metadata", {}))
            facts = facts.model_copy(update={"groups": sorted(groups)})
            if facts.error:
                return facts
            sha256, first_bytes = await _digest(body)
        mismatch = file_types.content_mismatch(facts.content_type, first_bytes)
        if mismatch:
            return facts.model_copy(update={"sha256": sha256, "error": f"{mismatch}: upload the right file"})
        return facts.model_copy(update={"sha256": sha256})

    def _check(self, filename: str, size: int) -> ValidatedObject:
        """The object's facts, with an error if its type, or its size, rules it out."""
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
        return facts

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
            reprocess=request.reprocess,
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
            tenant=tenant_of_key(change.key),
            groups=validated.groups,
        )
        await publish_event(self.broker, self.settings.topic(DOCUMENT_READY), event)

    @activity.defn(name="finalize_document")
    async def finalize_document(self, outcome: Finalization) -> None:
        WORKFLOW_OUTCOMES.labels(outcome.status).inc()
        if not await documents.finalize(self.pool, outcome):
            log.info("document %s: version %s was superseded", outcome.document_id, outcome.version)

    async def _unless_gone(
        self, call: Callable[..., Awaitable[Any]], change: S3ObjectChange, version_id: str | None
    ) -> dict[str, Any] | None:
        """S3's answer to `call` (HEAD or GET; a GET's body not read yet) for the object, or its
        version; None if it does not exist or is a delete marker."""
        kwargs = {"Bucket": change.bucket, "Key": change.key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response: dict[str, Any] = await call(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NoSuchVersion", "405"}:
                return None
            raise
        return response


async def _digest(body: Any) -> tuple[str, bytes]:
    """The sha256 of a streamed body and its first bytes."""
    digest = hashlib.sha256()
    head = b""
    async for chunk in body.iter_chunks(_READ_CHUNK):
        digest.update(chunk)
        if len(head) < file_types.SNIFF_BYTES:
            head += chunk[: file_types.SNIFF_BYTES - len(head)]
    return digest.hexdigest(), head
