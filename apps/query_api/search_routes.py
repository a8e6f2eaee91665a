"""`POST /v1/search`: the ranked chunks a question finds (reranked, if a reranker is configured), with their
scores, and no answer: to see why an answer found what it found (the console's retrieval test), scoped
like every read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.query_api.auth import identity_of
from apps.query_api.rag import RagEngine
from apps.query_api.requests import read_model
from schemas.api import SearchRequest, SearchResponse


async def search(request: Request) -> Response:
    engine: RagEngine = request.app.state.engine
    body = await read_model(request, SearchRequest)
    retrieval = await engine.retrieve(body.query, body, access=identity_of(request).access)
    found = SearchResponse(
        sources=retrieval.sources,
        search_mode=body.search_mode or engine.settings.search_mode,
        collection=retrieval.collection,
        embed_ms=retrieval.embed_ms,
        search_ms=retrieval.search_ms,
        rerank_ms=retrieval.rerank_ms,
    )
    return JSONResponse(found.model_dump(mode="json"))
