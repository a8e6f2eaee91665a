"""Logging: plain text for a terminal, or one JSON object per line for production, each record
carrying the document, workflow or conversation it is about and the current trace."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

_CONTEXT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "ragstream_log_context", default=None
)


def _fields() -> dict[str, str]:
    return _CONTEXT.get() or {}


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Within the block, log records carry these fields (e.g. document_id, workflow_id)."""
    token = _CONTEXT.set(_fields() | {k: str(v) for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= _fields()
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class ContextTextFormatter(logging.Formatter):
    """The usual text line, with the context fields appended."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _fields()
        return line + ("  " + " ".join(f"{k}={v}" for k, v in context.items()) if context else "")


def configure_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ContextTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
