"""Dead letters: the messages a stage gave up on, waiting in `<topic>.dlq` (headers `x-error`,
`x-attempts`, `x-stage`); listed, and redriven to their own topic so that the stage tries them again.

Kafka cannot delete a message, so "handled" is an offset. The consumer group
`{RAGSTREAM_KAFKA_CONSUMER_GROUP_PREFIX}.dead-letters` holds, per dead-letter topic partition, the
committed offset just past the last letter redriven: the letters at or after it (all of them where
nothing is committed) are waiting; the group never subscribes, it only keeps those offsets. A redrive
publishes each letter's bytes, with its key, to its source topic, then commits. Letters whose
document version no longer wants indexing (superseded, deleted, complete) are marked handled unsent:
the upsert of a stale version would delete the points of the current one. A crash between the
two sends those letters again on the next redrive: harmless, as every stage is idempotent. Redriven
letters that fail again come back as new letters, waiting again. A redrive of one stage's letters
commits over a partition's waiting letters only up to the first of another stage (each stage
dead-letters into a topic of its own, so in practice none is left behind); a later redrive takes
the rest. One API process redrives one request at a time; two processes at once may both send a
letter (harmless too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from apps.common.kafka import MAX_MESSAGE_BYTES, admin_client
from apps.common.kafka_security import client_security
from apps.common.settings import Settings
from schemas.api import DeadLetterDocument, DeadLetterInfo
from schemas.topics import DLQ_SUFFIX, TOPIC_MODELS, dlq_topic

# Kafka's error code of a topic that does not exist (not created yet: nothing was dead-lettered).
_UNKNOWN_TOPIC = 3
# How long a read waits for more letters once it is past the end offsets Kafka reports (an
# embedded Tansu reports too small ones after a batch of several messages).
_IDLE_MS = 500
Partition = tuple[str, int]
Position = tuple[str, int, int]


@dataclass(frozen=True)
class DeadLetter:
    """One message in a dead-letter topic: where it is, its bytes and key, and why it is there."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    body: bytes
    headers: dict[str, str]

    @property
    def position(self) -> Position:
        return self.topic, self.partition, self.offset

    @property
    def source_topic(self) -> str:
        return self.topic.removesuffix(DLQ_SUFFIX)

    @property
    def stage(self) -> str:
        return self.headers.get("x-stage", "unknown")

    @property
    def document(self) -> DeadLetterDocument | None:
        """The document version its body carries; None if the body is not an event about one."""
        try:
            return DeadLetterDocument.model_validate_json(self.body)
        except ValidationError:
            return None

    def info(self) -> DeadLetterInfo:
        attempts = self.headers.get("x-attempts", "")
        return DeadLetterInfo(
            stage=self.stage,
            error=self.headers.get("x-error", "unknown error"),
            attempts=int(attempts) if attempts.isdigit() else None,
            document=self.document,
            topic=self.topic,
            source_topic=self.source_topic,
            partition=self.partition,
            offset=self.offset,
            dead_lettered_at=self.timestamp,
        )


# Why each of these letters is not worth sending (its document moved on), by position.
StaleLetters = Callable[[Sequence[DeadLetter]], Awaitable[dict[Position, str]]]


@dataclass(frozen=True)
class Redrive:
    redriven: list[DeadLetter]
    skipped: list[tuple[DeadLetter, str]]
    still_waiting: int


class DeadLetterLog(Protocol):
    """Where dead letters are kept: Kafka (`KafkaDeadLetterLog`), or memory in the unit tests."""

    async def waiting(self) -> list[DeadLetter]:
        """Every letter at or past its partition's handled offset, each partition's in offset order."""
        ...

    async def redrive(self, letters: Sequence[DeadLetter], handled: dict[Partition, int]) -> None:
        """Publish `letters` to their source topics, then commit `handled` (the next offset to read)."""
        ...


def plan_redrive(
    waiting: Sequence[DeadLetter], stage: str | None
) -> tuple[list[DeadLetter], dict[Partition, int]]:
    """The letters to redrive (of `stage`, or all) and the handled offset of each partition they
    leave: each partition's run of chosen letters up to the first one not chosen."""
    chosen: list[DeadLetter] = []
    handled: dict[Partition, int] = {}
    blocked: set[Partition] = set()
    for letter in sorted(waiting, key=lambda d: (d.topic, d.partition, d.offset)):
        partition = (letter.topic, letter.partition)
        if partition in blocked:
            continue
        if stage is not None and letter.stage != stage:
            blocked.add(partition)
            continue
        chosen.append(letter)
        handled[partition] = letter.offset + 1
    return chosen, handled


class DeadLetters:
    """The dead letters of a deployment: what is waiting, and redriving it."""

    def __init__(self, log: DeadLetterLog) -> None:
        self._log = log
        self._redriving = asyncio.Lock()

    async def waiting(self, stage: str | None = None) -> list[DeadLetter]:
        letters = await self._log.waiting()
        return [letter for letter in letters if stage is None or letter.stage == stage]

    async def redrive(self, stale: StaleLetters, stage: str | None = None) -> Redrive:
        """Send the waiting letters (of `stage`, or all) back, but those `stale` names; mark all handled."""
        async with self._redriving:
            waiting = await self._log.waiting()
            chosen, handled = plan_redrive(waiting, stage)
            reasons = await stale(chosen) if chosen else {}
            sent = [letter for letter in chosen if letter.position not in reasons]
            if handled:
                await self._log.redrive(sent, handled)
        done = {letter.position for letter in chosen}
        left = [d for d in waiting if d.position not in done and (stage is None or d.stage == stage)]
        skipped = [(letter, reasons[letter.position]) for letter in chosen if letter.position in reasons]
        return Redrive(sent, skipped, len(left))


class KafkaDeadLetterLog:
    """The dead-letter topics of the pipeline on Kafka, and the consumer group that marks letters handled."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._topics = [dlq_topic(settings.topic(name)) for name in TOPIC_MODELS]
        self._group = settings.consumer_group("dead-letters")

    async def waiting(self) -> list[DeadLetter]:
        partitions = await self._partitions()
        if not partitions:
            return []
        async with self._consumer(partitions) as consumer:
            ends = await consumer.end_offsets(partitions)
            letters: list[DeadLetter] = []
            while True:
                batches = await consumer.getmany(*partitions, timeout_ms=_IDLE_MS)
                for records in batches.values():
                    letters.extend(_letter(record) for record in records)
                if not batches and all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
                    return letters

    async def redrive(self, letters: Sequence[DeadLetter], handled: dict[Partition, int]) -> None:
        if letters:
            await self._publish(letters)
        offsets = {TopicPartition(topic, partition): offset for (topic, partition), offset in handled.items()}
        async with self._consumer(list(offsets)) as consumer:
            await consumer.commit(offsets)

    async def _publish(self, letters: Sequence[DeadLetter]) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=self._settings.kafka_idempotent_producer,
            max_request_size=MAX_MESSAGE_BYTES,
            **client_security(self._settings),
        )
        await producer.start()
        try:
            for letter in letters:
                where = f"{letter.topic}/{letter.partition}/{letter.offset}"
                headers = [("content-type", b"application/json"), ("x-redriven-from", where.encode())]
                await producer.send_and_wait(
                    letter.source_topic, letter.body, key=letter.key, headers=headers
                )
        finally:
            await producer.stop()

    async def _partitions(self) -> list[TopicPartition]:
        """The partitions of the dead-letter topics that exist."""
        async with admin_client(self._settings) as admin:
            described: list[dict[str, Any]] = await admin.describe_topics(self._topics)
        return [
            TopicPartition(topic["topic"], partition["partition"])
            for topic in described
            if topic["error_code"] != _UNKNOWN_TOPIC
            for partition in topic["partitions"]
        ]

    @contextlib.asynccontextmanager
    async def _consumer(self, partitions: list[TopicPartition]) -> AsyncIterator[AIOKafkaConsumer]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
            fetch_max_bytes=MAX_MESSAGE_BYTES * 4,
            **client_security(self._settings),
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            yield consumer
        finally:
            await consumer.stop()


def _letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        key=record.key,
        body=record.value or b"",
        headers={name: value.decode(errors="replace") for name, value in record.headers},
    )
