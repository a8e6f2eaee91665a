"""The report stage: `document.indexed` / `document.failed` -> a signal to the version's workflow.

A workflow that has already closed (a replay, or a duplicate message) is not an error. A version
indexed after its workflow closed (a dead letter redriven once the cause was fixed) is recorded
by `finalize_late`, which decides whether it still counts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Literal

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

# Records a version indexed after its workflow closed; False if it no longer counts.
FinalizeLate = Callable[[DocumentIndexed], Awaitable[bool]]
Reported = Literal["signalled", "finalized", "closed"]


async def report(
    event: DocumentIndexed | DocumentFailed, *, temporal: Client, finalize_late: FinalizeLate
) -> Reported:
    """Signal the workflow; if it had closed, record a late success itself."""
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
        if isinstance(event, DocumentIndexed) and await finalize_late(event):
            log.info(
                "document %s version %s indexed after workflow %s closed: recorded as such",
                event.document_id,
                event.version,
                event.workflow_id,
            )
            return "finalized"
        log.info("workflow %s is closed: nothing to signal (%s)", event.workflow_id, exc.message)
        return "closed"
    return "signalled"
