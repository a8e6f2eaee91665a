"""A small OpenAI-compatible server for the tests: embeddings and chat completions (streamed or not),
with switches to make it fail, so the real `openai` SDK is exercised over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from apps.devstack.process import free_port
from apps.query_api.server import api_server

# "ok"; "no_usage": no usage chunk even when asked for one; "error_event" and "disconnect": after
# the first FAILS_AFTER deltas, an SSE error event, or the connection dropped.
ChatMode = Literal["ok", "no_usage", "error_event", "disconnect"]
CHAT_DELTAS = ("The stub model ", "answers from ", "the context", ".")
CHAT_USAGE = {"prompt_tokens": 42, "completion_tokens": 9, "total_tokens": 51}
FAILS_AFTER = 2


def fake_embedding(text: str, dimensions: int) -> npt.NDArray[np.float64]:
    """Deterministic per text, so the same chunk always gets the same vector; deliberately not of
    unit length, as clients must normalise."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dimensions) * 3.0


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    authorization: str | None
    client_port: int | None  # which of the client's connections it came on


@dataclass
class OpenAIStub:
    """State the tests read and flip: requests seen, and whether (and how) to fail."""

    dimensions: int = 1536
    embeddings_down: bool = False
    embedding_failures: int = 0  # the next requests to fail, before it answers again
    chat_mode: ChatMode = "ok"
    chat_deltas: tuple[str, ...] = CHAT_DELTAS  # the streamed answer, delta by delta
    delta_delay: float = 0.0  # seconds between streamed deltas: a slow model
    abandoned_streams: int = 0  # streams the client stopped reading before the end
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_reply(self) -> str:
        return "".join(self.chat_deltas)

    @property
    def embedding_requests(self) -> list[list[str]]:
        """The inputs of each embeddings request."""
        return [_inputs(r.body) for r in self.requests if r.path == "/v1/embeddings"]

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == "/v1/chat/completions"]

    async def _record(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = await request.json()
        port = request.client.port if request.client else None
        self.requests.append(Recorded(request.url.path, body, request.headers.get("authorization"), port))
        return body

    async def embeddings(self, request: Request) -> Response:
        body = await self._record(request)
        if self.embeddings_down or self.embedding_failures > 0:
            self.embedding_failures = max(0, self.embedding_failures - 1)
            error = {"error": {"message": "upstream overloaded", "type": "server_error", "code": None}}
            # A short Retry-After keeps the SDK's backoff (0.5 s, doubling) out of the test's time.
            return JSONResponse(error, status_code=503, headers={"retry-after-ms": "10"})
        inputs = _inputs(body)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_embedding(text, self.dimensions).tolist()}
            for i, text in enumerate(inputs)
        ]
        data.reverse()  # the API does not promise order: clients sort by `index`
        usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
        return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": usage})

    async def chat(self, request: Request) -> Response:
        body = await self._record(request)
        if body.get("stream"):
            return StreamingResponse(self._events(body), media_type="text/event-stream")
        message = {"role": "assistant", "content": self.chat_reply}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        completion = _completion(body, "chat.completion", choices=[choice], usage=CHAT_USAGE)
        return JSONResponse(completion)

    async def _events(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        mode = self.chat_mode

        def chunk(delta: dict[str, str], finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            return _sse(_completion(body, "chat.completion.chunk", choices=[choice]))

        yield chunk({"role": "assistant", "content": ""})
        finished = False
        try:
            for number, delta in enumerate(self.chat_deltas):
                if number == FAILS_AFTER and mode == "error_event":
                    yield _sse({"error": {"message": "the model is overloaded", "type": "server_error"}})
                    finished = True
                    return
                if number == FAILS_AFTER and mode == "disconnect":
                    finished = True
                    raise RuntimeError("the stub drops the connection mid-stream")
                yield chunk({"content": delta})
                await asyncio.sleep(self.delta_delay)
            finished = True
        finally:
            if not finished:
                self.abandoned_streams += 1
        yield chunk({}, finish_reason="stop")
        if (body.get("stream_options") or {}).get("include_usage") and mode != "no_usage":
            yield _sse(_completion(body, "chat.completion.chunk", choices=[], usage=CHAT_USAGE))
        yield _sse("[DONE]")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
            ]
        )


def _inputs(body: dict[str, Any]) -> list[str]:
    return body["input"] if isinstance(body["input"], list) else [body["input"]]


def _completion(body: dict[str, Any], kind: str, **fields: Any) -> dict[str, Any]:
    head = {"id": "chatcmpl-stub", "object": kind, "created": int(time.time()), "model": body["model"]}
    return head | fields


def _sse(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


@contextlib.asynccontextmanager
async def running_openai_stub(**options: Any) -> AsyncIterator[OpenAIStub]:
    """The stub, serving on a free 127.0.0.1 port until the block ends."""
    stub = OpenAIStub(port=free_port(), **options)
    server = api_server(stub.app(), host="127.0.0.1", port=stub.port)
    task = asyncio.create_task(server.serve())
    await server.wait_started(task)
    try:
        yield stub
    finally:
        server.should_exit = True
        await task
