"""Request and response bodies of the query API (`apps/query_api`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, Strict

from schemas.json_types import WHOLE_NUMBER

# By meaning (the dense vector), by words (BM25 sparse vector), or both fused by reciprocal rank.
SearchMode = Literal["dense", "sparse", "hybrid"]

MAX_QUERY_CHARS = 8000
MAX_TOP_K = 50
TopK = Annotated[int, Strict(), Ge(1), Le(MAX_TOP_K), WHOLE_NUMBER]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetrievalOptions(BaseModel):
    """Which chunks a question may be answered from."""

    top_k: TopK | None = Field(default=None, description="chunks to retrieve (default 5)")
    document_ids: list[UUID] | None = Field(
        default=None, max_length=1000, description="search only these documents"
    )
    uploaded_after: datetime | None = Field(default=None, description="only documents uploaded at or after")
    uploaded_before: datetime | None = Field(default=None, description="only documents uploaded at or before")
    search_mode: SearchMode | None = Field(
        default=None,
        description="by meaning (dense), by words (sparse: BM25), or both fused (hybrid); default: hybrid",
    )


class QueryRequest(RetrievalOptions, _Request):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="the user's question")
    conversation_id: UUID | None = Field(
        default=None, description="continue this conversation; omit to start one"
    )
    stream: bool = Field(default=True, description="Server-Sent Events if true, else one JSON object")


class SearchRequest(RetrievalOptions, _Request):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="what to search for")


def _absent(value: object) -> bool:
    """Whether a field of what reranking adds is left out: a deployment without a reranker sends what
    it sent before there was one."""
    return value is None


RERANK_MS = "time spent reranking, a failed rerank included (absent: no reranker configured)"


class Source(BaseModel):
    document_id: UUID
    filename: str
    chunk_index: int
    score: float = Field(description="the search's score (cosine, BM25, or fused by reciprocal rank)")
    text: str
    page: int | None = None
    section: str | None = None
    rerank_score: float | None = Field(
        default=None,
        exclude_if=_absent,
        description="the reranker's score, which ordered the sources (absent: not reranked)",
    )


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class Timings(BaseModel):
    """Milliseconds spent in each step of answering."""

    embed_ms: float
    search_ms: float
    rerank_ms: float | None = Field(default=None, exclude_if=_absent, description=RERANK_MS)
    llm_ms: float
    first_token_ms: float | None = None
    total_ms: float


class SearchResponse(BaseModel):
    """The ranked chunks a question finds, as an answer would be given them; nothing generated."""

    sources: list[Source]
    search_mode: SearchMode
    collection: str | None = Field(description="the collection generation searched")
    embed_ms: float
    search_ms: float
    rerank_ms: float | None = Field(default=None, exclude_if=_absent, description=RERANK_MS)


# A source by its 1-based number in the answer's context and `[n]` markers.
SourceNumber = Annotated[int, Ge(1)]
CITATIONS = "the sources the answer cites, by their numbers in its [n] markers, in the order first cited"


class SourcesEvent(BaseModel):
    sources: list[Source]


class TokenEvent(BaseModel):
    delta: str


class DoneEvent(BaseModel):
    conversation_id: UUID
    message_id: UUID
    model: str
    collection: str | None = Field(
        default=None, description="the collection generation the sources came from"
    )
    usage: Usage
    timings: Timings
    citations: list[SourceNumber] = Field(description=CITATIONS)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class QueryResponse(DoneEvent):
    answer: str
    sources: list[Source]


class ConversationCreate(_Request):
    title: str | None = Field(default=None, max_length=500)
    metadata: dict[str, Any] = Field(default_factory=dict)


class PageQuery(BaseModel):
    """Query parameters of a listing."""

    limit: int = Field(default=50, ge=1, le=500, description="page size")
    offset: int = Field(default=0, ge=0, le=10**9, description="items to skip")


class Message(BaseModel):
    id: UUID
    role: Literal["user", "assistant", "system"]
    content: str
    metadata: dict[str, Any]
    created_at: datetime


class Conversation(BaseModel):
    id: UUID
    title: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ConversationWithMessages(Conversation):
    messages: list[Message]


class ConversationPage(BaseModel):
    items: list[Conversation]
    total: int
    limit: int
    offset: int


DocumentStatus = Literal["pending", "indexing", "complete", "failed", "deleted"]


class DocumentQuery(PageQuery):
    status: DocumentStatus | None = Field(default=None, description="only documents in this status")
    filename: str | None = Field(
        default=None,
        max_length=255,
        pattern=r"^[^\x00]*$",
        description="only documents whose filename contains this (any case)",
    )


class Document(BaseModel):
    id: UUID
    bucket: str
    s3_key: str
    filename: str
    content_type: str | None
    size_bytes: int | None
    status: DocumentStatus
    error_message: str | None
    version: str
    content_sha256: str | None
    chunk_count: int
    indexed_chunks: int = Field(
        default=0,
        description="chunks of `version` in the index so far: while it is indexing, how far it has got",
    )
    coverage: float | None = Field(
        description="the share of the indexed version's words that its chunks hold (None: not measured)"
    )
    indexed_version: str | None = Field(description="the version whose chunks are searchable")
    collection: str = Field(description="the alias of the collections the document is indexed in")
    tenant: str = Field(description="the tenant it belongs to: its key's `tenants/{tenant}/` prefix")
    groups: list[str] = Field(description="who may see it besides the tenant's admins; none: everyone in it")
    workflow_id: str | None
    uploaded_at: datetime
    indexed_at: datetime | None
    updated_at: datetime
    metadata: dict[str, Any]


class DocumentPage(BaseModel):
    items: list[Document]
    total: int
    limit: int
    offset: int


class DocumentCounts(BaseModel):
    """How many of the caller's documents are in each status."""

    counts: dict[DocumentStatus, int] = Field(description="every status, zero included")
    total: int = Field(description="all of them but the deleted")


# An upload's key under its tenant's prefix: a relative path of plain names (not absolute, no empty,
# `.` or `..` segment, no control character).
_KEY_SEGMENT = r"(?:[^/.\x00-\x1f][^/\x00-\x1f]*|\.[^/.\x00-\x1f][^/\x00-\x1f]*|\.\.[^/\x00-\x1f]+)"
UPLOAD_KEY_PATTERN = rf"^{_KEY_SEGMENT}(?:/{_KEY_SEGMENT})*$"
UPLOAD_KEY_MAX_CHARS = 300  # S3 allows 1,024 bytes for a whole key, the tenant's prefix included


class UploadUrlRequest(_Request):
    """A presigned upload: the file's name and size, and optionally its groups and key."""

    filename: str = Field(pattern=rf"^{_KEY_SEGMENT}$", max_length=255, description="a plain file name")
    size: Annotated[int, Strict(), Ge(1), WHOLE_NUMBER] = Field(
        description="bytes; over RAGSTREAM_MAX_OBJECT_SIZE is a 413"
    )
    content_type: str | None = Field(default=None, description="informative: the type comes from the name")
    groups: str | None = Field(default=None, description="comma-separated groups that may see it")
    key: str | None = Field(
        default=None,
        pattern=UPLOAD_KEY_PATTERN,
        max_length=UPLOAD_KEY_MAX_CHARS,
        description="the key under the tenant's prefix; default the filename",
    )


class PresignedUpload(BaseModel):
    """Where to PUT the file, with which headers, until when."""

    url: str
    headers: dict[str, str] = Field(description="send these with the PUT, exactly")
    key: str
    document_id: UUID
    expires_at: datetime


class S3EventsAccepted(BaseModel):
    workflows: list[str] = Field(
        description="the workflow id of each object version, started or already running"
    )
    duplicates: int = Field(description="how many were versions whose workflow had already completed")


class ReprocessRequest(_Request):
    status: Literal["failed"] = Field(description="reprocess every document of the caller's in this status")


class SkippedDocument(BaseModel):
    document_id: UUID
    reason: str


class ReprocessStarted(BaseModel):
    """The reprocessing of many documents, each in a workflow of its own."""

    workflows: list[str] = Field(description="one workflow per document, followed with GET /v1/documents")
    skipped: list[SkippedDocument] = Field(description="documents that could not be reprocessed, and why")


class WorkflowStarted(BaseModel):
    """A document operation that runs in the background: follow it with GET /v1/documents/{id}."""

    workflow_id: str
    status: Literal["indexing", "deleting"]


class Caller(BaseModel):
    """Who the API takes the caller to be."""

    tenant: str
    user: str
    groups: list[str]
    scopes: list[str] = Field(description="of query, documents:read, documents:write, admin")


class SystemInfo(BaseModel):
    """How this deployment is set up: what the console shows and defaults to."""

    version: str
    auth: bool = Field(description="whether callers must send credentials")
    chat_model: str
    embedding_model: str
    search_mode: SearchMode = Field(description="the default of queries that name none")
    top_k: int = Field(description="the default of queries that name none")
    temporal_ui: str | None = Field(description="the Temporal UI, where its workflows can be followed")
    metrics: str = Field(description="the Prometheus metrics (admin of the default tenant)")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(description="each dependency: `ok`, or why it failed")


# The stages that dead-letter what keeps failing, each into `<its input topic>.dlq`.
DeadLetterStage = Literal["parse", "embed", "upsert"]


class DeadLetterDocument(BaseModel):
    """The document version a dead letter carries, as its body names it."""

    document_id: UUID
    version: str
    filename: str | None = None
    tenant: str | None = None


class DeadLetterInfo(BaseModel):
    """A message a stage gave up on, waiting in its dead-letter topic to be redriven."""

    stage: str = Field(description="the stage that gave up on it")
    error: str = Field(description="why, as the stage's last attempt failed")
    attempts: int | None = Field(description="how many times the stage tried it")
    document: DeadLetterDocument | None = Field(description="None if its body names no document")
    topic: str = Field(description="the dead-letter topic")
    source_topic: str = Field(description="the topic a redrive sends it back to")
    partition: int
    offset: int
    dead_lettered_at: datetime


class DeadLetterQuery(BaseModel):
    stage: DeadLetterStage | None = Field(default=None, description="only the letters of this stage")


class DeadLetterList(BaseModel):
    """The dead letters waiting, oldest first in each partition."""

    items: list[DeadLetterInfo]


class RedriveRequest(_Request):
    stage: DeadLetterStage | None = Field(default=None, description="only the letters of this stage")


class SkippedDeadLetter(BaseModel):
    letter: DeadLetterInfo
    reason: str = Field(description="why it was marked handled without being sent back")


class RedriveStarted(BaseModel):
    """The letters sent back to their topics, and marked handled: their stages try them again."""

    redriven: list[DeadLetterInfo]
    skipped: list[SkippedDeadLetter] = Field(
        description="letters whose document has moved on (a newer version, deleted, complete since)"
    )
    still_waiting: int = Field(
        description="letters of the stage asked for left waiting behind another stage's in their partition"
    )
