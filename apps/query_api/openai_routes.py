"""`POST /v1/chat/completions` and `GET /v1/models`: ragstream as a model for OpenAI clients.

Stateless, as OpenAI's API is: the client sends the conversation every time, so nothing is
stored. The retrieved chunks are in the extra field `sources`, the numbers of those the answer cites
in `citations` (see `schemas.openai_api`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.query_api.auth import identity_of
from apps.query_api.errors import ApiError, error_response
from apps.query_api.prompt import Turn
from apps.query_api.rag import AnswerEvent, Failed, Finished, RagEngine, Sources, Token, collect
from apps.query_api.requests import read_model
from apps.query_api.sse import ServerSentEvent, event_stream
from schemas.api import Source, Usage
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
    events = await engine.answer_stateless(identity_of(request), question, history, body)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return event_stream(request, _chunks(events, completion_id, created, include_usage=include_usage))
    return await _completion(events, completion_id, created)


def _usage(usage: Usage) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.prompt_tokens + usage.completion_tokens,
    )


async def _completion(answer: AsyncGenerator[AnswerEvent], completion_id: str, created: int) -> Response:
    collected = await collect(answer)
    if isinstance(collected, Failed):
        return error_response(502, collected.code, collected.message)
    completion = ChatCompletion(
        id=completion_id,
        created=created,
        model=RAGSTREAM_MODEL,
        choices=[Choice(message=AssistantMessage(content=collected.text))],
        usage=_usage(collected.finished.usage),
        sources=collected.sources,
        citations=collected.finished.citations,
    )
    return JSONResponse(completion.model_dump(mode="json"))


async def _chunks(
    events: AsyncIterator[AnswerEvent], completion_id: str, created: int, *, include_usage: bool
) -> AsyncGenerator[ServerSentEvent, None]:
    """The answer as OpenAI's stream: a first chunk with the role (and ragstream's sources), a chunk a
    delta, the finish reason (and ragstream's citations), the usage when asked for, then [DONE]; or an
    error and no [DONE]."""

    def chunk(
        choices: list[ChunkChoice],
        *,
        sources: list[Source] | None = None,
        citations: list[int] | None = None,
        usage: CompletionUsage | None = None,
    ) -> ServerSentEvent:
        data = ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=RAGSTREAM_MODEL,
            choices=choices,
            sources=sources,
            citations=citations,
            usage=usage,
        )
        return ServerSentEvent(data=data.model_dump_json(exclude_none=True))

    async for event in events:
        if isinstance(event, Sources):
            yield chunk([ChunkChoice(delta=Delta(role="assistant", content=""))], sources=event.sources)
        elif isinstance(event, Token):
            yield chunk([ChunkChoice(delta=Delta(content=event.delta))])
        elif isinstance(event, Finished):
            yield chunk([ChunkChoice(delta=Delta(), finish_reason="stop")], citations=event.citations)
            if include_usage:
                yield chunk([], usage=_usage(event.usage))
        else:
            error = {"message": event.message, "type": "server_error", "code": event.code}
            yield ServerSentEvent(data=json.dumps({"error": error}))
            return
    yield ServerSentEvent(data="[DONE]")
