"""The payload of a chunk's point in Qdrant: what search results carry back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from pydantic import BaseModel, Field


class ChunkPayload(BaseModel):
    document_id: UUID
    version: str
    chunk_index: int = Field(ge=0)
    content: str
    filename: str
    upload_timestamp: datetime
    page: int | None = None
    section: str | None = None
    # Who may see the chunk (`apps.common.identity.Access`): "default" is DEFAULT_TENANT there,
    # spelled out because schemas import nothing from apps.
    tenant_id: str = "default"
    groups: list[str] = Field(default_factory=list)
    # "staged": written, but not searched until every batch of its version is in, so a version is
    # served whole or not at all. A keyword, not a bool: Qdrant Edge's Python filters cannot match a
    # bool. Points written before this field have none, and read (and are searched) as published.
    publication: Literal["staged", "published"] = "published"


def point_id(document_id: UUID, version: str, chunk_index: int) -> UUID:
    """Deterministic: a retried or replayed upsert overwrites the same point instead of adding one."""
    return uuid5(document_id, f"{version}:{chunk_index}")
