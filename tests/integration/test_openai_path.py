"""The OpenAI path on the real servers, with the real `openai` SDK talking to an OpenAI-compatible
server in the tests: embeddings and streamed answers, an embedding outage that fails the
document cleanly (dead-letter topic, `document.failed`, the workflow ends at once), and
reprocessing every failed document at once when the provider is back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse

from apps.cli.system import ALL_COMPONENTS, running_system
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from apps.devstack.stack import LocalStack
from schemas.topics import DOCUMENT_CHUNKED, dlq_topic
from tests.openai_stub import OpenAIStub, running_openai_stub
from tests.support import isolated_settings, read_topic, wait_for, wait_until_complete, wait_until_settled

pytestmark = pytest.mark.integration


@pytest.fixture
async def stub() -> AsyncIterator[OpenAIStub]:
    async with running_openai_stub() as running:
        yield running


@pytest.fixture
async def openai_settings(local_stack: LocalStack, tmp_path: Path, stub: OpenAIStub) -> Settings:
    return await isolated_settings(
        local_stack,
        tmp_path,
        openai_api_key="sk-test",
        openai_base_url=stub.base_url,
        openai_max_retries=1,
        stage_max_attempts=2,
        stage_retry_backoff_seconds=0.1,
    )


async def test_openai_embeddings_and_streamed_chat(openai_settings: Settings, stub: OpenAIStub) -> None:
    settings = openai_settings
    assert settings.resolved_embedding_model == "text-embedding-3-small"
    assert settings.resolved_chat_model == "gpt-4o-mini"
    key = "openai/otters.txt"
    async with running_system(settings, ALL_COMPONENTS):
        async with s3_client(settings) as s3:
            await s3.put_object(
                Bucket=settings.s3_bucket, Key=key, Body=b"Sea otters hold hands while sleeping."
            )
        await wait_until_complete(settings, [key])
        assert stub.embedding_requests  # the chunks were embedded by the provider
        events = []
        async with (
            httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client,
            aconnect_sse(
                client, "POST", "/v1/query", json={"query": "Why do sea otters hold hands?"}
            ) as source,
        ):
            async for event in source.aiter_sse():
                events.append((event.event, json.loads(event.data)))
    names = [name for name, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert "".join(d["delta"] for n, d in events if n == "token").strip() == stub.chat_reply
    assert events[-1][1]["model"] == "gpt-4o-mini"
    assert events[-1][1]["citations"] == []  # the stub's reply has no markers
    [request] = stub.chat_requests
    prompt = request["messages"][0]["content"]
    assert "Use the following context to answer the user's question." in prompt
    assert "Cite the numbered context you use by its number in square brackets" in prompt
    assert "[1] (otters.txt)\nSea otters hold hands while sleeping." in prompt
    assert prompt.rstrip().endswith("User: Why do sea otters hold hands?\n\nAssistant:")


async def test_embedding_outage_fails_the_document_then_bulk_reprocess_indexes_it(
    openai_settings: Settings, stub: OpenAIStub
) -> None:
    settings = openai_settings
    key = "outage/walruses.txt"
    stub.embeddings_down = True
    async with running_system(settings, ALL_COMPONENTS):
        async with s3_client(settings) as s3:
            await s3.put_object(
                Bucket=settings.s3_bucket, Key=key, Body=b"Walruses use their tusks to climb ice."
            )
        # Well within the indexing timeout: the failure ends the workflow, it does not wait it out.
        [row] = await wait_until_settled(settings, [key], timeout=60)
        assert row["status"] == "failed"
        assert "embed failed" in row["error_message"]
        assert dlq_topic(settings.topic(DOCUMENT_CHUNKED)) in row["error_message"]
        assert len(stub.embedding_requests) >= 2  # retried

        [dead] = await read_topic(settings, dlq_topic(settings.topic(DOCUMENT_CHUNKED)), expect=1)
        headers = {name: value.decode() for name, value in dead.headers}
        assert headers["x-stage"] == "embed"
        assert headers["x-attempts"] == "2"
        assert "503" in headers["x-error"] or "overloaded" in headers["x-error"]
        assert json.loads(dead.value)["document_id"] == str(row["id"])

        stub.embeddings_down = False
        async with httpx.AsyncClient(base_url=settings.api_url) as client:
            response = await client.post("/v1/documents/reprocess", json={"status": "failed"})
            assert response.status_code == 202, response.text
        # Every failed document of the tenant at once: other tests' failures share this database.
        assert row["workflow_id"].split("#")[0] in [w.split("#")[0] for w in response.json()["workflows"]]

        async def complete() -> bool:
            [again] = await wait_until_settled(settings, [key])
            return bool(again["status"] == "complete")

        await wait_for(complete, what="the reprocessed document to complete")
