"""The Starlette application: the route table (which is also the OpenAPI description), the
middleware (metrics, authentication), the error handlers, and the resources routes use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, compile_path

from apps.common.database import Pool
from apps.common.dead_letters import DeadLetters, KafkaDeadLetterLog
from apps.common.embeddings import Embedders
from apps.common.generations import LiveGenerations
from apps.common.identity import DEFAULT_TENANT
from apps.common.llm import ChatModel
from apps.common.settings import Settings
from apps.common.temporal import LazyTemporal
from apps.common.vector_store import VectorStore
from apps.query_api import (
    console_routes,
    conversation_routes,
    dead_letter_routes,
    document_routes,
    generation_routes,
    health_routes,
    me_routes,
    metrics,
    openai_routes,
    query_routes,
    s3_event_routes,
    search_routes,
    system_routes,
    upload_routes,
)
from apps.query_api.auth import Authenticator, AuthMiddleware, identity_of
from apps.query_api.errors import EXCEPTION_HANDLERS, ApiError
from apps.query_api.metrics import TelemetryMiddleware
from apps.query_api.openapi import Endpoint, Handler, openapi_document
from apps.query_api.rag import RagEngine
from apps.query_api.rerank import Reranker
from schemas import api
from schemas import openai_api as oai
from schemas.generations import GenerationList, GenerationWithPoints, ReindexRequest
from schemas.s3_events import S3EventNotification

API_VERSION = "1.0.0"


async def openapi_json(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/",
        console_routes.index,
        "The web console: documents, questions, retrieval test and system status",
        "console",
        responses={200: None},
        media_type="text/html",
        scope="public",
    ),
    Endpoint(
        "GET",
        "/v1/system",
        system_routes.system,
        "How this deployment is set up: models, query defaults, where to follow it",
        "identity",
        responses={200: api.SystemInfo},
        scope="identified",
    ),
    Endpoint(
        "GET",
        "/v1/me",
        me_routes.me,
        "Who the API takes the caller to be: tenant, user, groups and scopes",
        "identity",
        responses={200: api.Caller},
        scope="identified",
    ),
    Endpoint(
        "POST",
        "/v1/query",
        query_routes.query,
        "Answer a question, as Server-Sent Events or one JSON object",
        "query",
        request=api.QueryRequest,
        responses={200: api.QueryResponse},
        stream_events=[
            ("sources", api.SourcesEvent),
            ("token", api.TokenEvent),
            ("done", api.DoneEvent),
            ("error", api.ErrorDetail),
        ],
        errors=(400, 404, 413, 422, 502),
        scope="query",
    ),
    Endpoint(
        "POST",
        "/v1/search",
        search_routes.search,
        "The ranked chunks a question finds, with their scores; nothing generated",
        "query",
        request=api.SearchRequest,
        responses={200: api.SearchResponse},
        errors=(400, 413, 422),
        scope="query",
    ),
    Endpoint(
        "GET",
        "/v1/conversations",
        conversation_routes.list_conversations,
        "List conversations, newest first",
        "conversations",
        responses={200: api.ConversationPage},
        query=api.PageQuery,
        errors=(422,),
        scope="query",
    ),
    Endpoint(
        "POST",
        "/v1/conversations",
        conversation_routes.create_conversation,
        "Start a conversation",
        "conversations",
        request=api.ConversationCreate,
        responses={201: api.Conversation},
        errors=(400, 413, 422),
        scope="query",
    ),
    Endpoint(
        "GET",
        "/v1/conversations/{id}",
        conversation_routes.get_conversation,
        "A conversation with its messages",
        "conversations",
        responses={200: api.ConversationWithMessages},
        errors=(404, 422),
        scope="query",
    ),
    Endpoint(
        "DELETE",
        "/v1/conversations/{id}",
        conversation_routes.delete_conversation,
        "Delete a conversation",
        "conversations",
        responses={204: None},
        errors=(404, 422),
        scope="query",
    ),
    Endpoint(
        "GET",
        "/v1/documents",
        document_routes.list_documents,
        "List documents, newest first",
        "documents",
        responses={200: api.DocumentPage},
        query=api.DocumentQuery,
        errors=(422,),
        scope="documents:read",
    ),
    # Before /v1/documents/{id}: a static path must match before the parameter takes it.
    Endpoint(
        "GET",
        "/v1/documents/counts",
        document_routes.count_documents,
        "How many documents are in each status",
        "documents",
        responses={200: api.DocumentCounts},
        scope="documents:read",
    ),
    Endpoint(
        "POST",
        "/v1/documents",
        upload_routes.upload_document,
        "Upload a document (multipart) into the caller's tenant; its ingestion starts",
        "documents",
        responses={202: api.Document},
        errors=(400, 413, 415, 422),
        upload=True,
        scope="documents:write",
    ),
    Endpoint(
        "POST",
        "/v1/documents/reprocess",
        document_routes.reprocess_documents,
        "Index again every document of the caller's that failed",
        "documents",
        request=api.ReprocessRequest,
        responses={202: api.ReprocessStarted},
        errors=(400, 413, 422),
        scope="documents:write",
    ),
    Endpoint(
        "POST",
        "/v1/documents/uploads",
        upload_routes.presign_upload,
        "A presigned PUT for a large document, under the caller's tenant",
        "documents",
        request=api.UploadUrlRequest,
        responses={201: api.PresignedUpload},
        errors=(400, 413, 415, 422),
        scope="documents:write",
    ),
    Endpoint(
        "GET",
        "/v1/documents/{id}",
        document_routes.get_document,
        "A document and its indexing status",
        "documents",
        responses={200: api.Document},
        errors=(404, 422),
        scope="documents:read",
    ),
    Endpoint(
        "DELETE",
        "/v1/documents/{id}",
        document_routes.delete_document,
        "Delete a document: its S3 object, then its chunks",
        "documents",
        responses={202: api.WorkflowStarted},
        errors=(404, 422),
        scope="documents:write",
    ),
    Endpoint(
        "POST",
        "/v1/documents/{id}/reprocess",
        document_routes.reprocess_document,
        "Index a document again (after it failed)",
        "documents",
        responses={202: api.WorkflowStarted},
        errors=(404, 409, 422),
        scope="documents:write",
    ),
    Endpoint(
        "POST",
        "/v1/s3/events",
        s3_event_routes.receive_s3_events,
        "Receive S3 event notifications (webhook)",
        "ingestion",
        request=S3EventNotification,
        responses={202: api.S3EventsAccepted},
        errors=(400, 413, 422),
        whole_system=True,
        scope="admin",
    ),
    Endpoint(
        "GET",
        "/v1/generations",
        generation_routes.list_generations,
        "The collection generations: which is live, how each was built, their sizes",
        "generations",
        responses={200: GenerationList},
        whole_system=True,
        scope="admin",
    ),
    Endpoint(
        "POST",
        "/v1/generations",
        generation_routes.request_reindex,
        "Reindex: build a new generation by replaying a topic; it goes live when complete",
        "generations",
        request=ReindexRequest,
        responses={202: GenerationWithPoints},
        errors=(400, 409, 413, 422),
        whole_system=True,
        scope="admin",
    ),
    Endpoint(
        "GET",
        "/v1/generations/{name}",
        generation_routes.get_generation,
        "A generation and the progress of building it",
        "generations",
        responses={200: GenerationWithPoints},
        errors=(404,),
        whole_system=True,
        scope="admin",
    ),
    Endpoint(
        "DELETE",
        "/v1/generations/{name}",
        generation_routes.drop_generation,
        "Drop a generation that is no longer live",
        "generations",
        responses={204: None},
        errors=(404, 409),
        whole_system=True,
        scope="admin",
    ),
    Endpoint(
        "GET",
        "/v1/dead-letters",
        dead_letter_routes.list_dead_letters,
        "The messages the stages gave up on, waiting in their dead-letter topics",
        "dead-letters",
        responses={200: api.DeadLetterList},
        query=api.DeadLetterQuery,
        errors=(422, 503),
        whole_system=True,
        scope="admin",
    ),
    Endpoint(
        "POST",
        "/v1/dead-letters/redrive",
        dead_letter_routes.redrive_dead_letters,
        "Send the waiting dead letters (of one stage, or all) back to their topics, to be tried again",
        "dead-letters",
        request=api.RedriveRequest,
        responses={202: api.RedriveStarted},
        errors=(400, 413, 422, 503),
        whole_system=True,
        scope="admin",
    ),
    Endpoint(
        "POST",
        "/v1/chat/completions",
        openai_routes.chat_completions,
        "OpenAI-compatible chat completion (sources in the extra field `sources`)",
        "openai",
        request=oai.ChatCompletionRequest,
        responses={200: oai.ChatCompletion},
        stream_events=[(None, oai.ChatCompletionChunk), (None, api.ErrorResponse)],
        stream_ends_with_done=True,
        errors=(400, 413, 422),
        scope="query",
    ),
    Endpoint(
        "GET",
        "/v1/models",
        openai_routes.list_models,
        "OpenAI-compatible model list",
        "openai",
        responses={200: oai.ModelList},
        scope="query",
    ),
    Endpoint(
        "GET",
        "/healthz",
        health_routes.healthz,
        "The process is up",
        "health",
        responses={200: api.Health},
        scope="public",
    ),
    Endpoint(
        "GET",
        "/readyz",
        health_routes.readyz,
        "Postgres, the vector store and Kafka answer",
        "health",
        responses={200: api.Readiness, 503: api.Readiness},
        scope="public",
    ),
    Endpoint(
        "GET",
        "/metrics",
        metrics.metrics,
        "Prometheus metrics",
        "health",
        responses={200: None},
        media_type="text/plain",
        whole_system=True,
        scope="admin",
    ),
    Endpoint(
        "GET",
        "/openapi.json",
        openapi_json,
        "This description",
        "health",
        responses={200: None},
        scope="public",
    ),
]


@dataclass
class ApiResources:
    settings: Settings
    pool: Pool
    store: VectorStore
    embedders: Embedders
    generations: LiveGenerations
    chat: ChatModel
    temporal: LazyTemporal
    reranker: Reranker | None = None  # its owner closes it, as it does the chat model


def describe_api(*, secured: bool = False) -> dict[str, Any]:
    return openapi_document(
        ENDPOINTS,
        secured=secured,
        title="ragstream query API",
        version=API_VERSION,
        description="Questions over ingested documents, answered with sources; conversations; documents.",
    )


def _guarded(endpoint: Endpoint) -> Handler:
    """The endpoint's handler, answering 403 to a caller without the scope it declares."""
    if endpoint.scope in ("public", "identified"):
        return endpoint.handler
    scope, handler, whole_system = endpoint.scope, endpoint.handler, endpoint.whole_system

    async def guarded(request: Request) -> Response:
        identity = identity_of(request)
        if scope not in identity.scopes:
            raise ApiError(403, "forbidden", f"this route needs the scope {scope!r}, which your token lacks")
        if whole_system and identity.tenant != DEFAULT_TENANT:
            raise ApiError(
                403,
                "forbidden",
                "this route acts on every tenant: only admins of the default tenant may call it",
            )
        return await handler(request)

    return guarded


def _routes(endpoints: list[Endpoint]) -> list[Route]:
    """One route per path, dispatching on the method: a 405 then lists every method the path has.

    A static path that a parameter of another would also match (`/v1/documents/uploads` and
    `/v1/documents/{id}`) comes first and takes every method, so that the parameter never gets it."""
    handlers: dict[str, dict[str, Handler]] = {}
    for endpoint in endpoints:
        handlers.setdefault(endpoint.path, {})[endpoint.method] = _guarded(endpoint)
    patterns = [compile_path(path)[0] for path in handlers if "{" in path]
    shadowed = [path for path in handlers if "{" not in path and any(p.match(path) for p in patterns)]
    routes: list[Route] = [PathOwner(path, handlers[path]) for path in shadowed]
    for path, by_method in handlers.items():
        if path in shadowed:
            continue
        if len(by_method) == 1:
            [(method, handler)] = by_method.items()
            routes.append(Route(path, handler, methods=[method]))
            continue

        async def dispatch(request: Request, by_method: dict[str, Handler] = by_method) -> Response:
            return await by_method[request.method](request)

        routes.append(Route(path, dispatch, methods=list(by_method)))
    return routes


class PathOwner(Route):
    """A route that answers every method on its path: its own, else 405 with the methods it has."""

    EVERY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def __init__(self, path: str, by_method: dict[str, Handler]) -> None:
        self.declared_methods = set(by_method)

        async def dispatch(request: Request) -> Response:
            handler = by_method.get(request.method)
            if handler is None:
                raise HTTPException(405, headers={"Allow": ", ".join(by_method)})
            return await handler(request)

        super().__init__(path, dispatch, methods=list(self.EVERY_METHOD))


def create_app(resources: ApiResources) -> Starlette:
    routes = [*_routes(ENDPOINTS), console_routes.assets()]
    authenticator = Authenticator(resources.settings)
    public = [e.path for e in ENDPOINTS if e.public]
    app = Starlette(
        routes=routes,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            Middleware(console_routes.SecurityHeadersMiddleware),
            Middleware(TelemetryMiddleware),
            Middleware(
                AuthMiddleware,
                authenticator=authenticator,
                public_paths=public,
                public_prefixes=[console_routes.ASSETS_PREFIX + "/"],
            ),
        ],
    )
    app.state.settings = resources.settings
    app.state.pool = resources.pool
    app.state.store = resources.store
    app.state.temporal = resources.temporal
    app.state.dead_letters = DeadLetters(KafkaDeadLetterLog(resources.settings))
    app.state.openapi = describe_api(secured=authenticator.enabled)
    app.state.auth_enabled = authenticator.enabled
    app.state.engine = RagEngine(
        resources.settings,
        pool=resources.pool,
        store=resources.store,
        embedders=resources.embedders,
        generations=resources.generations,
        chat=resources.chat,
        reranker=resources.reranker,
    )
    return app
