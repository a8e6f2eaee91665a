"""Reading request bodies, path and query parameters into models, with 4xx errors for anything bad."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from apps.query_api.errors import ApiError, describe_validation_error

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 past `RAGSTREAM_API_MAX_BODY_BYTES` (before reading it all)."""
    max_bytes: int = request.app.state.settings.api_max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "payload_too_large", f"the body is over {max_bytes} bytes")
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > max_bytes:
            raise ApiError(413, "payload_too_large", f"the body is over {max_bytes} bytes")
    if not body.strip():
        raise ApiError(400, "invalid_json", "the request needs a JSON body")
    return body


async def read_model(request: Request, model: type[M]) -> M:
    """The body as `model`, strictly: `"stream": 0` is not a boolean, `"top_k": "5"` not a number."""
    body = await read_body(request)
    try:
        return model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise ApiError(
                400, "invalid_json", f"the body is not valid JSON: {exc.errors()[0]['msg']}"
            ) from exc
        raise ApiError(422, "invalid_request", describe_validation_error(exc)) from exc


def path_uuid(request: Request, name: str = "id") -> UUID:
    raw = request.path_params[name]
    try:
        return UUID(str(raw))
    except ValueError:
        raise ApiError(422, "invalid_id", f"{name} must be a UUID, not {raw!r}") from None


def read_query(request: Request, model: type[M]) -> M:
    """The query string as `model` (each parameter given once)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", describe_validation_error(exc)) from exc
