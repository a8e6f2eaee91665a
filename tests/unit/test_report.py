"""The report stage when the workflow has closed: a late success (a redriven dead letter) is recorded
by `finalize_late`, which only counts the version if it is still current, failed, and live."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from apps.common import documents
from apps.common.database import Pool
from apps.common.embeddings import Embedders
from apps.common.generations import LiveGenerations
from apps.common.settings import Settings
from apps.common.vector_store import VectorStore
from apps.stream_processors.app import Resources
from apps.stream_processors.parsing import DocumentParser
from apps.stream_processors.report import report
from schemas.events import DocumentFailed, DocumentIndexed
from schemas.generations import Generation
from schemas.workflows import SIGNAL_INDEXING_FINISHED, Finalization, IndexingResult

LIVE = Generation(
    name="documents_g2",
    alias="documents",
    number=2,
    embedding_model="all-MiniLM-L6-v2",
    dimensions=384,
    chunk_size=200,
    chunk_overlap=30,
    source="ingestion",
    status="live",
    created_at=datetime(2026, 12, 7, tzinfo=UTC),
)


@dataclass
class FakeTemporal:
    """Workflows that take signals, or (`closed`) answer NOT_FOUND as Temporal does for a closed one."""

    closed: bool = False
    status: RPCStatusCode = RPCStatusCode.NOT_FOUND
    signals: list[tuple[str, BaseModel]] = field(default_factory=list)

    def get_workflow_handle(self, workflow_id: str) -> FakeTemporal:
        return self

    async def signal(self, name: str, arg: BaseModel) -> None:
        if self.closed:
            raise RPCError("workflow execution already completed", self.status, b"")
        self.signals.append((name, arg))


@dataclass
class LateFinalizer:
    counts: bool = True
    calls: list[DocumentIndexed] = field(default_factory=list)

    async def __call__(self, event: DocumentIndexed) -> bool:
        self.calls.append(event)
        return self.counts


def _indexed(**overrides: Any) -> DocumentIndexed:
    values: dict[str, Any] = {
        "document_id": uuid.uuid4(),
        "version": "v1",
        "workflow_id": "upload:bucket/a.txt@v1",
        "collection": LIVE.name,
        "chunk_count": 7,
        "coverage": 0.9,
    }
    return DocumentIndexed.model_validate(values | overrides)


async def test_an_open_workflow_is_signalled_and_nothing_else() -> None:
    temporal, finalize_late = FakeTemporal(), LateFinalizer()
    event = _indexed()

    reported = await report(event, temporal=cast(Client, temporal), finalize_late=finalize_late)

    assert reported == "signalled"
    assert temporal.signals == [
        (SIGNAL_INDEXING_FINISHED, IndexingResult(version="v1", chunk_count=7, coverage=0.9))
    ]
    assert finalize_late.calls == []


@pytest.mark.parametrize(("counts", "expected"), [(True, "finalized"), (False, "closed")])
async def test_an_indexed_version_whose_workflow_closed_is_finalized_late(
    counts: bool, expected: str
) -> None:
    finalize_late = LateFinalizer(counts=counts)
    event = _indexed()

    reported = await report(
        event, temporal=cast(Client, FakeTemporal(closed=True)), finalize_late=finalize_late
    )

    assert reported == expected
    assert finalize_late.calls == [event]


async def test_a_failure_reported_to_a_closed_workflow_changes_nothing() -> None:
    finalize_late = LateFinalizer()
    event = DocumentFailed(
        document_id=uuid.uuid4(),
        version="v1",
        workflow_id="w",
        collection=LIVE.name,
        stage="embed",
        error="x",
    )

    reported = await report(
        event, temporal=cast(Client, FakeTemporal(closed=True)), finalize_late=finalize_late
    )

    assert reported == "closed"
    assert finalize_late.calls == []


async def test_other_temporal_errors_are_raised_for_a_retry() -> None:
    temporal = FakeTemporal(closed=True, status=RPCStatusCode.UNAVAILABLE)
    with pytest.raises(RPCError):
        await report(_indexed(), temporal=cast(Client, temporal), finalize_late=LateFinalizer())


class FakeGenerations:
    async def get(self, alias: str) -> Generation | None:
        return LIVE if alias == LIVE.alias else None


@pytest.fixture
def finalized(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Finalization, str | None]]:
    calls: list[tuple[Finalization, str | None]] = []

    async def finalize(pool: Pool, outcome: Finalization, *, if_status: str | None = None) -> bool:
        calls.append((outcome, if_status))
        return True

    monkeypatch.setattr(documents, "finalize", finalize)
    return calls


def _resources() -> Resources:
    return Resources(
        settings=Settings(_env_file=None, qdrant_collection=LIVE.alias),
        s3=None,
        embedders=cast(Embedders, None),
        store=cast(VectorStore, None),
        pool=cast(Pool, object()),
        temporal=cast(Client, None),
        parser=cast(DocumentParser, None),
        generations=cast(LiveGenerations, FakeGenerations()),
    )


async def test_a_late_success_completes_only_a_failed_row_of_that_version(
    finalized: list[tuple[Finalization, str | None]],
) -> None:
    event = _indexed()

    assert await _resources().finalize_late(event)

    expected = Finalization(
        document_id=event.document_id, version="v1", status="complete", chunk_count=7, coverage=0.9
    )
    assert finalized == [(expected, "failed")]


async def test_a_late_removal_marks_the_document_deleted(
    finalized: list[tuple[Finalization, str | None]],
) -> None:
    assert await _resources().finalize_late(_indexed(chunk_count=0, coverage=None))

    [(outcome, if_status)] = finalized
    assert (outcome.status, outcome.chunk_count, if_status) == ("deleted", 0, "failed")


async def test_a_late_success_into_a_generation_no_longer_live_does_not_count(
    finalized: list[tuple[Finalization, str | None]],
) -> None:
    assert not await _resources().finalize_late(_indexed(collection="documents_g1"))
    assert finalized == []
