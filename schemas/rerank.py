"""The rerank HTTP API ragstream calls: Cohere's `/v2/rerank` shape (Jina, vLLM and Infinity serve it
too) or Hugging Face TEI's `/rerank`. Fields a server adds to its answer are ignored."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

RerankProtocol = Literal["cohere", "tei"]


class _Answer(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)


class CohereRerankRequest(BaseModel):
    model: str | None = None  # left out when unset: a self-hosted server serves one model
    query: str
    documents: list[str]
    top_n: int


class CohereRerankResult(_Answer):
    index: int = Field(strict=True)
    relevance_score: float


class CohereRerankResponse(_Answer):
    results: list[CohereRerankResult]


class TeiRerankRequest(BaseModel):
    query: str
    texts: list[str]
    truncate: bool = True  # a chunk longer than the model's input is cut, not refused


class TeiRank(_Answer):
    index: int = Field(strict=True)
    score: float


TEI_RERANK_RESPONSE = TypeAdapter(list[TeiRank])
