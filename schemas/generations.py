"""Collection generations: each Qdrant collection behind the `documents` alias, how it was built
(embedding model, chunking), and the progress of building one by replaying a topic."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, Strict

from schemas.json_types import WHOLE_NUMBER

GenerationStatus = Literal["requested", "building", "live", "retired", "failed", "dropped"]
ReplaySource = Literal["document.ready", "document.chunked"]


class Generation(BaseModel):
    name: str = Field(description="the physical collection, e.g. documents_g2")
    alias: str
    number: int
    embedding_model: str
    dimensions: int
    chunk_size: int
    chunk_overlap: int
    source: Literal["ingestion", "document.ready", "document.chunked"]
    status: GenerationStatus
    documents_total: int = 0
    documents_done: int = 0
    chunks_done: int = 0
    error_message: str | None = None
    created_at: datetime
    live_at: datetime | None = None


class GenerationWithPoints(Generation):
    points: int | None = Field(description="points in the collection (None once dropped)")


class GenerationList(BaseModel):
    items: list[GenerationWithPoints]


class ReindexRequest(BaseModel):
    """A new generation, rebuilt from a topic's history with these settings."""

    model_config = ConfigDict(extra="forbid")

    source: ReplaySource = Field(
        default="document.ready",
        description="document.ready re-parses everything; document.chunked only re-embeds (same chunks)",
    )
    embedding_model: str | None = Field(default=None, description="default: the live generation's")
    chunk_size: Annotated[int, Strict(), Ge(16), Le(8191), WHOLE_NUMBER] | None = Field(
        default=None, description="tokens per chunk; default: the live generation's"
    )
    chunk_overlap: Annotated[int, Strict(), Ge(0), Le(4000), WHOLE_NUMBER] | None = Field(
        default=None, description="tokens shared by neighbouring chunks; default: the live generation's"
    )
