"""Session fixtures: the local stack (started once, by the same code as `ragstream dev`) and
per-test settings that isolate each test by topic prefix, consumer groups, task queue,
bucket and vector-store directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from apps.common.settings import Settings
from apps.devstack.stack import LocalStack
from tests.dev_process import DevProcess
from tests.support import isolated_settings

# Everything the tests run is offline: no telemetry, no model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["DO_NOT_TRACK"] = "true"


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Every span this process ends, kept in memory (OpenTelemetry's provider is set once)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """Postgres, Tansu, Temporal and moto, started once for the session and stopped by PID."""
    state_dir = Path(tempfile.mkdtemp(prefix="ragstream-test-stack-"))
    stack = LocalStack(state_dir).start()
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
async def settings(local_stack: LocalStack, tmp_path: Path) -> Settings:
    """Settings of a test of its own: topics, groups, task queue, bucket (with SQS notifications), index."""
    return await isolated_settings(local_stack, tmp_path)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevProcess]:
    """`ragstream dev` run in the test's own directory (its .ragstream/ there), stopped at the end."""
    with DevProcess(tmp_path) as process:
        yield process
