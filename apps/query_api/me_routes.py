"""`GET /v1/me`: who the API takes the caller to be, as its credentials name them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.query_api.auth import identity_of
from schemas.api import Caller


async def me(request: Request) -> Response:
    identity = identity_of(request)
    caller = Caller(
        tenant=identity.tenant,
        user=identity.user,
        groups=sorted(identity.groups),
        scopes=sorted(identity.scopes),
    )
    return JSONResponse(caller.model_dump())
