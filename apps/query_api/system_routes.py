"""`GET /v1/system`: how this deployment is set up (models, query defaults, where to follow it)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.common.settings import Settings
from schemas.api import SystemInfo


async def system(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    info = SystemInfo(
        version=request.app.state.openapi["info"]["version"],
        auth=request.app.state.auth_enabled,
        chat_model=settings.resolved_chat_model,
        embedding_model=settings.resolved_embedding_model,
        search_mode=settings.search_mode,
        top_k=settings.query_top_k,
        temporal_ui=settings.temporal_ui_url,
        metrics="/metrics",
    )
    return JSONResponse(info.model_dump())
