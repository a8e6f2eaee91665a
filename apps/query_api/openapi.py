"""The API's routes and their OpenAPI description, from one table, so neither can miss a route.

Each `Endpoint` names its handler and the pydantic models of its request and responses;
`openapi_document` turns the table into OpenAPI 3.1 with the models' JSON Schema.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response

from schemas.api import ErrorResponse

Handler = Callable[[Request], Awaitable[Response]]
JsonSchemaMode = Literal["validation", "serialization"]
ERROR_DESCRIPTIONS = {
    400: "The body is not JSON",
    401: "Missing or wrong credentials (when RAGSTREAM_API_TOKEN or a JWT key is set)",
    404: "No such resource",
    409: "The resource is in a state that does not allow this",
    413: "The body is too large",
    422: "The request is not valid",
}


@dataclass(frozen=True)
class QueryParameter:
    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Endpoint:
    method: Literal["GET", "POST", "DELETE"]
    path: str
    handler: Handler
    summary: str
    tag: str
    request: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    streams: bool = False
    media_type: str = "application/json"
    query: Sequence[QueryParameter] = ()
    errors: Sequence[int] = ()
    public: bool = False

    @property
    def path_parameters(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


# (model, mode) -> {"$ref": ...}
SchemaRefs = dict[Any, dict[str, Any]]


def _schemas(endpoints: Sequence[Endpoint]) -> tuple[SchemaRefs, dict[str, Any]]:
    models: set[tuple[type[BaseModel], JsonSchemaMode]] = {(ErrorResponse, "serialization")}
    for endpoint in endpoints:
        if endpoint.request is not None:
            models.add((endpoint.request, "validation"))
        models.update((model, "serialization") for model in endpoint.responses.values() if model is not None)
    refs, top = models_json_schema(
        sorted(models, key=lambda m: (m[0].__name__, m[1])), ref_template="#/components/schemas/{model}"
    )
    definitions: dict[str, Any] = top.get("$defs", {})
    return {key: ref for key, ref in refs.items()}, definitions


def _operation(endpoint: Endpoint, refs: SchemaRefs) -> dict[str, Any]:
    error = {"application/json": {"schema": refs[(ErrorResponse, "serialization")]}}
    responses: dict[str, Any] = {}
    for status, model in endpoint.responses.items():
        content: dict[str, Any] = {}
        if model is not None:
            content[endpoint.media_type] = {"schema": refs[(model, "serialization")]}
        if endpoint.streams and status == 200:
            content["text/event-stream"] = {"schema": {"type": "string"}}
        responses[str(status)] = {"description": (model.__doc__ or "OK").strip().splitlines()[0]}
        if content:
            responses[str(status)]["content"] = content
    for status in (*endpoint.errors, *(() if endpoint.public else (401,))):
        responses[str(status)] = {"description": ERROR_DESCRIPTIONS[status], "content": error}
    operation: dict[str, Any] = {
        "operationId": f"{endpoint.handler.__name__}",
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "responses": responses,
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for name in endpoint.path_parameters
    ]
    parameters += [
        {"name": q.name, "in": "query", "required": False, "schema": q.schema, "description": q.description}
        for q in endpoint.query
    ]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(endpoint.request, "validation")]}},
        }
    if not endpoint.public:
        operation["security"] = [{"bearer": []}]
    return operation


def openapi_document(
    endpoints: Sequence[Endpoint], *, title: str, version: str, description: str
) -> dict[str, Any]:
    refs, schemas = _schemas(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
