"""Reading request bodies, path and query parameters into models, with 4xx errors for anything bad."""

from __future__ import annotations

import json
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from apps.query_api.errors import ApiError, describe_validation_error

M = TypeVar("M", bound=BaseModel)


async def read_json(request: Request) -> Any:
    max_bytes: int = request.app.state.settings.api_max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "payload_too_large", f"the body is over {max_bytes} bytes")
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > max_bytes:
            raise ApiError(413, "payload_too_large", f"the body is over {max_bytes} bytes")
    if not body:
        raise ApiError(400, "invalid_json", "the request needs a JSON body")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from exc


async def read_model(request: Request, model: type[M]) -> M:
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", describe_validation_error(exc)) from exc


def path_uuid(request: Request, name: str = "id") -> UUID:
    raw = request.path_params[name]
    try:
        return UUID(str(raw))
    except ValueError:
        raise ApiError(422, "invalid_id", f"{name} must be a UUID, not {raw!r}") from None


def query_int(request: Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, "invalid_request", f"{name} must be an integer, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ApiError(422, "invalid_request", f"{name} must be between {minimum} and {maximum}")
    return value
