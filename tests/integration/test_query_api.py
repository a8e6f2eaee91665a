"""The query API as the gateway and OpenAI clients use it, served by uvicorn over real HTTP, on
real Postgres: the SSE protocol (order, errors mid-stream, client disconnects), conversations,
documents, errors for bad input, and the OpenAI-compatible endpoint through the `openai` SDK."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai
import psycopg
import pytest
from httpx_sse import aconnect_sse
from psycopg.rows import dict_row
from starlette.routing import Route

from apps.cli.system import System, running_system
from apps.common.settings import Settings
from apps.common.vector_store import ChunkPoint
from apps.devstack.stack import LocalStack
from apps.query_api.app import API_VERSION
from apps.query_api.conversation_store import ConversationStore
from apps.query_api.rag import RagEngine, Retrieval
from schemas.points import ChunkPayload, point_id
from tests.openai_stub import CHAT_DELTAS, FAILS_AFTER, OpenAIStub, running_openai_stub
from tests.support import isolated_settings, wait_for

pytestmark = pytest.mark.integration

CHUNKS = {
    "penguins.txt": "The male emperor penguin incubates the egg on his feet for two months.",
    "bread.txt": "Sourdough starter is fed with equal weights of flour and water.",
    "tides.txt": "Ocean tides are caused mainly by the gravitational pull of the Moon.",
}
OLD_UPLOAD = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass
class Api:
    settings: Settings
    system: System
    document_ids: dict[str, uuid.UUID]

    def client(self, **options: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.settings.api_url, timeout=60, **options)


async def index_chunks(system: System, settings: Settings) -> dict[str, uuid.UUID]:
    """Write one chunk per document straight into the vector store, as the upsert stage would."""
    assert system.store is not None
    assert system.embedder is not None
    ids = {name: uuid.uuid4() for name in CHUNKS}
    vectors = await system.embedder.embed(list(CHUNKS.values()))
    points = [
        ChunkPoint(
            id=point_id(ids[name], "v1", 0),
            vector=vectors[row],
            payload=ChunkPayload(
                document_id=ids[name],
                version="v1",
                chunk_index=0,
                content=text,
                filename=name,
                upload_timestamp=OLD_UPLOAD if name == "tides.txt" else datetime.now(UTC),
            ),
        )
        for row, (name, text) in enumerate(CHUNKS.items())
    ]
    await system.store.upsert(await system.store.resolve(settings.qdrant_collection), points)
    return ids


@pytest.fixture(scope="module")
async def stub() -> AsyncIterator[OpenAIStub]:
    async with running_openai_stub() as running:
        yield running


@pytest.fixture(scope="module")
async def extractive_api(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """The API alone (no Kafka or Temporal needed), answering extractively."""
    settings = await isolated_settings(
        local_stack, tmp_path_factory.mktemp("api"), api_max_body_bytes=64 * 1024
    )
    async with running_system(settings, ["api"]) as system:
        yield Api(settings, system, await index_chunks(system, settings))


@pytest.fixture(scope="module")
async def llm_api(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory, stub: OpenAIStub
) -> AsyncIterator[Api]:
    """The API with the OpenAI-compatible stub as its chat model (embeddings stay local)."""
    settings = await isolated_settings(
        local_stack,
        tmp_path_factory.mktemp("llm-api"),
        openai_base_url=stub.base_url,
        embedding_model="all-MiniLM-L6-v2",
        chat_model="stub-model",
        openai_max_retries=0,
        sse_keepalive_seconds=0.2,
    )
    async with running_system(settings, ["api"]) as system:
        yield Api(settings, system, await index_chunks(system, settings))


@pytest.fixture
def chat(stub: OpenAIStub) -> Iterator[OpenAIStub]:
    """The stub, put back to a well-behaved model after the test."""
    yield stub
    stub.chat_mode = "ok"
    stub.chat_deltas = CHAT_DELTAS
    stub.delta_delay = 0.0


async def sse_events(client: httpx.AsyncClient, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    async with aconnect_sse(client, "POST", "/v1/query", json=body) as source:
        assert source.response.status_code == 200
        return [(event.event, json.loads(event.data)) async for event in source.aiter_sse()]


async def messages(settings: Settings, conversation_id: str) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(settings.database_url, row_factory=dict_row) as conn:
        cur = await conn.execute(
            "SELECT role, content, metadata FROM messages WHERE conversation_id = %s ORDER BY created_at",
            (conversation_id,),
        )
        return await cur.fetchall()


# --- SSE protocol --------------------------------------------------------------------------


async def test_sse_events_come_in_order_and_the_turn_is_stored(extractive_api: Api) -> None:
    async with extractive_api.client() as client:
        events = await sse_events(client, {"query": "Who incubates the emperor penguin egg?"})
    names = [name for name, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"token"}
    sources = events[0][1]["sources"]
    assert sources[0]["filename"] == "penguins.txt"
    assert set(sources[0]) >= {"document_id", "filename", "chunk_index", "score", "text"}
    done = events[-1][1]
    assert done["model"] == "extractive"
    assert set(done["timings"]) >= {"embed_ms", "search_ms", "llm_ms", "total_ms"}
    answer = "".join(data["delta"] for name, data in events if name == "token")
    stored = await messages(extractive_api.settings, done["conversation_id"])
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["content"] == answer
    assert stored[1]["metadata"]["sources"][0]["filename"] == "penguins.txt"


async def test_an_extractive_answer_cites_the_sources_of_its_sentences(extractive_api: Api) -> None:
    async with extractive_api.client() as client:
        events = await sse_events(client, {"query": "What pulls the tides? Who incubates the egg?"})
        completion = await client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "What pulls the tides?"}]}
        )
    answer = "".join(data["delta"] for name, data in events if name == "token")
    sources = [source["filename"] for source in events[0][1]["sources"]]
    done = events[-1][1]
    assert sorted(sources[n - 1] for n in done["citations"]) == ["penguins.txt", "tides.txt"]
    assert done["citations"] == [int(n) for n in dict.fromkeys(re.findall(r"\[(\d+)\]", answer))]
    stored = await messages(extractive_api.settings, done["conversation_id"])
    assert stored[1]["metadata"]["citations"] == done["citations"]
    body = completion.json()
    assert body["sources"][0]["filename"] == "tides.txt"
    assert body["choices"][0]["message"]["content"].endswith("[1]")
    assert body["citations"] == [1]


async def test_non_streaming_answers_are_one_json_object(extractive_api: Api) -> None:
    async with extractive_api.client() as client:
        response = await client.post("/v1/query", json={"query": "What causes tides?", "stream": False})
    assert response.status_code == 200
    body = response.json()
    assert body["sources"][0]["filename"] == "tides.txt"
    assert "Moon" in body["answer"]


async def test_filters_and_top_k_bound_the_sources(extractive_api: Api) -> None:
    ids = extractive_api.document_ids
    async with extractive_api.client() as client:

        async def sources(**options: Any) -> list[str]:
            body = {"query": "penguin egg", "stream": False} | options
            response = await client.post("/v1/query", json=body)
            assert response.status_code == 200, response.text
            return [s["filename"] for s in response.json()["sources"]]

        assert len(await sources(top_k=2)) == 2
        assert await sources(document_ids=[str(ids["bread.txt"])]) == ["bread.txt"]
        assert await sources(uploaded_before="2021-01-01T00:00:00Z") == ["tides.txt"]
        assert "tides.txt" not in await sources(uploaded_after="2021-01-01T00:00:00Z")


async def test_the_search_mode_finds_by_words_by_meaning_or_both(extractive_api: Api) -> None:
    async with extractive_api.client() as client:

        async def sources(query: str, mode: str) -> list[str]:
            body = {"query": query, "stream": False, "search_mode": mode}
            response = await client.post("/v1/query", json=body)
            assert response.status_code == 200, response.text
            return [s["filename"] for s in response.json()["sources"]]

        # BM25 finds only the chunks that have the words; meaning ranks every chunk.
        assert await sources("flour water", "sparse") == ["bread.txt"]
        assert await sources("xylophone", "sparse") == []
        assert len(await sources("xylophone", "dense")) == len(CHUNKS)
        assert len(await sources("xylophone", "hybrid")) == len(CHUNKS)
        assert (await sources("flour water", "hybrid"))[0] == "bread.txt"


async def test_retrieval_runs_while_the_question_is_stored(
    extractive_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing the question waits until retrieval has begun, and retrieval until the question is being
    stored: done one after the other they would wait for each other until the timeout."""
    assert extractive_api.system.api is not None
    engine: RagEngine = extractive_api.system.api.state.engine
    storing, retrieving = asyncio.Event(), asyncio.Event()
    start, retrieve = ConversationStore.start, engine.retrieve

    async def slow_start(store: ConversationStore, *args: Any, **kwargs: Any) -> tuple[uuid.UUID, uuid.UUID]:
        storing.set()
        await asyncio.wait_for(retrieving.wait(), 10)
        return await start(store, *args, **kwargs)

    async def slow_retrieve(*args: Any, **kwargs: Any) -> Retrieval:
        retrieving.set()
        await asyncio.wait_for(storing.wait(), 10)
        return await retrieve(*args, **kwargs)

    monkeypatch.setattr(ConversationStore, "start", slow_start)
    monkeypatch.setattr(engine, "retrieve", slow_retrieve)
    async with extractive_api.client() as client:
        events = await sse_events(client, {"query": "What causes tides?"})
    assert [name for name, _ in events][-1] == "done"
    assert events[0][1]["sources"][0]["filename"] == "tides.txt"
    stored = await messages(extractive_api.settings, events[-1][1]["conversation_id"])
    assert [m["role"] for m in stored] == ["user", "assistant"]


async def test_a_question_that_cannot_be_stored_ends_with_a_storage_error(
    extractive_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_start(*args: Any, **kwargs: Any) -> tuple[uuid.UUID, uuid.UUID]:
        raise psycopg.OperationalError("the database went away")

    monkeypatch.setattr(ConversationStore, "start", failing_start)
    async with extractive_api.client() as client:
        events = await sse_events(client, {"query": "What causes tides?"})
    names = [name for name, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "error"
    assert events[-1][1]["code"] == "storage_error"
    assert "the database went away" in events[-1][1]["message"]


async def test_a_running_system_keeps_its_startup_objects_from_the_collector_and_closes_its_clients(
    local_stack: LocalStack, tmp_path: Path, stub: OpenAIStub
) -> None:
    settings = await isolated_settings(
        local_stack, tmp_path, openai_base_url=stub.base_url, chat_model="stub-model", openai_max_retries=0
    )
    async with running_system(settings, ["api"]) as system:
        # A full collection walks only what the system made after starting.
        assert gc.get_freeze_count() > 10_000
        assert system.api is not None
        engine: RagEngine = system.api.state.engine
        async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client:
            assert [name for name, _ in await sse_events(client, {"query": "tides?"})][-1] == "done"
    assert engine.chat._client.is_closed()  # type: ignore[attr-defined]
    assert gc.get_freeze_count() == 0


async def test_a_conversation_carries_its_history_into_the_prompt(llm_api: Api, chat: OpenAIStub) -> None:
    async with llm_api.client() as client:
        first = await sse_events(client, {"query": "Who incubates the emperor penguin egg?"})
        conversation_id = first[-1][1]["conversation_id"]
        await sse_events(client, {"query": "For how long?", "conversation_id": conversation_id})
        prompt = chat.chat_requests[-1]["messages"][0]["content"]
        history = prompt.split("Conversation History:", 1)[1].split("User: For how long?", 1)[0]
        assert "User: Who incubates the emperor penguin egg?" in history
        assert f"Assistant: {chat.chat_reply}" in history
        conversation = (await client.get(f"/v1/conversations/{conversation_id}")).json()
    assert [m["role"] for m in conversation["messages"]] == ["user", "assistant", "user", "assistant"]


async def test_every_answer_carries_the_sources_its_markers_cite(llm_api: Api, chat: OpenAIStub) -> None:
    """The model's markers, one split across two deltas, give `citations`; [7] of three sources is left
    out. Streamed, as one JSON object, stored with the message, and from the OpenAI endpoint alike."""
    chat.chat_deltas = ("Walruses climb [1", "] with tusks [7].")
    question = "How do walruses climb?"
    async with llm_api.client() as client:
        events = await sse_events(client, {"query": question})
        whole = await client.post("/v1/query", json={"query": question, "stream": False})
        completion = await client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]}
        )
    assert [name for name, _ in events][-1] == "done"
    assert len(events[0][1]["sources"]) == len(CHUNKS)
    done = events[-1][1]
    assert done["citations"] == [1]
    stored = await messages(llm_api.settings, done["conversation_id"])
    assert stored[1]["content"] == chat.chat_reply
    assert stored[1]["metadata"]["citations"] == [1]
    assert whole.status_code == 200, whole.text
    assert whole.json()["answer"] == chat.chat_reply
    assert whole.json()["citations"] == [1]
    assert completion.status_code == 200, completion.text
    assert completion.json()["citations"] == [1]

    sdk = openai.AsyncOpenAI(base_url=f"{llm_api.settings.api_url}/v1", api_key="unused")
    stream = await sdk.chat.completions.create(
        model="ragstream", messages=[{"role": "user", "content": question}], stream=True
    )
    chunks = [chunk async for chunk in stream]
    await sdk.close()
    [last] = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert (last.model_extra or {})["citations"] == [1]
    assert all("citations" not in (c.model_extra or {}) for c in chunks if c is not last)


async def test_an_llm_failure_mid_stream_ends_with_an_error_event(llm_api: Api, chat: OpenAIStub) -> None:
    chat.chat_mode = "error_event"
    async with llm_api.client() as client:
        events = await sse_events(client, {"query": "What is sourdough fed with?"})
    names = [name for name, _ in events]
    assert names == ["sources", *["token"] * FAILS_AFTER, "error"]
    assert events[-1][1]["code"] == "llm_error"
    conversation = await messages_of_last_conversation(llm_api.settings)
    assert [m["role"] for m in conversation] == ["user"]  # the question is kept


async def messages_of_last_conversation(settings: Settings) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(settings.database_url, row_factory=dict_row) as conn:
        cur = await conn.execute("SELECT id FROM conversations ORDER BY created_at DESC LIMIT 1")
        row = await cur.fetchone()
    assert row is not None
    return await messages(settings, row["id"])


async def test_a_client_disconnect_stops_the_llm_and_keeps_the_partial_answer(
    llm_api: Api, chat: OpenAIStub
) -> None:
    chat.delta_delay = 0.5
    abandoned_before = chat.abandoned_streams
    async with (
        llm_api.client() as client,
        aconnect_sse(client, "POST", "/v1/query", json={"query": "Why are there tides?"}) as source,
    ):
        tokens = 0
        async for event in source.aiter_sse():
            if event.event == "token":
                tokens += 1
                if tokens == 2:
                    break  # the client goes away mid-answer
    partial = "".join(CHAT_DELTAS[:2])

    async def interrupted() -> list[dict[str, Any]] | None:
        stored = await messages_of_last_conversation(llm_api.settings)
        return stored if len(stored) == 2 else None

    stored = await wait_for(interrupted, timeout=20, what="the partial answer to be saved")
    assert stored[1]["role"] == "assistant"
    assert stored[1]["metadata"]["interrupted"] is True
    assert stored[1]["content"].startswith(partial[: len(CHAT_DELTAS[0])])
    await wait_for(
        lambda: _true_if(chat.abandoned_streams > abandoned_before),
        timeout=20,
        what="the LLM stream to be closed",
    )


async def _true_if(condition: bool) -> bool:
    return condition


async def test_keepalive_comments_flow_while_the_model_is_slow(llm_api: Api, chat: OpenAIStub) -> None:
    chat.delta_delay = 0.6
    async with (
        llm_api.client() as client,
        client.stream("POST", "/v1/query", json={"query": "What is sourdough fed with?"}) as response,
    ):
        lines = [line async for line in response.aiter_lines()]
    assert any(line.startswith(": ping") for line in lines), lines
    assert "event: done" in lines


async def test_metrics_count_requests_and_answers(extractive_api: Api) -> None:
    async with extractive_api.client() as client:
        await client.post("/v1/query", json={"query": "What causes tides?", "stream": False})
        await client.get("/v1/documents/not-a-uuid")
        metrics = (await client.get("/metrics")).text
    assert 'ragstream_http_requests_total{method="POST",route="/v1/query",status="200"}' in metrics
    assert 'ragstream_http_requests_total{method="GET",route="/v1/documents/{id}",status="422"}' in metrics
    assert 'ragstream_query_step_seconds_count{step="search"}' in metrics
    assert "ragstream_query_time_to_first_token_seconds_bucket" in metrics


async def test_fifty_concurrent_streams_all_complete_in_order(extractive_api: Api) -> None:
    questions = ["Who incubates the egg?", "What is the starter fed with?", "What pulls the tides?"]
    async with extractive_api.client(limits=httpx.Limits(max_connections=60)) as client:
        results = await asyncio.gather(*(sse_events(client, {"query": questions[n % 3]}) for n in range(50)))
    for events in results:
        names = [name for name, _ in events]
        assert names[0] == "sources"
        assert names[-1] == "done"
        assert set(names[1:-1]) == {"token"}


# --- conversations and documents ------------------------------------------------------------


async def test_conversations_are_created_listed_read_and_deleted(extractive_api: Api) -> None:
    async with extractive_api.client() as client:
        created = await client.post(
            "/v1/conversations", json={"title": "Planning", "metadata": {"team": "a"}}
        )
        assert created.status_code == 201
        conversation_id = created.json()["id"]
        page = (await client.get("/v1/conversations", params={"limit": 1})).json()
        assert page["limit"] == 1
        assert len(page["items"]) == 1
        assert page["total"] >= 1
        assert (await client.get(f"/v1/conversations/{conversation_id}")).json()["messages"] == []
        assert (await client.delete(f"/v1/conversations/{conversation_id}")).status_code == 204
        missing = await client.get(f"/v1/conversations/{conversation_id}")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "conversation_not_found"
        stale = await client.post(
            "/v1/query", json={"query": "hello there", "conversation_id": conversation_id}
        )
        assert stale.status_code == 404


async def test_search_ranks_chunks_in_each_mode_and_stores_nothing(extractive_api: Api) -> None:
    async with httpx.AsyncClient(base_url=extractive_api.settings.api_url) as client:
        before = (await client.get("/v1/conversations")).json()["total"]
        found = {
            mode: (
                await client.post("/v1/search", json={"query": "What causes tides?", "search_mode": mode})
            ).json()
            for mode in ("dense", "sparse", "hybrid")
        }
        bad = await client.post("/v1/search", json={"query": "tides", "top_k": 0})
        after = (await client.get("/v1/conversations")).json()["total"]
    for mode, result in found.items():
        assert result["search_mode"] == mode
        assert result["sources"][0]["filename"] == "tides.txt"
        scores = [s["score"] for s in result["sources"]]
        assert scores == sorted(scores, reverse=True)
    assert bad.status_code == 422
    assert after == before


async def test_without_auth_every_caller_is_the_anonymous_user_of_the_default_tenant(
    extractive_api: Api,
) -> None:
    async with httpx.AsyncClient(base_url=extractive_api.settings.api_url) as client:
        response = await client.get("/v1/me")
    assert response.json() == {
        "tenant": "default",
        "user": "anonymous",
        "groups": [],
        "scopes": ["admin", "documents:read", "documents:write", "query"],
    }


async def test_the_system_endpoint_names_the_models_and_query_defaults(extractive_api: Api) -> None:
    settings = extractive_api.settings
    async with extractive_api.client() as client:
        info = (await client.get("/v1/system")).json()
    assert info == {
        "version": API_VERSION,
        "auth": False,
        "chat_model": settings.resolved_chat_model,
        "embedding_model": settings.resolved_embedding_model,
        "search_mode": settings.search_mode,
        "top_k": settings.query_top_k,
        "temporal_ui": None,
        "metrics": "/metrics",
    }


async def test_the_console_is_served_with_a_strict_content_security_policy(extractive_api: Api) -> None:
    async with extractive_api.client() as client:
        page = await client.get("/")
        script = await client.get("/console/js/main.js")
        missing = await client.get("/console/js/no-such-file.js")
        answer = await client.get("/v1/me")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/console/js/main.js"></script>' in page.text
    assert "<script>" not in page.text  # no inline script: the policy would refuse it anyway
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    for response in (page, script, answer):
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_documents_are_listed_by_status_and_unknown_ones_are_404(extractive_api: Api) -> None:
    async with extractive_api.client() as client:
        listing = await client.get("/v1/documents", params={"status": "complete", "limit": 10})
        assert listing.status_code == 200
        assert set(listing.json()) == {"items", "total", "limit", "offset"}
        unknown = uuid.uuid4()
        for response in (
            await client.get(f"/v1/documents/{unknown}"),
            await client.delete(f"/v1/documents/{unknown}"),
            await client.post(f"/v1/documents/{unknown}/reprocess"),
        ):
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "document_not_found"


# --- errors for bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "options", "status"),
    [
        ("POST", "/v1/query", {"content": b"{not json"}, 400),
        ("POST", "/v1/query", {"content": b""}, 400),
        ("POST", "/v1/query", {"json": {"query": 42}}, 422),
        ("POST", "/v1/query", {"json": {"query": ""}}, 422),
        ("POST", "/v1/query", {"json": {"query": "x", "top_k": 0}}, 422),
        ("POST", "/v1/query", {"json": {"query": "x", "top_k": 10_000}}, 422),
        ("POST", "/v1/query", {"json": {"query": "x", "document_ids": ["not-a-uuid"]}}, 422),
        ("POST", "/v1/query", {"json": {"query": "x", "unknown": 1}}, 422),
        ("POST", "/v1/query", {"json": {"query": "x", "search_mode": "fuzzy"}}, 422),
        ("POST", "/v1/query", {"json": {"query": "x" * 100_000}}, 413),
        ("GET", "/v1/conversations/not-a-uuid", {}, 422),
        ("GET", "/v1/conversations", {"params": {"limit": "lots"}}, 422),
        ("GET", "/v1/documents", {"params": {"status": "sleeping"}}, 422),
        ("GET", "/v1/documents", {"params": {"offset": "-1"}}, 422),
        ("GET", "/v1/no-such-route", {}, 404),
        ("PUT", "/v1/query", {}, 405),
        ("POST", "/v1/s3/events", {"json": {"Records": []}}, 422),
        ("POST", "/v1/chat/completions", {"json": {"messages": []}}, 422),
        (
            "POST",
            "/v1/chat/completions",
            {"json": {"messages": [{"role": "assistant", "content": "hi"}]}},
            422,
        ),
    ],
)
async def test_bad_input_is_a_4xx_with_a_json_error(
    extractive_api: Api, method: str, path: str, options: dict[str, Any], status: int
) -> None:
    async with extractive_api.client() as client:
        response = await client.request(method, path, **options)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"]
    assert error["message"]


# --- OpenAI-compatible endpoint --------------------------------------------------------------


async def test_the_openai_sdk_gets_answers_with_sources(extractive_api: Api) -> None:
    client = openai.AsyncOpenAI(base_url=f"{extractive_api.settings.api_url}/v1", api_key="unused")
    models = await client.models.list()
    assert [m.id for m in models.data] == ["ragstream"]

    completion = await client.chat.completions.create(
        model="ragstream",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What pulls the tides?"},
        ],
    )
    assert "Moon" in (completion.choices[0].message.content or "")
    assert (completion.model_extra or {})["sources"][0]["filename"] == "tides.txt"

    stream = await client.chat.completions.create(
        model="ragstream",
        messages=[{"role": "user", "content": "Who incubates the penguin egg?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert (chunks[0].model_extra or {})["sources"][0]["filename"] == "penguins.txt"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "incubates" in text
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0

    # The query options go in the body beside OpenAI's.
    by_words = await client.chat.completions.create(
        model="ragstream",
        messages=[{"role": "user", "content": "xylophone"}],
        extra_body={"search_mode": "sparse"},
    )
    assert (by_words.model_extra or {})["sources"] == []
    await client.close()


async def test_openapi_describes_every_route(extractive_api: Api) -> None:
    from openapi_spec_validator import validate

    async with extractive_api.client() as client:
        document = (await client.get("/openapi.json")).json()
    validate(document)
    assert extractive_api.system.api is not None
    served = {
        (method, route.path)
        for route in extractive_api.system.api.routes
        if isinstance(route, Route)
        for method in getattr(route, "declared_methods", route.methods) or ()
        if method != "HEAD"
    }
    described = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert served == described
