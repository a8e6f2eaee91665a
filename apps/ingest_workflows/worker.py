"""The Temporal worker that runs `UploadWorkflow` and its activities.

The workflow runs outside Temporal's sandbox here. The sandbox re-imports the workflow's module
for every run and proxies its calls, which cost the worker ~10 ms of CPU a document (a fifth of
this process's share in the near-free ingest benchmark). The unit tests run the same workflow in
the sandbox, so a non-deterministic call in it still fails a test.
"""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from apps.common.database import Pool
from apps.common.generations import LiveGenerations
from apps.common.settings import Settings
from apps.ingest_workflows.activities import IngestActivities
from apps.ingest_workflows.workflows import UploadWorkflow


def build_worker(
    client: Client,
    settings: Settings,
    *,
    pool: Pool,
    s3: Any,
    broker: KafkaBroker,
    generations: LiveGenerations,
) -> Worker:
    activities = IngestActivities(settings=settings, pool=pool, s3=s3, broker=broker, generations=generations)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[UploadWorkflow],
        activities=activities.all(),
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
