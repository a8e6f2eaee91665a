"""Small-to-big context on the real stack: the API on real Postgres and the embedded vector store, with
the OpenAI-compatible stub as its model recording the prompt. With `context_neighbours` set, the
retrieved chunk reaches the model with its neighbours of the same section (published ones only); at 0,
alone. The `sources` event lists the retrieved chunk either way."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse

from apps.cli.system import running_system
from apps.common.settings import Settings
from apps.common.vector_store import ChunkPoint
from apps.devstack.stack import LocalStack
from schemas.points import ChunkPayload, point_id
from tests.openai_stub import OpenAIStub, running_openai_stub
from tests.support import isolated_settings

pytestmark = pytest.mark.integration

# One document's chunks: (section, text, staged). The question finds chunk 3.
CHUNKS = [
    ("Breeding", "Emperor penguins breed in the Antarctic winter, out on the sea ice.", False),
    ("Incubation", "After the courtship the female lays a single egg in May or June.", False),
    ("Incubation", "She passes the egg over to her mate and walks back to the sea to feed.", False),
    ("Incubation", "The male emperor penguin incubates the egg on his feet for two months.", False),
    ("Incubation", "Through the blizzards the males huddle together and eat nothing at all.", False),
    ("Incubation", "This chunk of a version being written must never reach a prompt.", True),
    ("Chicks", "The chicks hatch in July and both parents feed them krill.", False),
]
QUESTION = "Which penguin incubates the egg on his feet?"
TARGET = 3


@dataclass
class Api:
    settings: Settings
    stub: OpenAIStub

    async def ask(self) -> tuple[list[dict[str, Any]], str]:
        """The sources event of an answer from the best chunk alone (top_k 1), and the prompt it sent."""
        async with (
            httpx.AsyncClient(base_url=self.settings.api_url, timeout=60) as client,
            aconnect_sse(client, "POST", "/v1/query", json={"query": QUESTION, "top_k": 1}) as source,
        ):
            assert source.response.status_code == 200
            events = [(event.event, json.loads(event.data)) async for event in source.aiter_sse()]
        assert [name for name, _ in events][-1] == "done", events
        prompt: str = self.stub.chat_requests[-1]["messages"][0]["content"]
        return events[0][1]["sources"], prompt


@pytest.fixture(scope="module")
async def stub() -> AsyncIterator[OpenAIStub]:
    async with running_openai_stub() as running:
        yield running


@pytest.fixture(scope="module", params=[0, 2], ids=["plain", "two_neighbours"])
async def api(
    request: pytest.FixtureRequest,
    local_stack: LocalStack,
    tmp_path_factory: pytest.TempPathFactory,
    stub: OpenAIStub,
) -> AsyncIterator[Api]:
    settings = await isolated_settings(
        local_stack,
        tmp_path_factory.mktemp("small-to-big"),
        openai_base_url=stub.base_url,
        embedding_model="all-MiniLM-L6-v2",
        chat_model="stub-model",
        openai_max_retries=0,
        context_neighbours=request.param,
    )
    async with running_system(settings, ["api"]) as system:
        assert system.store is not None
        assert system.embedder is not None
        document_id = uuid.uuid4()
        vectors = await system.embedder.embed([text for _, text, _ in CHUNKS])
        points = [
            ChunkPoint(
                id=point_id(document_id, "v1", index),
                vector=vectors[index],
                payload=ChunkPayload(
                    document_id=document_id,
                    version="v1",
                    chunk_index=index,
                    content=text,
                    filename="penguins.html",
                    upload_timestamp=datetime.now(UTC),
                    section=section,
                    publication="staged" if staged else "published",
                ),
            )
            for index, (section, text, staged) in enumerate(CHUNKS)
        ]
        await system.store.upsert(await system.store.resolve(settings.qdrant_collection), points)
        yield Api(settings, stub)


def context_of(prompt: str) -> str:
    return prompt.split("Context:", 1)[1].split("Conversation History:", 1)[0]


async def test_the_prompt_has_the_neighbours_of_the_same_section_only_when_set(api: Api) -> None:
    sources, prompt = await api.ask()

    # The sources are the retrieved chunks, as they were found, whatever the model was sent.
    assert [(s["chunk_index"], s["text"]) for s in sources] == [(TARGET, CHUNKS[TARGET][1])]
    context = context_of(prompt)
    assert context.count("[1] (penguins.html, section 'Incubation')") == 1
    assert "[2]" not in context
    sent = [index for index, (_, text, _) in enumerate(CHUNKS) if text in context]
    if api.settings.context_neighbours == 0:
        assert sent == [TARGET]
    else:
        # Two each side, in index order, but not past the section's start or a staged chunk.
        assert sent == [1, 2, 3, 4]
        positions = [context.index(CHUNKS[i][1]) for i in sent]
        assert positions == sorted(positions)
