"""The SQS intake: the messages of one receive start their workflows together, and only the
messages whose workflows started are deleted, in one call."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, cast

import pytest
from temporalio.client import Client

from apps.common.intake import indexing_timeout_for
from apps.common.settings import Settings
from apps.ingest_workflows import intake


class FakeSqs:
    """Hands out one batch of messages, then blocks as an empty long poll would; records deletions."""

    def __init__(self, bodies: list[str]) -> None:
        self._batches = [
            [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": b} for i, b in enumerate(bodies)]
        ]
        self.deleted: list[list[str]] = []
        self.drained = asyncio.Event()

    async def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        if not self._batches:
            self.drained.set()
            await asyncio.Event().wait()
        return {"Messages": self._batches.pop()}

    async def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.deleted.append([entry["ReceiptHandle"] for entry in Entries])
        return {"Successful": [{"Id": entry["Id"]} for entry in Entries]}


async def test_messages_start_together_and_only_the_started_ones_are_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bodies = ["first", "broken", "third"]
    sqs = FakeSqs(bodies)
    waiting: set[str] = set()
    all_waiting = asyncio.Event()

    async def handle(body: str, **kwargs: Any) -> int:
        # Each start waits until all three are under way: started one after another, they would hang.
        waiting.add(body)
        if len(waiting) == len(bodies):
            all_waiting.set()
        await asyncio.wait_for(all_waiting.wait(), 10)
        if body == "broken":
            raise RuntimeError("Temporal is unreachable")
        return 1

    monkeypatch.setattr(intake, "handle_notification", handle)
    polling = asyncio.create_task(
        intake.poll_sqs(sqs, "queue", temporal=cast(Client, object()), settings=Settings(_env_file=None))
    )
    try:
        await asyncio.wait_for(sqs.drained.wait(), 10)
    finally:
        polling.cancel()
    assert sqs.deleted == [["r0", "r2"]]


def test_a_bigger_object_gets_a_longer_indexing_timeout() -> None:
    settings = Settings(_env_file=None, indexing_timeout="PT1H", indexing_timeout_per_mib="PT30S")
    assert indexing_timeout_for(settings, None) == timedelta(hours=1)
    assert indexing_timeout_for(settings, 100 * 1024 * 1024) == timedelta(hours=1, minutes=50)
