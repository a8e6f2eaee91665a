"""Reranking on the real stack: the API, on real Postgres and the embedded vector store, with a stub
reranker serving Cohere's `/v2/rerank` over HTTP in the test. Answers (streamed, JSON, OpenAI's) and
searches come in the reranker's order; a reranker that fails or hangs leaves the fused order, with a
warning, and the answer still comes."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import pytest
from httpx_sse import aconnect_sse
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apps.cli.system import System, running_system
from apps.common.settings import Settings
from apps.common.vector_store import ChunkPoint
from apps.devstack.process import free_port
from apps.devstack.stack import LocalStack
from apps.query_api.server import api_server
from schemas.points import ChunkPayload, point_id
from tests.support import isolated_settings

pytestmark = pytest.mark.integration

CHUNKS = [
    "Emperor penguins breed in the Antarctic winter.",
    "The male emperor penguin incubates the egg on his feet.",
    "Penguin chicks huddle together against the cold.",
    "Adelie penguins build nests of stones.",
]
QUESTION = "Which penguin incubates the egg?"
TIMEOUT = 1.0
StubMode = Literal["reverse", "error", "hang"]


@dataclass
class RerankStub:
    """A reranker in Cohere's shape that ranks the documents it is sent in reverse; or fails (500), or
    answers nothing until the test is over."""

    port: int
    mode: StubMode = "reverse"
    requests: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2/rerank"

    @property
    def last_documents(self) -> list[str]:
        """What the last request asked to rerank: the search's candidates, in their fused order."""
        documents: list[str] = self.requests[-1][0]["documents"]
        return documents

    async def rerank(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append((body, request.headers.get("authorization")))
        if self.mode == "error":
            return JSONResponse({"message": "the reranker is overloaded"}, status_code=500)
        if self.mode == "hang":
            await self.released.wait()
        order = list(reversed(range(len(body["documents"]))))[: body["top_n"]]
        results = [{"index": i, "relevance_score": round(1 - rank / 10, 2)} for rank, i in enumerate(order)]
        return JSONResponse({"id": "stub", "results": results, "meta": {}})


@pytest.fixture(scope="module")
async def stub() -> AsyncIterator[RerankStub]:
    running = RerankStub(port=free_port())
    server = api_server(
        Starlette(routes=[Route("/v2/rerank", running.rerank, methods=["POST"])]),
        host="127.0.0.1",
        port=running.port,
    )
    task = asyncio.create_task(server.serve())
    await server.wait_started(task)
    try:
        yield running
    finally:
        running.released.set()
        server.should_exit = True
        await task


@pytest.fixture
def reranker(stub: RerankStub) -> Iterator[RerankStub]:
    """The stub, well-behaved again after the test (and whatever hung, answered)."""
    yield stub
    stub.released.set()
    stub.released = asyncio.Event()
    stub.mode = "reverse"


@dataclass
class Api:
    settings: Settings
    system: System

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.settings.api_url, timeout=60)


async def index_chunks(system: System, settings: Settings) -> None:
    """One chunk per document, straight into the vector store, as the upsert stage would write it."""
    assert system.store is not None
    assert system.embedder is not None
    vectors = await system.embedder.embed(CHUNKS)
    points = []
    for row, text in enumerate(CHUNKS):
        document_id = uuid.uuid4()
        payload = ChunkPayload(
            document_id=document_id,
            version="v1",
            chunk_index=0,
            content=text,
            filename=f"penguins-{row}.txt",
            upload_timestamp=datetime.now(UTC),
        )
        points.append(ChunkPoint(id=point_id(document_id, "v1", 0), vector=vectors[row], payload=payload))
    await system.store.upsert(await system.store.resolve(settings.qdrant_collection), points)


@pytest.fixture(scope="module")
async def api(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory, stub: RerankStub
) -> AsyncIterator[Api]:
    """The API alone, answering extractively, reranking the search's 4 best chunks through the stub."""
    settings = await isolated_settings(
        local_stack,
        tmp_path_factory.mktemp("rerank-api"),
        rerank_url=stub.url,
        rerank_model="stub-reranker",
        rerank_api_key="rk-test",
        rerank_candidates=len(CHUNKS),
        rerank_timeout_seconds=TIMEOUT,
    )
    async with running_system(settings, ["api"]) as system:
        await index_chunks(system, settings)
        yield Api(settings, system)
    assert system.api is not None
    assert system.api.state.engine.reranker._client.is_closed  # one client per process, closed at exit


async def streamed(client: httpx.AsyncClient, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    async with aconnect_sse(client, "POST", "/v1/query", json=body) as source:
        assert source.response.status_code == 200
        return [(event.event, json.loads(event.data)) async for event in source.aiter_sse()]


async def test_answers_and_searches_come_in_the_rerankers_order(api: Api, reranker: RerankStub) -> None:
    texts: dict[str, list[str]] = {}
    candidates: dict[str, list[str]] = {}
    async with api.client() as client:
        found = await client.post("/v1/search", json={"query": QUESTION, "top_k": 2})
        assert found.status_code == 200, found.text
        texts["search"] = [s["text"] for s in found.json()["sources"]]
        candidates["search"] = reranker.last_documents

        answered = await client.post("/v1/query", json={"query": QUESTION, "top_k": 2, "stream": False})
        assert answered.status_code == 200, answered.text
        texts["json"] = [s["text"] for s in answered.json()["sources"]]
        candidates["json"] = reranker.last_documents

        events = await streamed(client, {"query": QUESTION, "top_k": 2})
        texts["stream"] = [s["text"] for s in events[0][1]["sources"]]
        candidates["stream"] = reranker.last_documents

        completion = await client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}], "top_k": 2}
        )
        assert completion.status_code == 200, completion.text
        texts["openai"] = [s["text"] for s in completion.json()["sources"]]
        candidates["openai"] = reranker.last_documents

    for way, sent in candidates.items():
        # The search found every candidate (not just top_k) and the reranker chose the two kept.
        assert sorted(sent) == sorted(CHUNKS), way
        assert texts[way] == [sent[3], sent[2]], way
    for body, authorization in reranker.requests:
        assert (body["query"], body["model"], body["top_n"]) == (QUESTION, "stub-reranker", 2)
        assert authorization == "Bearer rk-test"

    searched = found.json()
    assert [s["rerank_score"] for s in searched["sources"]] == [1.0, 0.9]
    assert all(isinstance(s["score"], float) for s in searched["sources"])  # the retrieval score stays
    assert searched["rerank_ms"] > 0
    assert answered.json()["timings"]["rerank_ms"] > 0
    assert events[-1][0] == "done"
    assert events[-1][1]["timings"]["rerank_ms"] > 0
    assert "".join(d["delta"] for name, d in events if name == "token")


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("ragstream_rerank_failures_total", {"reason": reason}) or 0.0


@pytest.mark.parametrize(("mode", "reason"), [("error", "status"), ("hang", "timeout")])
async def test_a_failing_reranker_leaves_the_fused_order_and_the_answer_comes(
    api: Api, reranker: RerankStub, caplog: pytest.LogCaptureFixture, mode: StubMode, reason: str
) -> None:
    reranker.mode = mode
    before = failures(reason)
    with caplog.at_level(logging.WARNING, logger="apps.query_api.rerank"):
        async with api.client() as client:
            answered = await client.post("/v1/query", json={"query": QUESTION, "top_k": 2, "stream": False})
            fused_json = reranker.last_documents
            events = await streamed(client, {"query": QUESTION, "top_k": 2})
            fused_stream = reranker.last_documents
            found = await client.post("/v1/search", json={"query": QUESTION, "top_k": 2})
            fused_search = reranker.last_documents

    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["answer"]
    assert [s["text"] for s in body["sources"]] == fused_json[:2]
    assert not any("rerank_score" in s for s in body["sources"])
    assert body["timings"]["rerank_ms"] >= (TIMEOUT * 1000 if mode == "hang" else 0)

    assert [name for name, _ in events][-1] == "done"
    assert [s["text"] for s in events[0][1]["sources"]] == fused_stream[:2]
    assert found.status_code == 200, found.text
    assert [s["text"] for s in found.json()["sources"]] == fused_search[:2]

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3, warnings
    assert all("fused order" in w for w in warnings)
    assert failures(reason) == before + 3
