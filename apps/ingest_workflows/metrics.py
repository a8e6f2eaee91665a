"""Prometheus metrics of ingestion: how document versions ended, and what the reconciler did."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

WORKFLOW_OUTCOMES = Counter(
    "ragstream_workflow_outcomes_total",
    "Document versions by how their UploadWorkflow ended: complete, failed or deleted",
    ["status"],
)

RECONCILE_OBJECTS_LISTED = Counter(
    "ragstream_reconcile_objects_listed_total", "Objects the reconciler found in the bucket (latest versions)"
)
RECONCILE_CHANGES_STARTED = Counter(
    "ragstream_reconcile_changes_started_total",
    "Object changes the reconciler started a workflow for, because no event did: created or removed",
    ["kind"],
)
RECONCILE_SKIPPED = Counter(
    "ragstream_reconcile_skipped_total",
    "Objects and documents the reconciler left alone: registered (indexed or indexing), failed (left to"
    " reprocess), changing (changed since the listing) or removing",
    ["reason"],
)
RECONCILE_PASSES = Counter(
    "ragstream_reconcile_passes_total", "Reconcile passes by outcome: ok or error", ["outcome"]
)
RECONCILE_LAST_PASS_SECONDS = Gauge(
    "ragstream_reconcile_last_pass_duration_seconds", "How long the last finished reconcile pass took"
)
