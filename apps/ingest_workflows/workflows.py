"""`UploadWorkflow`: one per object version. Validates, registers and hands the version to the
stream processors, then waits for their signal (bounded by the indexing timeout) and records
the outcome. Deterministic: everything that touches the world is an activity. They are local
activities: this worker runs them within the workflow's task and records each result in the history
as a marker, so a document costs the Temporal server two workflow tasks instead of four activity
tasks and five workflow tasks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from apps.ingest_workflows.activities import IngestActivities
    from schemas.workflows import (
        SIGNAL_INDEXING_FAILED,
        SIGNAL_INDEXING_FINISHED,
        UPLOAD_WORKFLOW,
        Finalization,
        IndexingFailure,
        IndexingResult,
        Publication,
        Registration,
        UploadOutcome,
        UploadRequest,
        ValidatedObject,
    )

_ACTIVITY_TIMEOUT = timedelta(minutes=2)
_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)
# Retries wait on a server timer, not asleep in the worker: a restarted worker resumes the backoff.
_LOCAL_RETRY_THRESHOLD = timedelta(milliseconds=500)


# A local activity that failed for good raises its own error (or its timeout), not always
# Temporal's ActivityError around it.
_ACTIVITY_FAILED = (ActivityError, ApplicationError, ActivityTimeoutError)


Arg = TypeVar("Arg")
Result = TypeVar("Result")


async def _run_activity(activity: Callable[[IngestActivities, Arg], Awaitable[Result]], arg: Arg) -> Result:
    """Run one of the activities locally, with the workflow's timeout and retries."""
    return await workflow.execute_local_activity_method(
        activity,
        arg,
        start_to_close_timeout=_ACTIVITY_TIMEOUT,
        retry_policy=_RETRY,
        local_retry_threshold=_LOCAL_RETRY_THRESHOLD,
    )


def _cause(error: FailureError) -> str:
    """The message of the exception the activity raised, not Temporal's wrapper around it."""
    cause = error.cause if isinstance(error, ActivityError) else None
    return str(cause) if cause is not None else str(error)


@workflow.defn(name=UPLOAD_WORKFLOW)
class UploadWorkflow:
    def __init__(self) -> None:
        self._result: IndexingResult | None = None
        self._failure: IndexingFailure | None = None

    @workflow.signal(name=SIGNAL_INDEXING_FINISHED)
    def indexing_finished(self, result: IndexingResult) -> None:
        self._result = self._result or result

    @workflow.signal(name=SIGNAL_INDEXING_FAILED)
    def indexing_failed(self, failure: IndexingFailure) -> None:
        self._failure = self._failure or failure

    @workflow.query(name="status")
    def status(self) -> str:
        if self._result:
            return "indexed"
        return "failed" if self._failure else "waiting"

    @workflow.run
    async def run(self, request: UploadRequest) -> UploadOutcome:
        change = request.change
        try:
            validated = await _run_activity(IngestActivities.validate_s3_object, change)
        except _ACTIVITY_FAILED as exc:
            error = f"could not read the object from S3: {_cause(exc)}"
            validated = ValidatedObject(filename=change.filename, error=error)
        outcome = UploadOutcome(document_id=request.document_id, version=change.version, status="superseded")
        if validated.skip_reason:
            return outcome.model_copy(update={"error": validated.skip_reason})
        registered = await _run_activity(
            IngestActivities.register_document, Registration(request=request, validated=validated)
        )
        if registered is None:
            return outcome.model_copy(update={"error": "a newer version of the object was registered first"})
        if registered.duplicate_of:
            error = f"another event of the same version: workflow {registered.duplicate_of} handles it"
            return outcome.model_copy(update={"error": error})
        if validated.error:
            return outcome.model_copy(update={"status": "failed", "error": validated.error})
        if registered.unchanged:
            final = Finalization(
                document_id=request.document_id,
                version=change.version,
                status="complete",
                chunk_count=registered.chunk_count,
                indexed_version=registered.indexed_version,
                note=(
                    "content unchanged (same sha256 as the indexed version): "
                    f"kept its {registered.chunk_count} chunks, skipped parsing and embedding"
                ),
            )
        else:
            try:
                await _run_activity(
                    IngestActivities.publish_document_ready, Publication(request=request, validated=validated)
                )
                final = await self._wait_for_indexing(request)
            except _ACTIVITY_FAILED as exc:
                final = Finalization(
                    document_id=request.document_id,
                    version=change.version,
                    status="failed",
                    error=f"could not hand the document to the stream processors (Kafka): {_cause(exc)}",
                )
        await _run_activity(IngestActivities.finalize_document, final)
        return outcome.model_copy(
            update={
                "status": final.status,
                "chunk_count": final.chunk_count,
                "error": final.error,
                "note": final.note,
            }
        )

    async def _wait_for_indexing(self, request: UploadRequest) -> Finalization:
        version = request.change.version
        removal = request.change.kind == "removed"
        try:
            await workflow.wait_condition(
                lambda: self._result is not None or self._failure is not None,
                timeout=request.indexing_timeout,
            )
        except TimeoutError:
            error = (
                f"indexing did not finish within {request.indexing_timeout}; "
                "check that the stream processors are running, then reprocess the document"
            )
            return Finalization(
                document_id=request.document_id, version=version, status="failed", error=error
            )
        if self._failure is not None:
            error = f"{self._failure.stage} failed: {self._failure.error}"
            return Finalization(
                document_id=request.document_id, version=version, status="failed", error=error
            )
        assert self._result is not None
        return Finalization(
            document_id=request.document_id,
            version=version,
            status="deleted" if removal else "complete",
            chunk_count=0 if removal else self._result.chunk_count,
            coverage=None if removal else self._result.coverage,
        )
