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

from apps.common.identity import Scope
from schemas.api import UPLOAD_KEY_MAX_CHARS, UPLOAD_KEY_PATTERN, ErrorResponse

Handler = Callable[[Request], Awaitable[Response]]
EndpointScope = Scope | Literal["public", "identified"]
JsonSchemaMode = Literal["validation", "serialization"]
_PATH_SCHEMAS = {
    "id": {"type": "string", "format": "uuid"},
    "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,128}$"},
}
_UPLOAD = {
    "type": "object",
    "required": ["file"],
    "additionalProperties": False,
    "properties": {
        "file": {"type": "string", "format": "binary", "minLength": 1, "description": "the document"},
        "groups": {"type": "string", "description": "comma-separated groups that may see it"},
        "key": {
            "type": "string",
            "pattern": UPLOAD_KEY_PATTERN,
            "maxLength": UPLOAD_KEY_MAX_CHARS,
            "description": "its key under the tenant's prefix (a/b/c.pdf); default the filename",
        },
    },
}
ERROR_DESCRIPTIONS = {
    400: "The body is not JSON (or not a multipart form, for an upload)",
    401: "Missing or wrong credentials (when RAGSTREAM_API_TOKEN or a JWT key is set)",
    403: "The caller's credentials do not grant the scope this route needs",
    404: "No such resource",
    409: "The resource is in a state that does not allow this",
    413: "The body is too large",
    415: "A type of file ragstream cannot parse, or a file that is not what its name says",
    422: "The request is not valid",
    502: "The answer failed upstream (the model or the vector store); the question is kept",
    503: "A server this route needs (Kafka, for the dead letters) did not answer: try again when it is up",
}


@dataclass(frozen=True)
class Endpoint:
    method: Literal["GET", "POST", "DELETE"]
    path: str
    handler: Handler
    summary: str
    tag: str
    request: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    # The events of a 200 text/event-stream answer: (event name, or None if unnamed; its data's model).
    stream_events: Sequence[tuple[str | None, type[BaseModel]]] = ()
    stream_ends_with_done: bool = False
    media_type: str = "application/json"
    query: type[BaseModel] | None = None
    errors: Sequence[int] = ()
    upload: bool = False  # a multipart/form-data body: `file`, and optional `groups` and `key`
    # The scope a caller needs; "public": none, not even credentials; "identified": credentials only.
    scope: EndpointScope = field(kw_only=True)
    # Acts on every tenant's data (the generations, the bucket's events, the metrics): only the
    # platform's operators, admins of the default tenant, may call it.
    whole_system: bool = False

    @property
    def public(self) -> bool:
        return self.scope == "public"

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
        models.update((model, "serialization") for _, model in endpoint.stream_events)
    refs, top = models_json_schema(
        sorted(models, key=lambda m: (m[0].__name__, m[1])), ref_template="#/components/schemas/{model}"
    )
    definitions: dict[str, Any] = top.get("$defs", {})
    return {key: ref for key, ref in refs.items()}, definitions


def _event_schema(endpoint: Endpoint, refs: SchemaRefs) -> dict[str, Any]:
    """One Server-Sent Event of the stream: its name, and its data as JSON of the event's model."""
    variants = []
    for name, model in endpoint.stream_events:
        data = {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": refs[(model, "serialization")],
        }
        event: dict[str, Any] = {"type": "object", "required": ["data"], "properties": {"data": data}}
        if name is not None:
            event["required"].append("event")
            event["properties"]["event"] = {"const": name}
        variants.append(event)
    if endpoint.stream_ends_with_done:
        variants.append({"type": "object", "required": ["data"], "properties": {"data": {"const": "[DONE]"}}})
    return {"anyOf": variants}


def _operation(endpoint: Endpoint, refs: SchemaRefs, *, secured: bool) -> dict[str, Any]:
    error = {"application/json": {"schema": refs[(ErrorResponse, "serialization")]}}
    responses: dict[str, Any] = {}
    for status, model in endpoint.responses.items():
        content: dict[str, Any] = {}
        if model is not None:
            content[endpoint.media_type] = {"schema": refs[(model, "serialization")]}
        if endpoint.stream_events and status == 200:
            content["text/event-stream"] = {"schema": _event_schema(endpoint, refs)}
        responses[str(status)] = {"description": (model.__doc__ or "OK").strip().splitlines()[0]}
        if content:
            responses[str(status)]["content"] = content
    scoped = endpoint.scope not in ("public", "identified")
    guarded = (*((401,) if not endpoint.public else ()), *((403,) if scoped else ())) if secured else ()
    for status in (*endpoint.errors, *guarded):
        responses[str(status)] = {"description": ERROR_DESCRIPTIONS[status], "content": error}
    operation: dict[str, Any] = {
        "operationId": f"{endpoint.handler.__name__}",
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "responses": responses,
        "x-scope": endpoint.scope,
    }
    if endpoint.whole_system:
        operation["x-whole-system"] = True
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _PATH_SCHEMAS[name]}
        for name in endpoint.path_parameters
    ]
    if endpoint.query is not None:
        for name, schema in endpoint.query.model_json_schema()["properties"].items():
            description = schema.pop("description", name)
            # A query parameter is absent rather than null.
            variants = [v for v in schema.pop("anyOf", []) if v.get("type") != "null"]
            schema |= variants[0] if len(variants) == 1 else {}
            if schema.get("default", 0) is None:
                del schema["default"]
            parameters.append(
                {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
            )
    if parameters:
        operation["parameters"] = parameters
    if endpoint.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(endpoint.request, "validation")]}},
        }
    if endpoint.upload:
        operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": _UPLOAD}}}
    if secured and not endpoint.public:
        operation["security"] = [{"bearer": []}]
    return operation


def openapi_document(
    endpoints: Sequence[Endpoint], *, title: str, version: str, description: str, secured: bool
) -> dict[str, Any]:
    """OpenAPI 3.1 of `endpoints`; `secured`: whether all but the public routes need a bearer token."""
    refs, schemas = _schemas(endpoints)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(
            endpoint, refs, secured=secured
        )
    components: dict[str, Any] = {"schemas": schemas}
    if secured:
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": components,
    }
