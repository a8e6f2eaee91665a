"""The rerank client against a fake server (httpx's MockTransport): the request in each protocol's shape,
the answer read best first and cut to `top_n`, and every failure one `RerankError`, which leaves the
sources in their fused order."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from apps.common.settings import Settings
from apps.query_api.rerank import HttpReranker, Ranked, RerankError, make_reranker, reranked
from schemas.api import Source
from schemas.rerank import RerankProtocol

URL = "http://reranker.test/v2/rerank"
TEXTS = ["Krill swarm.", "Penguins eat krill.", "Seals hunt penguins."]
Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


def client(handler: Handler, protocol: RerankProtocol = "cohere", **options: Any) -> HttpReranker:
    return HttpReranker(URL, protocol=protocol, transport=httpx.MockTransport(handler), **options)


def answering(body: Any, status: int = 200, seen: list[httpx.Request] | None = None) -> Handler:
    async def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, json=body)

    return handle


def cohere_results(*ranked: tuple[int, float]) -> dict[str, Any]:
    results = [{"index": i, "relevance_score": s, "document": {"text": f"text {i}"}} for i, s in ranked]
    return {"id": "r-1", "results": results, "meta": {"billed_units": {"search_units": 1}}}


async def test_cohere_request_and_its_answer_best_first() -> None:
    seen: list[httpx.Request] = []
    reranker = client(
        answering(cohere_results((0, 0.1), (1, 0.9)), seen=seen), model="rerank-v3.5", api_key="rk-1"
    )
    ranked = await reranker.rerank("What eats krill?", TEXTS, 2)
    await reranker.close()
    assert ranked == [Ranked(1, 0.9), Ranked(0, 0.1)]
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", URL)
    assert request.headers["authorization"] == "Bearer rk-1"
    assert json.loads(request.content) == {
        "model": "rerank-v3.5",
        "query": "What eats krill?",
        "documents": TEXTS,
        "top_n": 2,
    }


async def test_without_a_model_or_key_neither_is_sent() -> None:
    seen: list[httpx.Request] = []
    reranker = client(answering(cohere_results((2, 0.5)), seen=seen))
    assert await reranker.rerank("seals", TEXTS, 1) == [Ranked(2, 0.5)]
    [request] = seen
    assert "authorization" not in request.headers
    assert set(json.loads(request.content)) == {"query", "documents", "top_n"}


async def test_tei_request_and_its_answer_cut_to_top_n() -> None:
    seen: list[httpx.Request] = []
    everything = [{"index": 2, "score": 0.2}, {"index": 0, "score": 0.7}, {"index": 1, "score": 0.95}]
    reranker = client(answering(everything, seen=seen), protocol="tei")
    assert await reranker.rerank("What eats krill?", TEXTS, 2) == [Ranked(1, 0.95), Ranked(0, 0.7)]
    [request] = seen
    assert json.loads(request.content) == {"query": "What eats krill?", "texts": TEXTS, "truncate": True}


async def test_nothing_to_rerank_asks_nothing() -> None:
    seen: list[httpx.Request] = []
    assert await client(answering(cohere_results(), seen=seen)).rerank("q", [], 5) == []
    assert seen == []


async def _hang(request: httpx.Request) -> httpx.Response:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def _not_json(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"<html>gateway</html>")


@pytest.mark.parametrize(
    ("handler", "protocol", "reason"),
    [
        (answering({"message": "overloaded"}, status=500), "cohere", "status"),
        (answering({"message": "unauthorized"}, status=401), "cohere", "status"),
        (_hang, "cohere", "timeout"),
        (_refuse, "cohere", "connection"),
        (_not_json, "cohere", "response"),
        (answering(cohere_results((0, 0.5), (3, 0.4))), "cohere", "response"),  # no text 3 was sent
        (answering(cohere_results((1, 0.5), (1, 0.4))), "cohere", "response"),  # the same text twice
        (answering(cohere_results((1, 0.5))), "cohere", "response"),  # one result for the two asked
        (answering([{"index": 0, "score": 0.5}, {"index": 1, "score": 0.4}]), "cohere", "response"),
        (answering(cohere_results((0, 0.5), (1, 0.4))), "tei", "response"),
        (answering([{"index": -1, "score": 0.5}, {"index": 1, "score": 0.4}]), "tei", "response"),
    ],
    ids=[
        "500",
        "401",
        "timeout",
        "refused",
        "not-json",
        "unknown-index",
        "repeated-index",
        "too-few",
        "tei-shape-to-cohere",
        "cohere-shape-to-tei",
        "negative-index",
    ],
)
async def test_every_failure_is_a_rerank_error_with_its_reason(
    handler: Handler, protocol: RerankProtocol, reason: str
) -> None:
    reranker = client(handler, protocol, timeout=0.05)
    with pytest.raises(RerankError) as raised:
        await reranker.rerank("What eats krill?", TEXTS, 2)
    await reranker.close()
    assert raised.value.reason == reason


def sources() -> list[Source]:
    return [
        Source(document_id=uuid.uuid4(), filename=f"{n}.txt", chunk_index=0, score=1 / (60 + n), text=text)
        for n, text in enumerate(TEXTS)
    ]


async def test_reranked_sources_keep_their_retrieval_score_and_gain_the_rerank_score() -> None:
    fused = sources()
    reranker = client(answering(cohere_results((2, 0.8), (0, 0.3))))
    best = await reranked(reranker, "Who hunts penguins?", fused, 2)
    assert [s.text for s in best] == [TEXTS[2], TEXTS[0]]
    assert [s.score for s in best] == [fused[2].score, fused[0].score]
    assert [s.rerank_score for s in best] == [0.8, 0.3]
    assert all(s.rerank_score is None for s in fused)  # the retrieval's own list is left alone


async def test_a_failed_rerank_keeps_the_fused_order_with_a_warning_and_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def failures() -> float:
        return REGISTRY.get_sample_value("ragstream_rerank_failures_total", {"reason": "status"}) or 0.0

    before = failures()
    fused = sources()
    reranker = client(answering({"message": "overloaded"}, status=503))
    with caplog.at_level(logging.WARNING, logger="apps.query_api.rerank"):
        best = await reranked(reranker, "What eats krill?", fused, 2)
    assert best == fused[:2]
    assert failures() == before + 1
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "fused order" in record.getMessage()
    assert "503" in record.getMessage()


def test_the_reranker_is_off_unless_a_url_is_set() -> None:
    assert make_reranker(Settings(_env_file=None)) is None
    reranker = make_reranker(
        Settings(_env_file=None, rerank_url="http://tei:8080/rerank", rerank_protocol="tei", rerank_model="m")
    )
    assert isinstance(reranker, HttpReranker)
    assert (reranker.url, reranker.protocol, reranker.model) == ("http://tei:8080/rerank", "tei", "m")
