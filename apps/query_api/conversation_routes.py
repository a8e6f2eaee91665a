"""`/v1/conversations`: create, list, read with messages, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.query_api.auth import identity_of
from apps.query_api.conversation_store import ConversationStore
from apps.query_api.errors import ApiError
from apps.query_api.requests import path_uuid, read_model, read_query
from schemas.api import ConversationCreate, ConversationPage, PageQuery


def _store(request: Request) -> ConversationStore:
    return ConversationStore(request.app.state.pool, identity_of(request))


async def create_conversation(request: Request) -> Response:
    body = await read_model(request, ConversationCreate)
    conversation = await _store(request).create(body.title, body.metadata)
    return JSONResponse(conversation.model_dump(mode="json"), status_code=201)


async def list_conversations(request: Request) -> Response:
    query = read_query(request, PageQuery)
    items, total = await _store(request).list_page(limit=query.limit, offset=query.offset)
    page = ConversationPage(items=items, total=total, limit=query.limit, offset=query.offset)
    return JSONResponse(page.model_dump(mode="json"))


async def get_conversation(request: Request) -> Response:
    conversation_id = path_uuid(request)
    conversation = await _store(request).get_with_messages(conversation_id)
    if conversation is None:
        raise ApiError(404, "conversation_not_found", f"no conversation {conversation_id}")
    return JSONResponse(conversation.model_dump(mode="json"))


async def delete_conversation(request: Request) -> Response:
    conversation_id = path_uuid(request)
    if not await _store(request).delete(conversation_id):
        raise ApiError(404, "conversation_not_found", f"no conversation {conversation_id}")
    return Response(status_code=204)
