"""The report stage: `document.indexed` / `document.failed` -> a signal to the version's workflow.

A workflow that has already closed (a replay, or a duplicate message) is not an error.
"""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from schemas.events import DocumentFailed, DocumentIndexed
from schemas.workflows import (
    SIGNAL_INDEXING_FAILED,
    SIGNAL_INDEXING_FINISHED,
    IndexingFailure,
    IndexingResult,
)

log = logging.getLogger(__name__)


async def report(event: DocumentIndexed | DocumentFailed, *, temporal: Client) -> bool:
    """Signal the workflow; False if it had already closed."""
    handle = temporal.get_workflow_handle(event.workflow_id)
    try:
        if isinstance(event, DocumentIndexed):
            result = IndexingResult(
                version=event.version, chunk_count=event.chunk_count, coverage=event.coverage
            )
            await handle.signal(SIGNAL_INDEXING_FINISHED, result)
        else:
            failure = IndexingFailure(version=event.version, stage=event.stage, error=event.error)
            await handle.signal(SIGNAL_INDEXING_FAILED, failure)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        log.info("workflow %s is closed: nothing to signal (%s)", event.workflow_id, exc.message)
        return False
    return True
