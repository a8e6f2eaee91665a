"""`DeadLetters` over an in-memory dead-letter log with Kafka's semantics (offsets per partition, a
committed offset marking what was handled): listing, redriving, redriving twice, by stage."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apps.common.dead_letters import DeadLetter, DeadLetters, Partition, Position
from schemas.api import DeadLetterDocument

CHUNKED_DLQ = "p.document.chunked.dlq"
READY_DLQ = "p.document.ready.dlq"


@dataclass
class InMemoryDeadLetterLog:
    """Dead-letter topic partitions in memory: what was appended, and each one's handled offset."""

    partitions: dict[Partition, list[DeadLetter]] = field(default_factory=dict)
    handled: dict[Partition, int] = field(default_factory=dict)
    published: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)

    def dead_letter(self, topic: str, body: bytes, *, stage: str, partition: int = 0) -> DeadLetter:
        log = self.partitions.setdefault((topic, partition), [])
        letter = DeadLetter(
            topic=topic,
            partition=partition,
            offset=len(log),
            timestamp=datetime(2026, 12, 7, 10, len(log), tzinfo=UTC),
            key=b"key-%d" % len(log),
            body=body,
            headers={"x-stage": stage, "x-error": f"{stage} broke", "x-attempts": "3"},
        )
        log.append(letter)
        return letter

    async def waiting(self) -> list[DeadLetter]:
        return [
            letter
            for partition, letters in self.partitions.items()
            for letter in letters[self.handled.get(partition, 0) :]
        ]

    async def redrive(self, letters: Sequence[DeadLetter], handled: dict[Partition, int]) -> None:
        self.published += [(letter.source_topic, letter.key, letter.body) for letter in letters]
        self.handled |= handled


def _body(filename: str = "walruses.txt", version: str = "v1") -> bytes:
    document = DeadLetterDocument(document_id=uuid.uuid4(), version=version, filename=filename, tenant="acme")
    return document.model_dump_json().encode()


async def _none_stale(letters: Sequence[DeadLetter]) -> dict[Position, str]:
    return {}


async def test_a_letter_describes_its_stage_error_attempts_document_and_place() -> None:
    log = InMemoryDeadLetterLog()
    body = _body()
    log.dead_letter(CHUNKED_DLQ, body, stage="embed", partition=2)

    [letter] = await DeadLetters(log).waiting()
    info = letter.info()

    assert (info.stage, info.error, info.attempts) == ("embed", "embed broke", 3)
    assert info.document == DeadLetterDocument.model_validate_json(body)
    assert (info.topic, info.source_topic, info.partition, info.offset) == (
        CHUNKED_DLQ,
        "p.document.chunked",
        2,
        0,
    )
    assert info.dead_lettered_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


async def test_a_body_that_names_no_document_is_listed_without_one() -> None:
    log = InMemoryDeadLetterLog()
    log.dead_letter(READY_DLQ, b"not json", stage="parse")

    [letter] = await DeadLetters(log).waiting()

    assert letter.info().document is None


async def test_redrive_sends_every_letter_back_once() -> None:
    log = InMemoryDeadLetterLog()
    chunked = log.dead_letter(CHUNKED_DLQ, _body("a.txt"), stage="embed")
    ready = log.dead_letter(READY_DLQ, _body("b.txt"), stage="parse", partition=1)
    dead_letters = DeadLetters(log)

    first = await dead_letters.redrive(_none_stale)
    second = await dead_letters.redrive(_none_stale)

    assert {letter.position for letter in first.redriven} == {chunked.position, ready.position}
    assert sorted(log.published) == sorted(
        [("p.document.chunked", chunked.key, chunked.body), ("p.document.ready", ready.key, ready.body)]
    )
    assert (first.skipped, first.still_waiting) == ([], 0)
    assert (second.redriven, second.skipped) == ([], [])
    assert len(log.published) == 2
    assert await dead_letters.waiting() == []


async def test_a_letter_dead_lettered_again_after_a_redrive_waits_again() -> None:
    log = InMemoryDeadLetterLog()
    body = _body()
    log.dead_letter(CHUNKED_DLQ, body, stage="embed")
    dead_letters = DeadLetters(log)
    await dead_letters.redrive(_none_stale)

    again = log.dead_letter(CHUNKED_DLQ, body, stage="embed")

    assert await dead_letters.waiting() == [again]
    assert [letter.offset for letter in (await dead_letters.redrive(_none_stale)).redriven] == [1]


async def test_redrive_of_one_stage_leaves_the_others_waiting() -> None:
    log = InMemoryDeadLetterLog()
    log.dead_letter(CHUNKED_DLQ, _body("a.txt"), stage="embed")
    parse = log.dead_letter(READY_DLQ, _body("b.txt"), stage="parse")
    dead_letters = DeadLetters(log)

    assert [letter.stage for letter in await dead_letters.waiting("embed")] == ["embed"]
    redrive = await dead_letters.redrive(_none_stale, "embed")

    assert [letter.stage for letter in redrive.redriven] == ["embed"]
    assert [topic for topic, _, _ in log.published] == ["p.document.chunked"]
    assert await dead_letters.waiting() == [parse]


async def test_a_stage_filter_marks_handled_only_up_to_another_stages_letter() -> None:
    """The handled offset is one per partition: it cannot pass over a letter left waiting."""
    log = InMemoryDeadLetterLog()
    first = log.dead_letter(CHUNKED_DLQ, _body("a.txt"), stage="embed")
    other = log.dead_letter(CHUNKED_DLQ, _body("b.txt"), stage="parse")
    behind = log.dead_letter(CHUNKED_DLQ, _body("c.txt"), stage="embed")
    dead_letters = DeadLetters(log)

    redrive = await dead_letters.redrive(_none_stale, "embed")

    assert [letter.position for letter in redrive.redriven] == [first.position]
    assert redrive.still_waiting == 1
    assert await dead_letters.waiting() == [other, behind]
    everything = await dead_letters.redrive(_none_stale)
    assert [letter.position for letter in everything.redriven] == [other.position, behind.position]


async def test_stale_letters_are_marked_handled_without_being_sent() -> None:
    log = InMemoryDeadLetterLog()
    stale = log.dead_letter(CHUNKED_DLQ, _body("old.txt"), stage="embed")
    fresh = log.dead_letter(CHUNKED_DLQ, _body("new.txt"), stage="embed")

    async def superseded(letters: Sequence[DeadLetter]) -> dict[Position, str]:
        return {stale.position: "version v1 was superseded by v2"}

    redrive = await DeadLetters(log).redrive(superseded)

    assert redrive.redriven == [fresh]
    assert redrive.skipped == [(stale, "version v1 was superseded by v2")]
    assert [body for _, _, body in log.published] == [fresh.body]
    assert await DeadLetters(log).waiting() == []
