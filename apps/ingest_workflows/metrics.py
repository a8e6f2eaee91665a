"""Prometheus metrics of ingestion workflows: how document versions ended."""

from __future__ import annotations

from prometheus_client import Counter

WORKFLOW_OUTCOMES = Counter(
    "ragstream_workflow_outcomes_total",
    "Document versions by how their UploadWorkflow ended: complete, failed or deleted",
    ["status"],
)
