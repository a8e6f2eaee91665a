"""Unit tests of `apps.common.logs`: JSON lines carry the document, workflow or conversation the
record is about, and the current trace."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from apps.common.logs import ContextTextFormatter, JsonFormatter, log_context


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("ragstream.test", logging.WARNING, __file__, 1, message, None, None)


def test_json_lines_carry_the_context_fields() -> None:
    with log_context(document_id="d-1", workflow_id="upload:b/k@v"), log_context(version="v"):
        line = JsonFormatter().format(_record("parse failed"))
    entry = json.loads(line)
    assert entry["message"] == "parse failed"
    assert entry["level"] == "warning"
    assert entry["logger"] == "ragstream.test"
    assert (entry["document_id"], entry["workflow_id"], entry["version"]) == ("d-1", "upload:b/k@v", "v")


def test_the_context_ends_with_its_block() -> None:
    with log_context(conversation_id="c-1"):
        pass
    assert "conversation_id" not in json.loads(JsonFormatter().format(_record("after")))


def test_json_lines_carry_the_current_trace() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        entry = json.loads(JsonFormatter().format(_record("inside a span")))
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert entry["span_id"] == format(span.get_span_context().span_id, "016x")


def test_text_lines_append_the_context() -> None:
    with log_context(conversation_id="c-2"):
        line = ContextTextFormatter("%(message)s").format(_record("answered"))
    assert line == "answered  conversation_id=c-2"
