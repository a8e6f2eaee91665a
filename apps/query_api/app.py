"""The Starlette application: routes, error handlers, and the resources the routes use."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import Route

from apps.common.database import Pool
from apps.common.embeddings import Embedder
from apps.common.llm import ChatModel
from apps.common.settings import Settings
from apps.common.temporal import LazyTemporal
from apps.common.vector_store import VectorStore
from apps.query_api import conversation_routes, document_routes, health_routes, query_routes, s3_event_routes
from apps.query_api.conversation_store import ConversationStore
from apps.query_api.errors import EXCEPTION_HANDLERS
from apps.query_api.rag import RagEngine


@dataclass
class ApiResources:
    settings: Settings
    pool: Pool
    store: VectorStore
    embedder: Embedder
    chat: ChatModel
    temporal: LazyTemporal


ROUTES = [
    Route("/v1/query", query_routes.query, methods=["POST"]),
    Route("/v1/conversations", conversation_routes.list_conversations, methods=["GET"]),
    Route("/v1/conversations", conversation_routes.create_conversation, methods=["POST"]),
    Route("/v1/conversations/{id}", conversation_routes.get_conversation, methods=["GET"]),
    Route("/v1/conversations/{id}", conversation_routes.delete_conversation, methods=["DELETE"]),
    Route("/v1/documents", document_routes.list_documents, methods=["GET"]),
    Route("/v1/documents/{id}", document_routes.get_document, methods=["GET"]),
    Route("/v1/documents/{id}", document_routes.delete_document, methods=["DELETE"]),
    Route("/v1/documents/{id}/reprocess", document_routes.reprocess_document, methods=["POST"]),
    Route("/v1/s3/events", s3_event_routes.receive_s3_events, methods=["POST"]),
    Route("/healthz", health_routes.healthz, methods=["GET"]),
    Route("/readyz", health_routes.readyz, methods=["GET"]),
]


def create_app(resources: ApiResources) -> Starlette:
    app = Starlette(routes=ROUTES, exception_handlers=EXCEPTION_HANDLERS)
    conversations = ConversationStore(resources.pool)
    app.state.settings = resources.settings
    app.state.pool = resources.pool
    app.state.store = resources.store
    app.state.temporal = resources.temporal
    app.state.conversations = conversations
    app.state.engine = RagEngine(
        resources.settings,
        store=resources.store,
        embedder=resources.embedder,
        chat=resources.chat,
        conversations=conversations,
    )
    return app
