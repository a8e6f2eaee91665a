"""Event models, one per Kafka topic of the ingestion chain (see `schemas.topics`)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, WithJsonSchema

Operation = Literal["index", "delete"]


def _from_base64(value: Any) -> Any:
    return base64.b64decode(value, validate=True) if isinstance(value, str) else value


# Raw bytes in Python, base64 in JSON: about a third of the size of a JSON list of floats.
PackedVectors = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(lambda raw: base64.b64encode(raw).decode("ascii"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]


class DocumentRef(BaseModel):
    """What every event after `document.ready` says about the document version it carries."""

    document_id: UUID
    version: str
    workflow_id: str
    collection: str = Field(description="the Qdrant collection, or alias, the chunks go to")


class DocumentReady(DocumentRef):
    """`document.ready`: a validated, registered object version, to parse and index (or to delete)."""

    operation: Operation = "index"
    bucket: str
    key: str
    version_id: str | None = Field(
        default=None, description="the S3 VersionId to read, on a versioned bucket"
    )
    filename: str
    content_type: str
    size: int = Field(ge=0)
    sha256: str | None = None
    uploaded_at: datetime
    tenant: str = Field(default="default", description="the tenant the object's key belongs to")
    groups: list[str] = Field(default_factory=list, description="who may see it; none: the whole tenant")


class Chunk(BaseModel):
    index: int = Field(ge=0)
    text: str
    token_count: int = Field(ge=0)
    page: int | None = None
    section: str | None = None


class DocumentChunked(DocumentRef):
    """`document.chunked`: one batch of a document version's chunks, published while parsing goes on;
    the last batch says how many there are (`batch_count`) and how much of the document they hold."""

    operation: Operation = "index"
    filename: str
    uploaded_at: datetime
    tenant: str = "default"
    groups: list[str] = Field(default_factory=list)
    batch_index: int = Field(ge=0)
    batch_count: int | None = Field(
        default=None,
        ge=1,
        description="how many batches the version has: on its last batch (and on every batch of events"
        " published before parsing streamed); None on the others",
    )
    chunks: list[Chunk]
    coverage: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="the share of the document's words that its chunks hold, on the last batch;"
        " None on the others and where it is not measured",
    )


class DocumentEmbedded(DocumentChunked):
    """`document.embedded`: a chunk batch with its vectors, packed as little-endian float32 rows."""

    embedding_model: str
    dimensions: int = Field(ge=0)
    vectors: PackedVectors = Field(description="len(chunks) x dimensions float32, little-endian, row-major")


class DocumentIndexed(DocumentRef):
    """`document.indexed`: every chunk of the version is searchable and older versions are gone."""

    chunk_count: int = Field(ge=0)
    coverage: float | None = Field(
        default=None, ge=0, le=1, description="the share of the document's words that its chunks hold"
    )


class DocumentFailed(DocumentRef):
    """`document.failed`: a stage gave up on the version; `error` says why, for a person to act on."""

    stage: str
    error: str
