"""The OpenAI-compatible surface of the query API: `/v1/chat/completions` and `/v1/models`.

ragstream is a model to OpenAI clients. The last user message is the question, earlier
messages are the conversation so far. The retrieved chunks travel in the extra field
`sources` (of the response, or of the first streamed chunk) and the numbers of those the
answer cites in `citations` (of the response, or of the finishing chunk), which OpenAI
clients ignore and ragstream-aware ones read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.api import CITATIONS, MAX_QUERY_CHARS, RetrievalOptions, Source, SourceNumber

RAGSTREAM_MODEL = "ragstream"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str = Field(max_length=MAX_QUERY_CHARS * 4)


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(RetrievalOptions):
    """OpenAI's request; sampling options are accepted and ignored. `top_k` and the filters are ours."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(default=RAGSTREAM_MODEL, max_length=200)
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=200,
        description="the conversation; its last non-empty `user` message is the question",
        json_schema_extra={
            "contains": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {"role": {"const": "user"}, "content": {"minLength": 1}},
            }
        },
    )
    stream: bool = False
    stream_options: StreamOptions | None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    sources: list[Source] = Field(description="ragstream's extra field: the chunks the answer is grounded in")
    citations: list[SourceNumber] = Field(description=f"ragstream's extra field: {CITATIONS}")


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None
    sources: list[Source] | None = Field(default=None, description="in the first chunk: the retrieved chunks")
    citations: list[SourceNumber] | None = Field(
        default=None, description=f"in the finishing chunk: {CITATIONS}"
    )


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]
