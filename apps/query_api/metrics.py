"""Prometheus metrics of the query API, and `GET /metrics` (which also shows those of any other
component in the same process, e.g. the stages under `ragstream dev`)."""

from __future__ import annotations

import time

from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apps.common.tracing import tracer
from schemas.api import Timings

REQUESTS = Counter(
    "ragstream_http_requests_total",
    "HTTP requests answered, by route and status",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "ragstream_http_request_duration_seconds",
    "Time to answer a request (a whole stream, for SSE)",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
FIRST_TOKEN_SECONDS = Histogram(
    "ragstream_query_time_to_first_token_seconds",
    "From the request to the first token of the answer",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
STEP_SECONDS = Histogram(
    "ragstream_query_step_seconds",
    "Time in each step of answering",
    ["step"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ANSWER_ERRORS = Counter("ragstream_query_errors_total", "Answers that ended with an error event", ["code"])
RERANK_FAILURES = Counter(
    "ragstream_rerank_failures_total",
    "Reranks that failed, leaving the fused order, by reason (timeout, connection, status, response, error)",
    ["reason"],
)


def observe_answer(timings: Timings) -> None:
    STEP_SECONDS.labels("embed").observe(timings.embed_ms / 1000)
    STEP_SECONDS.labels("search").observe(timings.search_ms / 1000)
    if timings.rerank_ms is not None:
        STEP_SECONDS.labels("rerank").observe(timings.rerank_ms / 1000)
    STEP_SECONDS.labels("llm").observe(timings.llm_ms / 1000)
    if timings.first_token_ms is not None:
        FIRST_TOKEN_SECONDS.observe(timings.first_token_ms / 1000)


class TelemetryMiddleware:
    """Counts and times every request, labelled by its route template (not the raw path), and
    traces it: a server span that the steps of answering (embed, search, LLM) are children of."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracer.start_as_current_span(f"{scope['method']} request", kind=SpanKind.SERVER) as span:
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                span.update_name(f"{scope['method']} {template}")
                span.set_attribute("http.response.status_code", status)
                REQUESTS.labels(scope["method"], template, str(status)).inc()
                REQUEST_SECONDS.labels(scope["method"], template).observe(time.perf_counter() - started)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
