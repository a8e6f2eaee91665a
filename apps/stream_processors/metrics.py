"""Prometheus metrics of the stages: messages by outcome, time per message, chunks embedded."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

STAGE_MESSAGES = Counter(
    "ragstream_stage_messages_total",
    "Messages a stage finished with, by outcome: processed, document_failed (bad document) or"
    " dead_lettered (kept failing; in <topic>.dlq)",
    ["stage", "outcome"],
)
STAGE_SECONDS = Histogram(
    "ragstream_stage_duration_seconds",
    "Time a stage spent on one message (one batch, for embed), retries included",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
CHUNKS_EMBEDDED = Counter("ragstream_chunks_embedded_total", "Chunks embedded", ["model"])
