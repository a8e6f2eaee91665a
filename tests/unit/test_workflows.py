"""`UploadWorkflow` on Temporal's time-skipping test server, its activities replaced by fakes that
record their inputs; and the intake's one-workflow-per-version start (`start_uploads`)."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowHandle,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from apps.common.documents import document_id_for
from apps.common.intake import start_uploads, workflow_id_for
from apps.common.settings import Settings
from apps.ingest_workflows.workflows import UploadWorkflow
from schemas.s3_events import S3ObjectChange
from schemas.workflows import (
    Finalization,
    IndexingFailure,
    IndexingResult,
    Publication,
    RegisteredDocument,
    Registration,
    UploadOutcome,
    UploadRequest,
    ValidatedObject,
)

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
# Generous: each case takes well under a second of wall time on the time-skipping server.
WALL_LIMIT = 20.0


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    async with environment:
        yield environment


@dataclass
class FakeActivities:
    """The four activities, by their registered names, recording what the workflow passed them."""

    validated: ValidatedObject | None = None
    validate_error: str | None = None
    registered: RegisteredDocument | None = None
    register_returns_none: bool = False
    validations: list[S3ObjectChange] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    publications: list[Publication] = field(default_factory=list)
    finalizations: list[Finalization] = field(default_factory=list)
    published: asyncio.Event = field(default_factory=asyncio.Event)

    def all(self) -> list[Callable[..., Any]]:
        return [self.validate_s3_object, self.register_document, self.publish_document_ready, self.finalize]

    @activity.defn(name="validate_s3_object")
    async def validate_s3_object(self, change: S3ObjectChange) -> ValidatedObject:
        self.validations.append(change)
        if self.validate_error is not None:
            raise RuntimeError(self.validate_error)
        if self.validated is not None:
            return self.validated
        return ValidatedObject(
            filename=Path(change.key).name, content_type="text/plain", size=11, sha256="ab"
        )

    @activity.defn(name="register_document")
    async def register_document(self, registration: Registration) -> RegisteredDocument | None:
        self.registrations.append(registration)
        if self.register_returns_none:
            return None
        return self.registered or RegisteredDocument(document_id=registration.request.document_id)

    @activity.defn(name="publish_document_ready")
    async def publish_document_ready(self, publication: Publication) -> None:
        self.publications.append(publication)
        self.published.set()

    @activity.defn(name="finalize_document")
    async def finalize(self, outcome: Finalization) -> None:
        self.finalizations.append(outcome)


def _change(kind: str = "created", key: str = "docs/penguins.txt") -> S3ObjectChange:
    return S3ObjectChange.model_validate(
        {
            "bucket": "ragstream",
            "key": f"{uuid.uuid4().hex[:8]}/{key}",
            "kind": kind,
            "event_name": "ObjectCreated:Put" if kind == "created" else "ObjectRemoved:Delete",
            "size": 11,
            "etag": uuid.uuid4().hex,
        }
    )


def _request(change: S3ObjectChange, *, timeout: timedelta = timedelta(hours=1)) -> UploadRequest:
    return UploadRequest(
        change=change,
        document_id=document_id_for(change.bucket, change.key),
        workflow_id=workflow_id_for(change),
        indexing_timeout=timeout,
    )


# What the tests compare of a `Finalization`: the outcome, not the wording of informational notes.
_OUTCOME_FIELDS = {"document_id", "version", "status", "chunk_count", "error"}


def _final(**fields: Any) -> dict[str, Any]:
    return Finalization(**fields).model_dump(include=_OUTCOME_FIELDS)


def _finals(fakes: FakeActivities) -> list[dict[str, Any]]:
    return [final.model_dump(include=_OUTCOME_FIELDS) for final in fakes.finalizations]


def _task_queue() -> str:
    return f"unit-{uuid.uuid4().hex}"


def _worker(env: WorkflowEnvironment, fakes: FakeActivities, task_queue: str) -> Worker:
    # In Temporal's sandbox: the workers run the workflow without it, so its determinism checks are here.
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=[UploadWorkflow],
        activities=fakes.all(),
        workflow_runner=SandboxedWorkflowRunner(),
    )


async def _start(
    env: WorkflowEnvironment, request: UploadRequest, task_queue: str
) -> WorkflowHandle[UploadWorkflow, UploadOutcome]:
    return await env.client.start_workflow(
        UploadWorkflow.run, request, id=request.workflow_id, task_queue=task_queue
    )


async def _run(env: WorkflowEnvironment, fakes: FakeActivities, request: UploadRequest) -> UploadOutcome:
    """Run a workflow that needs no signal to its end."""
    task_queue = _task_queue()
    async with _worker(env, fakes, task_queue):
        handle = await _start(env, request, task_queue)
        return await asyncio.wait_for(handle.result(), WALL_LIMIT)


async def _published(fakes: FakeActivities) -> None:
    await asyncio.wait_for(fakes.published.wait(), WALL_LIMIT)


async def test_indexing_finished_signal_completes_the_document(env: WorkflowEnvironment) -> None:
    fakes = FakeActivities()
    request = _request(_change())
    task_queue = _task_queue()
    async with _worker(env, fakes, task_queue):
        handle = await _start(env, request, task_queue)
        await _published(fakes)
        await handle.signal(
            UploadWorkflow.indexing_finished, IndexingResult(version=request.change.version, chunk_count=12)
        )
        outcome = await asyncio.wait_for(handle.result(), WALL_LIMIT)

    assert outcome == UploadOutcome(
        document_id=request.document_id, version=request.change.version, status="complete", chunk_count=12
    )
    assert fakes.validations == [request.change]
    [registration] = fakes.registrations
    assert registration.request == request
    assert registration.validated.sha256 == "ab"
    [publication] = fakes.publications
    assert publication.request == request
    assert publication.validated == registration.validated
    assert _finals(fakes) == [
        _final(
            document_id=request.document_id,
            version=request.change.version,
            status="complete",
            chunk_count=12,
        )
    ]


async def test_indexing_failed_signal_fails_the_document_at_once(env: WorkflowEnvironment) -> None:
    fakes = FakeActivities()
    request = _request(_change())
    task_queue = _task_queue()
    async with _worker(env, fakes, task_queue):
        handle = await _start(env, request, task_queue)
        await _published(fakes)
        failure = IndexingFailure(version=request.change.version, stage="embed", error="the model is down")
        await handle.signal(UploadWorkflow.indexing_failed, failure)
        outcome = await asyncio.wait_for(handle.result(), WALL_LIMIT)
        history = await handle.fetch_history()

    assert outcome.status == "failed"
    assert outcome.error == "embed failed: the model is down"
    assert _finals(fakes) == [
        _final(
            document_id=request.document_id,
            version=request.change.version,
            status="failed",
            error="embed failed: the model is down",
        )
    ]
    # It did not sit out the indexing timeout, not even in skipped time: its timer never fired.
    fired = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
    assert fired == []


async def test_no_signal_within_the_indexing_timeout_fails_the_document(env: WorkflowEnvironment) -> None:
    fakes = FakeActivities()
    request = _request(_change(), timeout=timedelta(hours=1))
    task_queue = _task_queue()
    async with _worker(env, fakes, task_queue):
        handle = await _start(env, request, task_queue)
        await _published(fakes)
        started_wall = time.monotonic()
        started = await env.get_current_time()
        outcome = await asyncio.wait_for(handle.result(), WALL_LIMIT)
        elapsed = await env.get_current_time() - started
        wall = time.monotonic() - started_wall

    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("indexing did not finish within 1:00:00;")
    assert "stream processors" in outcome.error
    [final] = fakes.finalizations
    assert (final.status, final.error, final.chunk_count) == ("failed", outcome.error, 0)
    assert elapsed >= timedelta(hours=1)
    assert wall < WALL_LIMIT


async def test_invalid_object_is_registered_as_failed_and_never_published(env: WorkflowEnvironment) -> None:
    error = "unsupported file type .exe: ragstream indexes .txt"
    fakes = FakeActivities(validated=ValidatedObject(filename="setup.exe", error=error))
    request = _request(_change(key="setup.exe"))

    outcome = await _run(env, fakes, request)

    assert outcome.status == "failed"
    assert outcome.error == error
    [registration] = fakes.registrations
    assert registration.validated.error == error  # the row is recorded as failed, with the reason
    assert fakes.publications == []


async def test_skip_reason_supersedes_without_registering(env: WorkflowEnvironment) -> None:
    reason = "the object version no longer exists"
    fakes = FakeActivities(validated=ValidatedObject(filename="penguins.txt", skip_reason=reason))
    request = _request(_change())

    outcome = await _run(env, fakes, request)

    assert outcome == UploadOutcome(
        document_id=request.document_id, version=request.change.version, status="superseded", error=reason
    )
    assert fakes.registrations == []
    assert fakes.publications == []
    assert fakes.finalizations == []


async def test_a_newer_registered_version_supersedes(env: WorkflowEnvironment) -> None:
    fakes = FakeActivities(register_returns_none=True)
    request = _request(_change())

    outcome = await _run(env, fakes, request)

    assert outcome.status == "superseded"
    assert outcome.error == "a newer version of the object was registered first"
    assert len(fakes.registrations) == 1
    assert fakes.publications == []
    assert fakes.finalizations == []


async def test_another_event_of_a_registered_version_is_a_duplicate(env: WorkflowEnvironment) -> None:
    request = _request(_change())
    fakes = FakeActivities(
        registered=RegisteredDocument(document_id=request.document_id, duplicate_of="upload:the-first")
    )

    outcome = await _run(env, fakes, request)

    assert outcome.status == "superseded"
    assert outcome.error == "another event of the same version: workflow upload:the-first handles it"
    assert fakes.publications == []
    assert fakes.finalizations == []


async def test_unchanged_content_completes_with_the_previous_chunk_count(env: WorkflowEnvironment) -> None:
    request = _request(_change())
    fakes = FakeActivities(
        registered=RegisteredDocument(document_id=request.document_id, unchanged=True, chunk_count=7)
    )

    outcome = await _run(env, fakes, request)

    assert (outcome.status, outcome.chunk_count, outcome.error) == ("complete", 7, None)
    assert fakes.publications == []
    assert _finals(fakes) == [
        _final(
            document_id=request.document_id, version=request.change.version, status="complete", chunk_count=7
        )
    ]


async def test_unreadable_object_fails_after_the_retries(env: WorkflowEnvironment) -> None:
    fakes = FakeActivities(validate_error="AccessDenied: no read permission on the bucket")
    request = _request(_change())
    started_wall = time.monotonic()

    outcome = await _run(env, fakes, request)

    assert time.monotonic() - started_wall < WALL_LIMIT
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("could not read the object from S3: ")
    assert outcome.error.endswith("AccessDenied: no read permission on the bucket")
    assert len(fakes.validations) == 10  # the retry policy's maximum_attempts
    [registration] = fakes.registrations
    assert registration.validated.error == outcome.error
    assert registration.validated.filename == "penguins.txt"
    assert fakes.publications == []


async def test_removed_object_is_deleted_once_the_processors_report(env: WorkflowEnvironment) -> None:
    fakes = FakeActivities()
    request = _request(_change(kind="removed"))
    task_queue = _task_queue()
    async with _worker(env, fakes, task_queue):
        handle = await _start(env, request, task_queue)
        await _published(fakes)
        await handle.signal(
            UploadWorkflow.indexing_finished, IndexingResult(version=request.change.version, chunk_count=0)
        )
        outcome = await asyncio.wait_for(handle.result(), WALL_LIMIT)

    assert (outcome.status, outcome.chunk_count) == ("deleted", 0)
    [publication] = fakes.publications
    assert publication.request.change.kind == "removed"
    assert _finals(fakes) == [
        _final(
            document_id=request.document_id, version=request.change.version, status="deleted", chunk_count=0
        )
    ]


async def test_status_query_follows_the_signals(env: WorkflowEnvironment) -> None:
    fakes = FakeActivities()
    request = _request(_change())
    task_queue = _task_queue()
    async with _worker(env, fakes, task_queue):
        handle = await _start(env, request, task_queue)
        await _published(fakes)
        assert await handle.query(UploadWorkflow.status) == "waiting"
        await handle.signal(
            UploadWorkflow.indexing_finished, IndexingResult(version=request.change.version, chunk_count=1)
        )
        assert await handle.query(UploadWorkflow.status) == "indexed"
        await asyncio.wait_for(handle.result(), WALL_LIMIT)


async def test_the_same_version_twice_runs_one_workflow(env: WorkflowEnvironment) -> None:
    fakes = FakeActivities()
    task_queue = _task_queue()
    settings = Settings(_env_file=None, temporal_task_queue=task_queue)
    change = _change()
    async with _worker(env, fakes, task_queue):
        [first] = await start_uploads(env.client, settings, [change])
        [second] = await start_uploads(env.client, settings, [change])

        assert first.workflow_id == second.workflow_id == workflow_id_for(change)
        assert first.run_id is not None
        assert second.run_id == first.run_id
        assert not first.duplicate
        assert not second.duplicate

        await _published(fakes)
        handle = env.client.get_workflow_handle_for(UploadWorkflow.run, first.workflow_id)
        await handle.signal(
            UploadWorkflow.indexing_finished, IndexingResult(version=change.version, chunk_count=3)
        )
        outcome = await asyncio.wait_for(handle.result(), WALL_LIMIT)

        [after] = await start_uploads(env.client, settings, [change])

    assert outcome.status == "complete"
    assert len(fakes.validations) == 1
    assert len(fakes.finalizations) == 1
    assert after.duplicate
    assert after.run_id is None
    assert after.workflow_id == first.workflow_id


class _StartRecorder(Interceptor):
    """Records each workflow start the client makes."""

    def __init__(self) -> None:
        self.starts: list[StartWorkflowInput] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        recorder = self

        class Recording(OutboundInterceptor):
            async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
                recorder.starts.append(input)
                return await super().start_workflow(input)

        return Recording(next)


async def test_the_intake_asks_for_an_eager_start(env: WorkflowEnvironment) -> None:
    recorder = _StartRecorder()
    config = env.client.config()
    config["interceptors"] = [recorder]
    client = Client(**config)
    task_queue = _task_queue()
    settings = Settings(_env_file=None, temporal_task_queue=task_queue)

    await start_uploads(client, settings, [_change()])

    assert [start.request_eager_start for start in recorder.starts] == [True]
    assert recorder.starts[0].task_queue == task_queue
