"""Topic names and the model each one carries."""

from __future__ import annotations

from pydantic import BaseModel

from schemas.events import (
    DocumentChunked,
    DocumentEmbedded,
    DocumentFailed,
    DocumentIndexed,
    DocumentReady,
)
from schemas.s3_events import S3EventNotification

S3_EVENTS = "s3.events"
DOCUMENT_READY = "document.ready"
DOCUMENT_CHUNKED = "document.chunked"
DOCUMENT_EMBEDDED = "document.embedded"
DOCUMENT_INDEXED = "document.indexed"
DOCUMENT_FAILED = "document.failed"

TOPIC_MODELS: dict[str, type[BaseModel]] = {
    S3_EVENTS: S3EventNotification,
    DOCUMENT_READY: DocumentReady,
    DOCUMENT_CHUNKED: DocumentChunked,
    DOCUMENT_EMBEDDED: DocumentEmbedded,
    DOCUMENT_INDEXED: DocumentIndexed,
    DOCUMENT_FAILED: DocumentFailed,
}

DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    """Where messages of `topic` that kept failing go, with headers `x-error`, `x-attempts`, `x-stage`."""
    return f"{topic}{DLQ_SUFFIX}"
