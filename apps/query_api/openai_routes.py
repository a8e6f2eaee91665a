"""`POST /v1/chat/completions` and `GET /v1/models`: ragstream as a model for OpenAI clients.

Stateless, as OpenAI's API is: the client sends the conversation every time, so nothing is
stored. The retrieved chunks are in the extra field `sources` (see `schemas.openai_api`).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.query_api.errors import ApiError
from apps.query_api.prompt import Turn
from apps.query_api.rag import RagEngine, Retrieval
from apps.query_api.requests import read_model
from apps.query_api.sse import event_stream
from schemas.api import Source
from schemas.openai_api import (
    RAGSTREAM_MODEL,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    CompletionUsage,
    Delta,
    Model,
    ModelList,
)

log = logging.getLogger(__name__)
_HISTORY_ROLES = {"user", "assistant"}


async def list_models(request: Request) -> Response:
    models = ModelList(data=[Model(id=RAGSTREAM_MODEL, created=0, owned_by="ragstream")])
    return JSONResponse(models.model_dump())


def _question_and_history(body: ChatCompletionRequest) -> tuple[str, list[Turn]]:
    """The last non-empty user message is the question; the user and assistant turns before it, history."""
    asked = [i for i, m in enumerate(body.messages) if m.role == "user" and m.content]
    if not asked:
        raise ApiError(422, "invalid_request", "the messages need a question: a non-empty `user` message")
    earlier = body.messages[: asked[-1]]
    history = [Turn(m.role, m.content) for m in earlier if m.role in _HISTORY_ROLES]
    return body.messages[asked[-1]].content, history


async def chat_completions(request: Request) -> Response:
    engine: RagEngine = request.app.state.engine
    body = await read_model(request, ChatCompletionRequest)
    question, history = _question_and_history(body)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        events = _stream(engine, question, history, body, completion_id, created, include_usage=include_usage)
        return event_stream(request, events)
    retrieval = await engine.retrieve(question, body)
    parts: list[str] = []
    usage = CompletionUsage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
    async for chunk in engine.chat.stream(engine.chat_request(question, history, retrieval)):
        parts.append(chunk.delta)
        if chunk.usage:
            usage = _usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
    completion = ChatCompletion(
        id=completion_id,
        created=created,
        model=RAGSTREAM_MODEL,
        choices=[Choice(message=AssistantMessage(content="".join(parts)))],
        usage=usage,
        sources=retrieval.sources,
    )
    return JSONResponse(completion.model_dump(mode="json"))


def _usage(prompt_tokens: int, completion_tokens: int) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )


async def _stream(
    engine: RagEngine,
    question: str,
    history: list[Turn],
    body: ChatCompletionRequest,
    completion_id: str,
    created: int,
    *,
    include_usage: bool,
) -> AsyncIterator[ServerSentEvent]:
    def chunk(
        choices: list[ChunkChoice],
        *,
        sources: list[Source] | None = None,
        usage: CompletionUsage | None = None,
    ) -> ServerSentEvent:
        data = ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=RAGSTREAM_MODEL,
            choices=choices,
            sources=sources,
            usage=usage,
        )
        return ServerSentEvent(data=data.model_dump_json(exclude_none=True))

    try:
        retrieval: Retrieval = await engine.retrieve(question, body)
        yield chunk([ChunkChoice(delta=Delta(role="assistant", content=""))], sources=retrieval.sources)
        usage = None
        async for part in engine.chat.stream(engine.chat_request(question, history, retrieval)):
            if part.delta:
                yield chunk([ChunkChoice(delta=Delta(content=part.delta))])
            if part.usage:
                usage = _usage(part.usage.prompt_tokens, part.usage.completion_tokens)
        yield chunk([ChunkChoice(delta=Delta(), finish_reason="stop")])
        if include_usage and usage:
            yield chunk([], usage=usage)
    except Exception as exc:
        log.exception("chat completion %s failed", completion_id)
        error = {"message": f"{type(exc).__name__}: {exc}", "type": "server_error", "code": "llm_error"}
        yield ServerSentEvent(data=json.dumps({"error": error}))
        return
    yield ServerSentEvent(data="[DONE]")
