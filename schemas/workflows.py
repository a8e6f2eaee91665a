"""Inputs and outputs of the Temporal `UploadWorkflow`, its activities and signals."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from schemas.s3_events import S3ObjectChange

UPLOAD_WORKFLOW = "UploadWorkflow"
SIGNAL_INDEXING_FINISHED = "indexing_finished"
SIGNAL_INDEXING_FAILED = "indexing_failed"


class UploadRequest(BaseModel):
    """What the intake starts a workflow with: one object version, created or removed."""

    change: S3ObjectChange
    document_id: UUID
    workflow_id: str
    indexing_timeout: timedelta = timedelta(hours=1)
    reprocess: bool = Field(default=False, description="index the version again, even if it is registered")


class ValidatedObject(BaseModel):
    """What `validate_s3_object` found: the object's facts, or why it cannot be indexed."""

    filename: str
    content_type: str = ""
    size: int = 0
    sha256: str | None = None
    groups: list[str] = Field(
        default_factory=list, description="who may see it (metadata ragstream-groups); none: its tenant"
    )
    error: str | None = Field(
        default=None, description="why the object cannot be indexed, for a person to act on"
    )
    skip_reason: str | None = Field(default=None, description="why there is nothing to do (not a failure)")


class Registration(BaseModel):
    """Input of `register_document`."""

    request: UploadRequest
    validated: ValidatedObject


class Publication(BaseModel):
    """Input of `publish_document_ready`."""

    request: UploadRequest
    validated: ValidatedObject


class RegisteredDocument(BaseModel):
    """What `register_document` recorded, and whether indexing can be skipped (content unchanged)."""

    document_id: UUID
    unchanged: bool = False
    duplicate_of: str | None = Field(default=None, description="the workflow registering the same version")
    chunk_count: int = 0
    indexed_version: str | None = Field(default=None, description="the version whose chunks are indexed")


class IndexingResult(BaseModel):
    """Payload of the `indexing_finished` signal."""

    version: str
    chunk_count: int = Field(ge=0)
    coverage: float | None = Field(default=None, description="the share of the document's words indexed")


class IndexingFailure(BaseModel):
    """Payload of the `indexing_failed` signal."""

    version: str
    stage: str
    error: str


class Finalization(BaseModel):
    """Input of `finalize_document`: the outcome to record for one document version."""

    document_id: UUID
    version: str
    status: Literal["complete", "failed", "deleted"]
    chunk_count: int = 0
    coverage: float | None = Field(default=None, description="the share of the document's words indexed")
    error: str | None = None
    note: str | None = Field(default=None, description="what a person should know, e.g. that nothing changed")
    indexed_version: str | None = Field(default=None, description="the version whose chunks are indexed")


class UploadOutcome(BaseModel):
    """What the workflow returns."""

    document_id: UUID
    version: str
    status: Literal["complete", "failed", "deleted", "superseded"]
    chunk_count: int = 0
    error: str | None = None
    note: str | None = None
