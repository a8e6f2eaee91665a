"""Observability on the local stack: one trace follows a document from its S3 event through the
workflow and every Kafka hop into Qdrant; /metrics shows the stages', workflows' and API's
counters moving."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.cli.system import ALL_COMPONENTS, System, running_system
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from tests.support import wait_until_complete

pytestmark = pytest.mark.integration


@pytest.fixture
async def system(settings: Settings, spans: InMemorySpanExporter) -> AsyncIterator[System]:
    async with running_system(settings, ALL_COMPONENTS) as running:
        yield running


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 if absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))  # as Prometheus prints
    pattern = (
        rf"^{re.escape(name)}{{{re.escape(wanted)}}} (\S+)$" if labels else rf"^{re.escape(name)} (\S+)$"
    )
    found = re.search(pattern, text, flags=re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_one_trace_from_the_s3_event_into_qdrant(
    settings: Settings, system: System, spans: InMemorySpanExporter
) -> None:
    key = "traced/lighthouse.txt"
    async with httpx.AsyncClient(base_url=settings.api_url) as client:
        before = (await client.get("/metrics")).text
        spans.clear()
        async with s3_client(settings) as s3:
            await s3.put_object(
                Bucket=settings.s3_bucket, Key=key, Body=b"A lighthouse guides ships at night."
            )
        [row] = await wait_until_complete(settings, [key])
        response = await client.post("/v1/query", json={"query": "What guides ships?", "stream": False})
        assert response.status_code == 200
        after = (await client.get("/metrics")).text

    finished = spans.get_finished_spans()
    [root] = [
        s for s in finished if s.name == "s3 event created" and s.attributes and s.attributes["s3.key"] == key
    ]
    assert root.context is not None
    in_trace = [
        s.name for s in finished if s.context is not None and s.context.trace_id == root.context.trace_id
    ]
    for hop in (
        "StartWorkflow:UploadWorkflow",
        "RunWorkflow:UploadWorkflow",
        "RunActivity:validate_s3_object",
        "RunActivity:publish_document_ready",
        "parse",
        "embed",
        "upsert",
        "qdrant upsert",
        "report",
        "SignalWorkflow:indexing_finished",
        "RunActivity:finalize_document",
    ):
        assert hop in in_trace, (hop, sorted(set(in_trace)))
    [question] = [s for s in finished if s.name == "POST /v1/query"]
    assert question.context is not None
    in_question = {
        s.name for s in finished if s.context is not None and s.context.trace_id == question.context.trace_id
    }
    assert {"embed query", f"qdrant search {settings.search_mode}", "llm"} <= in_question

    def moved(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    for stage in ("parse", "embed", "upsert"):
        assert moved("ragstream_stage_messages_total", stage=stage, outcome="processed") >= 1, stage
        assert moved("ragstream_stage_duration_seconds_count", stage=stage) >= 1, stage
    model = settings.resolved_embedding_model
    assert moved("ragstream_chunks_embedded_total", model=model) >= row["chunk_count"]
    assert moved("ragstream_workflow_outcomes_total", status="complete") >= 1
    assert moved("ragstream_http_requests_total", method="POST", route="/v1/query", status="200") == 1
