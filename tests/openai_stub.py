"""A small OpenAI-compatible server for the tests: embeddings and streamed chat completions,
with switches to make it fail, so the real `openai` SDK is exercised over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from apps.devstack.process import free_port
from apps.query_api.server import api_server


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """Deterministic per text, so the same chunk always gets the same vector."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimensions)
    return [float(x) for x in vector / np.linalg.norm(vector)]


@dataclass
class OpenAIStub:
    """State the tests read and flip: requests seen, and whether to fail."""

    dimensions: int = 1536
    embeddings_down: bool = False
    chat_reply: str = "The stub model answers from the context."
    fail_chat_after_tokens: int | None = None
    embedding_requests: list[list[str]] = field(default_factory=list)
    chat_requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.embedding_requests.append(inputs)
        if self.embeddings_down:
            return JSONResponse({"error": {"message": "overloaded", "type": "server_error"}}, status_code=503)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_embedding(text, self.dimensions)}
            for i, text in enumerate(inputs)
        ]
        usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
        return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": usage})

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.chat_requests.append(body)
        words = [w + " " for w in self.chat_reply.split()]
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(words).strip()}
            return JSONResponse(
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {
                        "prompt_tokens": 10,
                        "completion_tokens": len(words),
                        "total_tokens": 10 + len(words),
                    },
                }
            )
        return StreamingResponse(self._chunks(body, words), media_type="text/event-stream")

    async def _chunks(self, body: dict[str, Any], words: list[str]) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
            payload = {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
                "usage": usage,
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        for number, word in enumerate(words):
            if self.fail_chat_after_tokens is not None and number == self.fail_chat_after_tokens:
                raise RuntimeError("the stub model broke mid-stream")
            yield chunk({"content": word})
            await asyncio.sleep(0)
        yield chunk({}, finish="stop")
        if body.get("stream_options", {}).get("include_usage"):
            yield chunk({}, usage={"prompt_tokens": 10, "completion_tokens": len(words), "total_tokens": 10})
        yield b"data: [DONE]\n\n"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/embeddings", self.embeddings, methods=["POST"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
            ]
        )


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
