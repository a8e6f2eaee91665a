"""What every stage does around its work: retry with backoff, and when a message keeps failing,
park it in `<topic>.dlq` and fail its document through `document.failed` instead of
blocking the partition or leaving the workflow to time out.

A `DocumentError` (the document itself is bad: corrupt, empty, unreadable) is not retried:
the document fails at once with the error's message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from faststream.kafka import KafkaBroker
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from apps.common.kafka import publish_event
from apps.stream_processors.metrics import STAGE_MESSAGES, STAGE_SECONDS
from schemas.events import DocumentFailed, DocumentRef
from schemas.topics import dlq_topic

log = logging.getLogger(__name__)

T = TypeVar("T")


class DocumentError(Exception):
    """The document cannot be processed (its content is the problem); retrying would not help."""


@dataclass(frozen=True)
class FailedMessage:
    """A message a stage gave up on: where it came from, its raw bytes and key, and why."""

    topic: str
    key: bytes | None
    body: bytes


@dataclass
class Stage:
    name: str
    broker: KafkaBroker
    failed_topic: str
    max_attempts: int = 3
    backoff_seconds: float = 0.5

    async def run(
        self, refs: list[DocumentRef], work: Callable[[], Awaitable[T]], *, messages: list[FailedMessage]
    ) -> T | None:
        """`work()`'s result, or None once the documents of `refs` were failed (the caller then acks)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff_seconds, max=30),
            retry=retry_if_not_exception_type(DocumentError),
        )
        attempts = 0
        with STAGE_SECONDS.labels(self.name).time():
            try:
                async for attempt in retrying:
                    with attempt:
                        attempts = attempt.retry_state.attempt_number
                        result = await work()
            except DocumentError as exc:
                STAGE_MESSAGES.labels(self.name, "document_failed").inc(len(refs))
                for ref in refs:
                    log.warning(
                        "%s: document %s version %s failed: %s", self.name, ref.document_id, ref.version, exc
                    )
                    await self.fail(ref, str(exc))
                return None
            except RetryError as exc:
                STAGE_MESSAGES.labels(self.name, "dead_lettered").inc(len(refs))
                await self._dead_letter(refs, messages, exc.last_attempt.exception(), attempts)
                return None
        STAGE_MESSAGES.labels(self.name, "processed").inc(len(refs))
        return result

    async def fail(self, ref: DocumentRef, error: str) -> None:
        failed = DocumentFailed(
            document_id=ref.document_id,
            version=ref.version,
            workflow_id=ref.workflow_id,
            collection=ref.collection,
            stage=self.name,
            error=error,
        )
        await publish_event(self.broker, self.failed_topic, failed)

    async def _dead_letter(
        self,
        refs: list[DocumentRef],
        messages: list[FailedMessage],
        cause: BaseException | None,
        attempts: int,
    ) -> None:
        reason = f"{type(cause).__name__}: {cause}" if cause else "unknown error"
        log.error("%s: giving up after %d attempts: %s", self.name, attempts, reason)
        headers = {"x-error": reason[:1000], "x-attempts": str(attempts), "x-stage": self.name}
        for message in messages:
            await self.broker.publish(
                message.body, dlq_topic(message.topic), key=message.key, headers=headers
            )
        for ref in refs:
            dlq = dlq_topic(messages[0].topic) if messages else "the dead-letter topic"
            await self.fail(ref, f"{reason} (after {attempts} attempts; the message is in {dlq})")
