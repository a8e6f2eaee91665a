"""The dead-letter routes when Kafka does not answer: a 503 with a JSON error body, as their OpenAPI
operations say."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from aiokafka.errors import KafkaConnectionError
from starlette.applications import Starlette
from starlette.routing import Route

from apps.common.dead_letters import DeadLetter, DeadLetters, Partition
from apps.common.settings import Settings
from apps.query_api.app import ENDPOINTS
from apps.query_api.dead_letter_routes import list_dead_letters, redrive_dead_letters
from apps.query_api.errors import EXCEPTION_HANDLERS
from apps.query_api.openapi import openapi_document


class UnreachableLog:
    async def waiting(self) -> list[DeadLetter]:
        raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9)]")

    async def redrive(self, letters: Sequence[DeadLetter], handled: dict[Partition, int]) -> None:
        raise AssertionError("nothing to redrive: the letters could not be read")


async def test_the_dead_letter_routes_answer_503_when_kafka_does_not() -> None:
    app = Starlette(
        routes=[
            Route("/v1/dead-letters", list_dead_letters),
            Route("/v1/dead-letters/redrive", redrive_dead_letters, methods=["POST"]),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.settings = Settings(_env_file=None, kafka_bootstrap_servers="127.0.0.1:9")
    app.state.dead_letters = DeadLetters(UnreachableLog())
    app.state.pool = None  # never reached: the letters are read first
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        listed = await client.get("/v1/dead-letters")
        redriven = await client.post("/v1/dead-letters/redrive", json={})
    for response in (listed, redriven):
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "unavailable"
        assert "Kafka at 127.0.0.1:9 did not answer" in error["message"]


def test_the_dead_letter_operations_document_their_503() -> None:
    document = openapi_document(ENDPOINTS, title="ragstream", version="test", description="", secured=True)
    paths = document["paths"]
    for path, method in (("/v1/dead-letters", "get"), ("/v1/dead-letters/redrive", "post")):
        assert "503" in paths[path][method]["responses"], f"{method.upper()} {path} does not document its 503"
