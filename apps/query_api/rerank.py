"""Reranking: the search's candidates reordered by a cross-encoder behind the common `/rerank` HTTP API
(Cohere's shape, which Jina and others serve, or Hugging Face TEI's); a failed one keeps the fused order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
from pydantic import ValidationError

from apps.common.settings import Settings
from apps.query_api.metrics import RERANK_FAILURES
from schemas.api import Source
from schemas.rerank import (
    TEI_RERANK_RESPONSE,
    CohereRerankRequest,
    CohereRerankResponse,
    RerankProtocol,
    TeiRerankRequest,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranked:
    index: int  # into the texts sent
    score: float


class RerankError(Exception):
    """The reranker gave no usable answer; its `reason` (timeout, connection, status, response) labels
    the failures' metric."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Reranker(Protocol):
    async def rerank(self, query: str, texts: Sequence[str], top_n: int) -> list[Ranked]:
        """The best `top_n` of `texts` for `query`, best first; `RerankError` if the reranker fails."""
        ...

    async def close(self) -> None: ...


class HttpReranker:
    """A reranker at `url`, asked in `protocol`'s shape through one pooled client (close it when done)."""

    def __init__(
        self,
        url: str,
        *,
        protocol: RerankProtocol = "cohere",
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.protocol = protocol
        self.model = model
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout, transport=transport)

    async def rerank(self, query: str, texts: Sequence[str], top_n: int) -> list[Ranked]:
        if not texts:
            return []
        try:
            # One deadline for the whole exchange: httpx's own timeouts are per read, not per request.
            async with asyncio.timeout(self.timeout):
                response = await self._client.post(self.url, json=self._request(query, list(texts), top_n))
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise RerankError("timeout", f"no answer from {self.url} within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise RerankError("connection", f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if response.is_error:
            raise RerankError("status", f"{self.url} answered {response.status_code}: {response.text[:200]}")
        try:
            ranked = self._ranked(response.content)
        except ValidationError as exc:
            shape = f"{self.url} answered in another shape than {self.protocol}'s: {exc}"
            raise RerankError("response", shape) from exc
        return _best(ranked, len(texts), top_n)

    def _request(self, query: str, texts: list[str], top_n: int) -> dict[str, object]:
        if self.protocol == "tei":
            return TeiRerankRequest(query=query, texts=texts).model_dump()
        request = CohereRerankRequest(model=self.model, query=query, documents=texts, top_n=top_n)
        return request.model_dump(exclude_none=True)

    def _ranked(self, content: bytes) -> list[Ranked]:
        if self.protocol == "tei":
            return [Ranked(r.index, r.score) for r in TEI_RERANK_RESPONSE.validate_json(content)]
        answer = CohereRerankResponse.model_validate_json(content)
        return [Ranked(r.index, r.relevance_score) for r in answer.results]

    async def close(self) -> None:
        await self._client.aclose()


def _best(ranked: list[Ranked], sent: int, top_n: int) -> list[Ranked]:
    """The `top_n` best of an answer that ranks distinct texts among those sent, and enough of them."""
    indexes = [r.index for r in ranked]
    if len(set(indexes)) != len(indexes) or not all(0 <= i < sent for i in indexes):
        raise RerankError("response", f"the indexes {indexes} are not distinct texts among the {sent} sent")
    wanted = min(top_n, sent)
    if len(ranked) < wanted:
        raise RerankError("response", f"{len(ranked)} texts ranked, of the {wanted} asked for")
    # Cohere's and TEI's answers come best first already; not every server's does.
    return sorted(ranked, key=lambda r: -r.score)[:wanted]


async def reranked(reranker: Reranker, query: str, sources: list[Source], top_k: int) -> list[Source]:
    """The reranker's best `top_k` of `sources`, each with its `rerank_score` beside its retrieval score.
    If the reranker fails, the first `top_k` as they came (the fused order), with a warning: an answer
    never fails for it."""
    try:
        ranked = await reranker.rerank(query, [s.text for s in sources], top_k)
    except Exception as exc:
        reason = exc.reason if isinstance(exc, RerankError) else "error"
        RERANK_FAILURES.labels(reason).inc()
        log.warning(
            "reranking failed, the sources keep their fused order: %s",
            exc,
            exc_info=not isinstance(exc, RerankError),  # a bug's traceback, not a server's failure
        )
        return sources[:top_k]
    return [sources[r.index].model_copy(update={"rerank_score": r.score}) for r in ranked]


def make_reranker(settings: Settings) -> HttpReranker | None:
    """The configured reranker, or None: reranking is off unless `RAGSTREAM_RERANK_URL` is set."""
    if not settings.rerank_url:
        return None
    key = settings.rerank_api_key.get_secret_value() if settings.rerank_api_key else None
    return HttpReranker(
        settings.rerank_url,
        protocol=settings.rerank_protocol,
        model=settings.rerank_model,
        api_key=key,
        timeout=settings.rerank_timeout_seconds,
    )
