"""The ingest, freshness and query benchmarks' measuring code on small data (a few documents, a few
questions), so that it keeps working between full runs of `make bench`: the numbers must be
there and sane, not fast."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.cli.system import ALL_COMPONENTS, running_system
from apps.common.embeddings import HASHING_MODEL
from apps.common.settings import DEFAULT_LOCAL_EMBEDDING_MODEL, EXTRACTIVE_CHAT_MODEL
from apps.devstack.stack import LocalStack
from bench import freshness, ingest_llama_index, ingest_ragstream, query
from bench.stack import Document, page_text, percentile
from tests.openai_stub import CHAT_DELTAS
from tests.support import isolated_settings, topic_partitions

pytestmark = pytest.mark.integration

TOPICS = ("penguins", "sourdough", "tides", "glaciers", "volcanoes")


def documents(count: int) -> list[Document]:
    """Short documents of a few chunks each, every one about a different topic."""
    sentences = (
        "The {t} chapter opens with an overview of {t} and why they matter.",
        "Field notes on {t} were collected over several seasons by two teams.",
        "Measurements of {t} vary with the weather, the season and the site.",
        "A summary table lists what is known about {t} and what is still open.",
    )
    return [
        Document(f"bench/{topic}.txt", " ".join(s.format(t=topic) for s in sentences * 6))
        for topic in TOPICS[:count]
    ]


def test_page_text_keeps_blocks_and_drops_navigation() -> None:
    html = (
        "<html><head><title>t</title></head><body><div class='navheader'><p>Prev Up Next</p></div>"
        "<h2>VACUUM</h2><p>VACUUM reclaims storage.  It runs\n in the background.</p>"
        "<div class='navfooter'>Home</div></body></html>"
    )
    assert page_text(html) == "VACUUM\n\nVACUUM reclaims storage. It runs in the background."
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert percentile([3.0, 1.0, 2.0, 4.0], 99) == 4.0


def html_pages(directory: Path, count: int, *, paragraphs: int = 1) -> list[Path]:
    """One page a document, its text in each of `paragraphs` paragraphs."""
    pages = []
    for document in documents(count):
        page = directory / f"{Path(document.key).stem}.html"
        body = f"<p>{document.text}</p>" * paragraphs
        page.write_text(f"<html><body><h2>{page.stem}</h2>{body}</body></html>")
        pages.append(page)
    return pages


async def test_ingest_uploads_from_a_process_of_its_own_and_counts_every_chunk(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    # Pages long enough that parsing them takes the parser workers measurable CPU (~35 ms each; CPU
    # times come in 10 ms ticks): one paragraph each takes ~1.3 ms, which read as 0.0 once in CI.
    pages = html_pages(tmp_path, 3, paragraphs=40)
    run = await ingest_ragstream.ragstream(local_stack, HASHING_MODEL, pages)
    assert run.documents == 3
    assert run.chunks >= 3
    assert run.seconds > 0
    assert list(run.peak_rss_mib) == ["processors", "workflows", "parser"]
    assert all(mib > 50 for mib in run.peak_rss_mib.values()), run.peak_rss_mib
    # Every process that took part is found, and each used some CPU.
    assert list(run.cpu_seconds) == [
        "processors + API",
        "parser workers",
        "workflow worker + intake",
        "Temporal",
        "moto (S3, SQS)",
        "Tansu (Kafka)",
        "Postgres",
        "uploader",
    ]
    assert all(seconds > 0 for seconds in run.cpu_seconds.values()), run.cpu_seconds
    assert "the machine's CPUs" in run.cpu_note("ragstream")


def test_llama_index_runs_with_unstructured_called_either_way(tmp_path: Path) -> None:
    pages = html_pages(tmp_path, 2)
    tuned, workers = ingest_llama_index.llama_index(HASHING_MODEL, pages, ingest_llama_index.NUM_WORKERS)
    assert (tuned.documents, workers in (None, os.cpu_count() or 2)) == (2, True)
    assert tuned.chunks >= 2
    assert tuned.cpu_seconds["LlamaIndex"] > 0
    # Each way in a process of its own: the time, the CPU and the memory are that process's (with its
    # workers', when it has them).
    assert list(tuned.peak_rss_mib) == (["LlamaIndex"] if workers is None else ["LlamaIndex", "worker"])
    defaults = ingest_llama_index.llama_index_with_defaults(HASHING_MODEL, pages, None)
    assert (defaults.documents, defaults.chunks) == (2, tuned.chunks)
    assert defaults.seconds > 0
    assert defaults.cpu_seconds["LlamaIndex"] > 0
    assert list(defaults.peak_rss_mib) == ["LlamaIndex"]
    # Its peak counts LlamaIndex, unstructured and the pages, loaded: over 100 MiB.
    assert all(mib > 100 for mib in [*tuned.peak_rss_mib.values(), *defaults.peak_rss_mib.values()])


async def test_ingest_ends_with_the_error_of_a_failed_upload(local_stack: LocalStack, tmp_path: Path) -> None:
    pages = [*html_pages(tmp_path, 1), tmp_path / "missing.html"]
    with pytest.raises(FileNotFoundError):
        await ingest_ragstream.ragstream(local_stack, HASHING_MODEL, pages)


async def test_freshness_measures_each_document_and_its_steps(
    local_stack: LocalStack, tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    # `spans` sets the SDK tracer provider first, as the other tests expect it; the benchmark adds to it.
    settings = await isolated_settings(
        local_stack, tmp_path, embedding_model=DEFAULT_LOCAL_EMBEDDING_MODEL, chat_model=EXTRACTIVE_CHAT_MODEL
    )
    docs = documents(4)
    async with running_system(settings, ALL_COMPONENTS) as system:
        measured = await freshness.measure(settings, system, docs[1:], warm_up=docs[:1])

    assert [d.key for d in measured.documents] == [d.key for d in docs[1:]]
    for document in measured.documents:
        assert 0 < document.searchable < freshness.DEADLINE_SECONDS
        assert document.complete is not None
        assert document.complete > document.searchable - freshness.POLL_SECONDS
        assert document.chunks >= 1
        # Every step was found in the document's trace, and the steps partition the end-to-end time.
        assert list(document.steps) == [step for step, _, _ in freshness.STEPS]
        assert all(seconds >= 0 for seconds in document.steps.values()), document.steps
        assert sum(document.steps.values()) == pytest.approx(document.searchable, abs=0.002)
        assert len(document.alone) == 7
        assert all(0 < seconds < 30 for seconds in document.alone.values())

    table = freshness.result(measured, model=DEFAULT_LOCAL_EMBEDDING_MODEL)
    assert len(table.rows) == 2 + len(freshness.STEPS) + 7
    for _, p50, p95, most in table.rows:
        assert isinstance(p50, float)
        assert isinstance(p95, float)
        assert isinstance(most, float)
        assert 0 <= p50 <= p95 <= most
    assert any("Target: p50 <= 1 s" in note for note in table.notes)


async def test_the_kafka_hop_baseline_uses_as_many_partitions_as_the_pipeline(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    settings = await isolated_settings(local_stack, tmp_path, kafka_partitions=3)
    hop = freshness.KafkaHop(settings)
    await hop.start()
    try:
        # Keyed as documents are, the messages land in any of the partitions: each one is received.
        seconds = [await hop.seconds(f"message {n}".encode()) for n in range(6)]
        partitions = await topic_partitions(settings, hop.topic)
    finally:
        await hop.stop()
    assert all(0 < s < freshness.DEADLINE_SECONDS for s in seconds)
    assert len(partitions) == 3


async def test_query_measures_a_level_beside_the_stub_alone(local_stack: LocalStack, tmp_path: Path) -> None:
    async with query.load_process() as load:
        settings = await isolated_settings(local_stack, tmp_path, **query.stub_settings(load.base_url))
        async with running_system(settings, ALL_COMPONENTS) as system:
            chunks = await query.index_corpus(settings, documents(3))
            levels, baselines = await query.measure(system, load, levels=(2,), queries=10)
            ingesting = await query.while_ingesting(system, settings, load, documents(5)[3:], queries=4)

    assert chunks >= 3
    [level] = levels
    [baseline] = baselines
    stub_ms = len(CHAT_DELTAS) * query.DELTA_DELAY * 1000  # the stub sleeps after every delta
    assert level.concurrency == 2
    assert len(level.answers) == 10
    assert level.per_second > 0
    assert level.cpu["api"] > 0
    assert level.cpu["load"] > 0
    assert level.cpu["all"] >= level.cpu["api"] * 0.5  # sampled differently: only roughly comparable
    assert level.pool_wait_ms >= 0
    assert 0 <= level.pool_queued <= 1
    for answer in level.answers:
        assert answer.sources >= 1
        assert 0 < answer.ttft_ms < answer.latency_ms
        assert answer.llm_ms >= stub_ms
        assert answer.embed_ms > 0
        assert answer.search_ms > 0
        assert answer.overhead_ms >= 0
        assert answer.total_ms <= answer.latency_ms
    assert level.p(50, lambda a: a.overhead_ms) <= level.p(99, lambda a: a.overhead_ms)
    assert level.p(50, lambda a: a.latency_ms) <= level.p(99, lambda a: a.latency_ms)
    assert len(baseline.latencies_ms) == 10
    assert all(latency >= stub_ms for latency in baseline.latencies_ms)
    assert baseline.per_second > 0

    assert ingesting.concurrency == 1
    assert len(ingesting.answers) == 4
    assert ingesting.ingesting == 2
    assert 0 <= ingesting.ingested <= 2
    assert all(answer.embed_ms > 0 for answer in ingesting.answers)

    # The PyTorch row's shape, with a level of this run standing in for it (same numbers: 1.00x).
    table = query.result(
        levels, baselines, documents=3, chunks=chunks, ingesting=ingesting, on_torch=levels[0]
    )
    assert [row[:2] for row in table.rows] == [
        (2, f"ragstream /v1/query (SSE), {DEFAULT_LOCAL_EMBEDDING_MODEL}"),
        (2, "stub LLM alone (openai SDK)"),
        (1, f"ragstream /v1/query (SSE), {DEFAULT_LOCAL_EMBEDDING_MODEL}, while ingesting"),
        (2, "ragstream /v1/query (SSE), all-MiniLM-L6-v2"),
    ]
    assert all(len(row) == len(table.columns) for row in table.rows)
    assert any("Target at 2 clients: API overhead" in note for note in table.notes)
    assert any("= 1.00x, NOT met" in note for note in table.notes)
    assert any("While ingesting: 4 questions from 1 client" in note for note in table.notes)
