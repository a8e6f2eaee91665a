"""`/v1/generations`: the collections behind the alias, reindexing into a new one, dropping old ones."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.common import generations
from apps.common.build_settings import build_settings
from apps.common.vector_store import CollectionNotFound
from apps.query_api.errors import ApiError
from apps.query_api.requests import read_model
from schemas.generations import Generation, GenerationList, GenerationWithPoints, ReindexRequest

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


async def _with_points(request: Request, generation: Generation) -> GenerationWithPoints:
    points = None
    if generation.status != "dropped":
        try:
            points = await request.app.state.store.count(generation.name)
        except CollectionNotFound:
            points = 0
    return GenerationWithPoints(**generation.model_dump(), points=points)


async def _generation_or_404(request: Request) -> Generation:
    name = request.path_params["name"]
    generation = await generations.get(request.app.state.pool, name) if _NAME.match(name) else None
    if generation is None or generation.alias != request.app.state.settings.qdrant_collection:
        raise ApiError(404, "generation_not_found", f"no generation {name!r}")
    return generation


async def list_generations(request: Request) -> Response:
    alias = request.app.state.settings.qdrant_collection
    items = [
        await _with_points(request, g) for g in await generations.list_all(request.app.state.pool, alias)
    ]
    return JSONResponse(GenerationList(items=items).model_dump(mode="json"))


async def get_generation(request: Request) -> Response:
    generation = await _generation_or_404(request)
    return JSONResponse((await _with_points(request, generation)).model_dump(mode="json"))


async def request_reindex(request: Request) -> Response:
    """Start building a new generation by replaying a topic; follow it with GET /v1/generations/{name}."""
    body = await read_model(request, ReindexRequest)
    pool = request.app.state.pool
    alias = request.app.state.settings.qdrant_collection
    existing = await generations.list_all(pool, alias)
    live = next((g for g in existing if g.status == "live"), None)
    if live is None:
        raise ApiError(409, "conflict", "there is no live generation to rebuild yet")
    building = [g.name for g in existing if g.status in ("requested", "building")]
    if building:
        raise ApiError(
            409, "conflict", f"{building[0]} is being built already: wait for it, or see its progress"
        )
    model = body.embedding_model or live.embedding_model
    # Unless asked otherwise, keep the live chunking (always, replaying chunks); a new model
    # replaying documents gets its own default chunking.
    keep = model == live.embedding_model or body.source == "document.chunked"
    try:
        build = build_settings(
            model,
            body.chunk_size or (live.chunk_size if keep else None),
            body.chunk_overlap if body.chunk_overlap is not None else (live.chunk_overlap if keep else None),
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    rechunked = (build.chunk_size, build.chunk_overlap) != (live.chunk_size, live.chunk_overlap)
    if body.source == "document.chunked" and rechunked:
        message = (
            "replaying document.chunked keeps the chunks as they are: a new chunking needs document.ready"
        )
        raise ApiError(422, "invalid_request", message)
    generation = await generations.request(pool, alias, build, body.source)
    return JSONResponse((await _with_points(request, generation)).model_dump(mode="json"), status_code=202)


async def drop_generation(request: Request) -> Response:
    """Delete a generation's collection; the live one, or one being built, cannot be dropped."""
    generation = await _generation_or_404(request)
    if generation.status in ("live", "requested", "building"):
        raise ApiError(409, "conflict", f"{generation.name} is {generation.status}: it cannot be dropped")
    await request.app.state.store.drop_collection(generation.name)
    await generations.set_status(request.app.state.pool, generation.name, "dropped")
    return Response(status_code=204)
