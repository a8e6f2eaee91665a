"""The local generator recipe on the real servers: llama.cpp's OpenAI-compatible server (the
`local-llm` extra), started as `ragstream dev --chat-model-path` starts it, on a tiny model the
test writes (tests/tiny_gguf.py), with ragstream's chat provider pointed at it by its two
settings. It proves the wiring, not the model: a streamed answer with its citations and time
to first token, and a clean error when the server is gone."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from apps.cli.system import ALL_COMPONENTS, running_system
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from apps.devstack.llama_server import LlamaServer, LocalModelUnavailable
from apps.devstack.stack import LocalStack
from tests.support import isolated_settings, wait_until_complete
from tests.tiny_gguf import ANSWER, write_tiny_gguf

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCUMENT = b"Sea otters hold hands while sleeping so that they do not drift apart."
QUESTION = "Why do sea otters hold hands?"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("model") / "tiny-llama.gguf")


@pytest.fixture
def llama(tiny_model: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    """llama.cpp's server on the tiny model; without the extra the tests skip, except where
    RAGSTREAM_REQUIRE_LOCAL_LLM is set (CI)."""
    server = LlamaServer(tiny_model)
    try:
        server.check()
    except LocalModelUnavailable as exc:
        if os.environ.get("RAGSTREAM_REQUIRE_LOCAL_LLM"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    server.start(tmp_path / "logs", timeout=120)
    try:
        yield server
    finally:
        server.stop()


async def _settings(local_stack: LocalStack, tmp_path: Path, llama: LlamaServer) -> Settings:
    # The two settings, exactly as `ragstream dev --chat-model-path` sets them.
    chat = {key.removeprefix("RAGSTREAM_").lower(): value for key, value in llama.environment().items()}
    settings = await isolated_settings(local_stack, tmp_path, openai_max_retries=0, **chat)
    assert settings.resolved_chat_model == "tiny-llama"
    assert settings.resolved_embedding_model != "text-embedding-3-small"  # embeddings stay local
    return settings


async def _ask(settings: Settings, **body: Any) -> list[tuple[str, dict[str, Any]]]:
    events = []
    async with (
        httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client,
        aconnect_sse(client, "POST", "/v1/query", json={"query": QUESTION, **body}) as source,
    ):
        assert source.response.status_code == 200
        async for event in source.aiter_sse():
            events.append((event.event, json.loads(event.data)))
    return events


async def test_streamed_answer_from_llama_cpp(
    local_stack: LocalStack, tmp_path: Path, llama: LlamaServer
) -> None:
    settings = await _settings(local_stack, tmp_path, llama)
    key = "local/otters.txt"
    async with running_system(settings, ALL_COMPONENTS):
        async with s3_client(settings) as s3:
            await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=DOCUMENT)
        await wait_until_complete(settings, [key])
        events = await _ask(settings)

        async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client:
            response = await client.post("/v1/query", json={"query": QUESTION, "stream": False})
        assert response.status_code == 200, response.text
        assert response.json()["answer"] == ANSWER
        assert response.json()["citations"] == [1]

    names = [name for name, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert events[0][1]["sources"][0]["filename"] == "otters.txt"
    tokens = [body["delta"] for name, body in events if name == "token"]
    assert len(tokens) > 1  # streamed, token by token
    assert "".join(tokens) == ANSWER  # "The local model answered [1]."
    done = events[-1][1]
    assert done["model"] == "tiny-llama"
    assert done["citations"] == [1]
    timings = done["timings"]
    # first_token_ms and total_ms count from the request; llm_ms from the model's start, after retrieval.
    assert 0 < timings["first_token_ms"] <= timings["total_ms"]
    assert 0 < timings["llm_ms"] <= timings["total_ms"]
    assert done["usage"]["completion_tokens"] > 0


async def test_answer_fails_cleanly_when_the_server_is_gone(
    local_stack: LocalStack, tmp_path: Path, llama: LlamaServer
) -> None:
    settings = await _settings(local_stack, tmp_path, llama)
    key = "local/walruses.txt"
    async with running_system(settings, ALL_COMPONENTS):
        async with s3_client(settings) as s3:
            await s3.put_object(
                Bucket=settings.s3_bucket, Key=key, Body=b"Walruses use their tusks to climb ice."
            )
        await wait_until_complete(settings, [key])
        llama.stop()

        events = await _ask(settings)
        assert [name for name, _ in events] == ["sources", "error"]
        error = events[-1][1]
        assert error["code"] == "llm_error"
        # What the SDK makes of a refused connection (its aiohttp transport calls it a timeout), in one line.
        assert error["message"].startswith("the answer failed during llm: API")
        assert "Traceback" not in error["message"]

        async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client:
            response = await client.post("/v1/query", json={"query": QUESTION, "stream": False})
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "llm_error"


def test_missing_model_file_or_extra_is_a_clear_error(tmp_path: Path, tiny_model: Path) -> None:
    with pytest.raises(LocalModelUnavailable, match=r"no model file at .*missing\.gguf"):
        LlamaServer(tmp_path / "missing.gguf").check()
    if find_spec("llama_cpp") is None:
        with pytest.raises(LocalModelUnavailable, match=r"pip install 'ragstream\[local-llm\]'"):
            LlamaServer(tiny_model).check()
