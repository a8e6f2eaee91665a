"""Starts one `UploadWorkflow` per object version, whichever way the S3 event arrived.

A repeated event (S3 delivers at least once) finds the workflow id of its change taken and starts
nothing new; another event of the same version (a multipart upload may emit two; an upload through
the API starts one beside the bucket's) is found a duplicate when its workflow registers it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from apps.common.documents import document_id_for
from apps.common.settings import Settings
from apps.common.tracing import tracer
from schemas.s3_events import S3ObjectChange
from schemas.workflows import UPLOAD_WORKFLOW, UploadRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartedUpload:
    workflow_id: str
    run_id: str | None
    change: S3ObjectChange

    @property
    def duplicate(self) -> bool:
        """True when the version's workflow had already run to completion."""
        return self.run_id is None


def workflow_id_for(change: S3ObjectChange) -> str:
    """One workflow per change. Without a versionId the eTag names the content, not the upload: the
    same bytes put again after others (A, B, A) or after a removal are a change of their own, told
    apart by their order; a repeated delivery of one event keeps its order, and its id."""
    workflow_id = f"upload:{change.bucket}/{change.key}@{change.version}"
    if change.kind == "created" and not change.version_id and change.order:
        workflow_id += f"#{change.order}"
    return workflow_id


def indexing_timeout_for(settings: Settings, size: int | None) -> timedelta:
    """How long a version's workflow waits for the stream processors: the base limit, and more for
    each MiB of the object (a big document's chunks take longer to parse and embed)."""
    return settings.indexing_timeout + settings.indexing_timeout_per_mib * ((size or 0) / (1024 * 1024))


async def start_upload(
    client: Client,
    settings: Settings,
    change: S3ObjectChange,
    *,
    workflow_id: str | None = None,
    reprocess: bool = False,
) -> StartedUpload:
    """Start (or find running) the workflow of one change; `workflow_id` overrides the change's own,
    and `reprocess` indexes a version that is registered already."""
    workflow_id = workflow_id or workflow_id_for(change)
    request = UploadRequest(
        change=change,
        document_id=document_id_for(change.bucket, change.key),
        workflow_id=workflow_id,
        indexing_timeout=indexing_timeout_for(settings, change.size),
        reprocess=reprocess,
    )
    attributes = {"s3.bucket": change.bucket, "s3.key": change.key, "s3.event": change.event_name}
    with tracer.start_as_current_span(f"s3 event {change.kind}", attributes=attributes):
        return await _start(client, settings, change, workflow_id, request)


async def _start(
    client: Client, settings: Settings, change: S3ObjectChange, workflow_id: str, request: UploadRequest
) -> StartedUpload:
    try:
        handle = await client.start_workflow(
            UPLOAD_WORKFLOW,
            request,
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            # A worker of this client (`ragstream dev`, or the worker beside the intake) gets the first
            # workflow task in the start's reply: no poll through the server's matching service.
            request_eager_start=True,
        )
    except WorkflowAlreadyStartedError:
        log.info("duplicate S3 event for %s: its workflow already ran", workflow_id)
        return StartedUpload(workflow_id, None, change)
    log.info("%s %s: workflow %s", change.kind, change.key, workflow_id)
    return StartedUpload(workflow_id, handle.result_run_id, change)


async def start_uploads(
    client: Client, settings: Settings, changes: list[S3ObjectChange]
) -> list[StartedUpload]:
    """Start (or find running) the workflow of each change, in order."""
    return [await start_upload(client, settings, change) for change in changes]
