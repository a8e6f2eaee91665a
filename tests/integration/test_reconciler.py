"""The reconciler on the real local stack: objects whose S3 events were dropped are indexed (and
removed) all the same, each once, and an object both listed and evented is indexed once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from temporalio.client import Client

from apps.cli.system import ALL_COMPONENTS, running_system
from apps.common.database import Pool, open_pool
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from apps.common.vector_store import VectorStore
from apps.devstack.stack import LocalStack
from apps.ingest_workflows.reconciler import PassReport, bucket_reconciler
from schemas.workflows import UploadOutcome
from tests.support import document_rows, isolated_settings, wait_for, wait_until_complete, wait_until_settled

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    pool = await open_pool(settings.database_url)
    yield pool
    await pool.close()


def started(kind: str) -> float:
    return REGISTRY.get_sample_value("ragstream_reconcile_changes_started_total", {"kind": kind}) or 0.0


async def put(s3: Any, settings: Settings, key: str, body: bytes, **extra: Any) -> None:
    await s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=body, **extra)


async def assert_indexed_once(store: VectorStore, settings: Settings, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        assert row["chunk_count"] > 0, row
        assert await store.count(settings.qdrant_collection, document_id=row["id"]) == row["chunk_count"], row


async def test_objects_put_while_events_are_dropped_are_reconciled(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    settings = await isolated_settings(local_stack, tmp_path, reconcile_interval="PT1S")
    created_before, removed_before = started("created"), started("removed")
    async with running_system(settings, ALL_COMPONENTS) as system, s3_client(settings) as s3:
        assert system.store is not None
        await put(s3, settings, "kept.txt", b"Kept documents stay indexed while the events are off.")
        await put(s3, settings, "doomed.txt", b"This document's object is deleted while nobody listens.")
        [kept] = await wait_until_complete(settings, ["kept.txt"])
        await wait_until_complete(settings, ["doomed.txt"])
        notifications = await s3.get_bucket_notification_configuration(Bucket=settings.s3_bucket)
        notifications.pop("ResponseMetadata", None)
        # As SeaweedFS drops its events while Kafka is down: nothing tells the intake from here on.
        await s3.put_bucket_notification_configuration(
            Bucket=settings.s3_bucket, NotificationConfiguration={}
        )
        dropped = {
            "dropped/one.txt": b"Lighthouses guide ships past dangerous rocks at night.",
            "dropped/two.md": b"# Windmills\n\nWindmills turn the wind's energy into grinding grain.",
            "tenants/acme/three.txt": b"Acme's own document, readable by its research group only.",
        }
        for key, body in dropped.items():
            extra = {"Metadata": {"ragstream-groups": "research"}} if key.startswith("tenants/") else {}
            await put(s3, settings, key, body, **extra)
        await s3.delete_object(Bucket=settings.s3_bucket, Key="doomed.txt")

        rows = await wait_until_complete(settings, list(dropped), timeout=120)
        await assert_indexed_once(system.store, settings, rows)
        by_key = {r["s3_key"]: r for r in rows}
        assert (
            by_key["tenants/acme/three.txt"]["tenant_id"],
            by_key["tenants/acme/three.txt"]["groups"],
        ) == (
            "acme",
            ["research"],
        )
        assert all("#t:" in r["workflow_id"] for r in rows), [r["workflow_id"] for r in rows]
        [doomed] = await wait_until_settled(settings, ["doomed.txt"])
        assert doomed["status"] == "deleted", doomed
        assert await system.store.count(settings.qdrant_collection, document_id=doomed["id"]) == 0
        assert started("created") - created_before >= len(dropped)
        assert started("removed") - removed_before >= 1

        # Events back on: an object put now is indexed once, though passes keep listing it.
        await s3.put_bucket_notification_configuration(
            Bucket=settings.s3_bucket, NotificationConfiguration=notifications
        )
        await put(s3, settings, "late.txt", b"Late documents arrive by both roads and are indexed once.")
        [late] = await wait_until_complete(settings, ["late.txt"])
        await assert_indexed_once(system.store, settings, [late])
        # Passes every second left the indexed document alone.
        [kept_after] = await document_rows(settings, ["kept.txt"])
        assert (kept_after["workflow_id"], kept_after["indexed_at"]) == (
            kept["workflow_id"],
            kept["indexed_at"],
        )


async def upload_workflows(temporal: Client, settings: Settings) -> list[Any]:
    query = f"TaskQueue = '{settings.temporal_task_queue}'"
    return [w async for w in temporal.list_workflows(query)]


async def test_a_listed_and_evented_object_is_indexed_once(settings: Settings, pool: Pool) -> None:
    assert settings.reconcile_interval is not None  # the local stack's default: on
    key = "both-roads.txt"
    async with (
        running_system(settings, ["processors", "worker"]) as system,
        s3_client(settings) as s3,
    ):
        temporal, store = system.temporal, system.store
        assert temporal is not None
        assert store is not None
        reconciler = bucket_reconciler(settings, s3=s3, pool=pool, temporal=temporal)
        # The event waits in SQS (no intake yet); the reconciler lists the object first.
        await put(s3, settings, key, b"An object listed by the reconciler and evented by S3 alike.")
        report: PassReport = await reconciler.reconcile()
        assert (report.listed, report.created, report.removed) == (1, 1, 0)
        [row] = await wait_until_complete(settings, [key])

        # Registered, mid-indexing or indexed, a version is not started again.
        await put(s3, settings, "second.txt", b"A second object, indexed by its own reconciled change.")
        await reconciler.reconcile()
        await wait_for(lambda: document_rows(settings, ["second.txt"]), what="second.txt to be registered")
        again = await reconciler.reconcile()
        assert (again.created, again.removed) == (0, 0), again
        assert again.skipped["registered"] == 2, again

        async with running_system(settings, ["intake"]):  # now the event arrives too

            async def both_closed() -> list[Any] | None:
                runs = await upload_workflows(temporal, settings)
                return runs if len(runs) >= 4 and all(w.close_time for w in runs) else None

            runs = await wait_for(both_closed, timeout=60, what="the evented workflows to end")
        outcomes = [
            await temporal.get_workflow_handle(w.id, run_id=w.run_id, result_type=UploadOutcome).result()
            for w in runs
        ]
        ours = [o for o in outcomes if o.document_id == row["id"]]
        assert sorted(o.status for o in ours) == ["complete", "superseded"], ours
        [after] = await document_rows(settings, [key])
        assert (after["status"], after["workflow_id"], after["chunk_count"]) == (
            "complete",
            row["workflow_id"],
            row["chunk_count"],
        )
        assert await store.count(settings.qdrant_collection, document_id=row["id"]) == row["chunk_count"]
