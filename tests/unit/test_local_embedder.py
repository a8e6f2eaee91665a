"""Unit tests of `LocalEmbedder` with the real all-MiniLM-L6-v2, on each runtime (ONNX Runtime int8 and
PyTorch): concurrent questions are answered a batch at a time and never wait for chunks, a document's
chunks (even one) go over the lanes, and an encode split over lanes gives each text its own vector."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence

import numpy as np
import pytest

from apps.common.embeddings import LANE_NICENESS, QUESTION_NICENESS, LocalEmbedder, Vectors, spec_of
from apps.common.local_encoders import LocalEncoder, LocalRuntime, local_encoder, local_model_name
from tests.support import wait_for

QUESTIONS = [
    f"How far can a {animal} swim in one day?" for animal in ("seal", "penguin", "otter", "walrus")
] * 5


@pytest.fixture(scope="module", params=["onnx-int8", "torch"])
def embedder(request: pytest.FixtureRequest) -> LocalEmbedder:
    runtime: LocalRuntime = request.param
    return LocalEmbedder(spec_of(local_model_name(runtime)), local_encoder(runtime), lanes=3)


@contextlib.contextmanager
def busy_with_questions(embedder: LocalEmbedder) -> Iterator[None]:
    """Keep the question thread busy until the block ends."""
    release = threading.Event()
    busy = embedder._question_thread.submit(release.wait, 30)
    try:
        yield
    finally:
        release.set()
        busy.result()


def questions_waiting(embedder: LocalEmbedder, count: int) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return len(embedder._questions) == count

    return condition


async def test_questions_waiting_for_the_model_are_answered_a_batch_at_a_time_in_order(
    embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = [await embedder.embed_question(q) for q in QUESTIONS[:4]]
    encodes: list[tuple[int, int]] = []  # texts, questions answered before it
    niceness: set[int] = set()
    encode_lane = embedder._encode_lane

    def counted(model: LocalEncoder, texts: Sequence[str]) -> Vectors:
        encodes.append((len(texts), sum(request.vectors.done() for request in requests)))
        niceness.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return encode_lane(model, texts)

    monkeypatch.setattr(embedder, "_encode_lane", counted)
    with busy_with_questions(embedder):  # while these arrive
        asking = asyncio.gather(*(embedder.embed_question(q) for q in QUESTIONS))
        await wait_for(questions_waiting(embedder, len(QUESTIONS)), timeout=10, interval=0.01)
        requests = list(embedder._questions)
    answers = await asking

    # One thread (the event loop keeps the GIL), a batch at a time, each batch answered at once.
    size = embedder._batch_size
    assert encodes == [(size, answered) for answered in range(0, len(QUESTIONS), size)]
    # The lanes give way to questions: the question thread is less nice than they are.
    assert niceness == {min(19, os.getpriority(os.PRIO_PROCESS, 0) + QUESTION_NICENESS)}
    assert QUESTION_NICENESS < LANE_NICENESS
    for i, vector in enumerate(answers):
        assert vector.shape == (384,)
        np.testing.assert_allclose(vector, alone[i % 4], atol=1e-5)


async def test_a_question_whose_caller_left_is_not_encoded_and_the_rest_are(
    embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[str] = []
    encode_lane = embedder._encode_lane

    def counted(model: LocalEncoder, texts: Sequence[str]) -> Vectors:
        encoded.extend(texts)
        return encode_lane(model, texts)

    monkeypatch.setattr(embedder, "_encode_lane", counted)
    with busy_with_questions(embedder):
        asking = [asyncio.ensure_future(embedder.embed_question(q)) for q in QUESTIONS[:3]]
        await wait_for(questions_waiting(embedder, 3), timeout=10, interval=0.01)
        asking[1].cancel()  # its client went away
        await asyncio.gather(asking[1], return_exceptions=True)
    first, third = await asyncio.wait_for(asyncio.gather(asking[0], asking[2]), timeout=30)
    assert encoded == [QUESTIONS[0], QUESTIONS[2]]
    assert first.shape == third.shape == (384,)
    assert (await asyncio.wait_for(embedder.embed_question(QUESTIONS[3]), timeout=30)).shape == (384,)


async def test_a_question_does_not_wait_for_the_chunks_being_encoded(
    embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoding, finish = threading.Event(), threading.Event()
    encode = embedder._encode

    def long_encode(texts: Sequence[str], lanes: int) -> Vectors:
        encoding.set()
        finish.wait(timeout=30)
        return encode(texts, lanes)

    async def chunks_encoding() -> bool:
        return encoding.is_set()

    monkeypatch.setattr(embedder, "_encode", long_encode)
    chunks = asyncio.ensure_future(embedder.embed(["a long manual page", "and its next chunk"]))
    try:
        await wait_for(chunks_encoding, timeout=10, interval=0.01)
        answer = await asyncio.wait_for(embedder.embed_question(QUESTIONS[0]), timeout=10)
        assert answer.shape == (384,)
        assert not chunks.done()
    finally:
        finish.set()
    assert (await chunks).shape == (2, 384)


async def test_a_failed_encode_fails_every_request_in_it_and_not_the_next(
    embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    encode_lane = embedder._encode_lane

    def broken(model: LocalEncoder, texts: Sequence[str]) -> Vectors:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(embedder, "_encode_lane", broken)
    with busy_with_questions(embedder):
        asking = asyncio.gather(*(embedder.embed_question(q) for q in QUESTIONS[:3]), return_exceptions=True)
        await wait_for(questions_waiting(embedder, 3), timeout=10, interval=0.01)
    assert [str(e) for e in await asking] == ["out of memory"] * 3
    chunks = await asyncio.gather(embedder.embed(QUESTIONS[:2]), return_exceptions=True)
    assert [str(e) for e in chunks] == ["out of memory"]

    monkeypatch.setattr(embedder, "_encode_lane", encode_lane)
    assert (await embedder.embed(QUESTIONS[:2])).shape == (2, 384)
    assert (await embedder.embed(QUESTIONS[:1])).shape == (1, 384)
    assert (await embedder.embed_question(QUESTIONS[0])).shape == (384,)


async def test_chunks_go_over_every_lane_and_each_gets_its_own_vector(
    embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks = [
        " ".join(f"{word} swims {i} km" for word in QUESTIONS[i % 4].split()[: 1 + i]) for i in range(11)
    ]
    alone = np.concatenate([await embedder.embed([chunk]) for chunk in chunks])
    lanes: list[int] = []
    encode = embedder._encode

    niceness: set[int] = set()
    encode_lane = embedder._encode_lane

    def counted(texts: Sequence[str], lane_count: int) -> Vectors:
        lanes.append(lane_count)
        return encode(texts, lane_count)

    def lane(model: LocalEncoder, texts: Sequence[str]) -> Vectors:
        niceness.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return encode_lane(model, texts)

    monkeypatch.setattr(embedder, "_encode", counted)
    monkeypatch.setattr(embedder, "_encode_lane", lane)
    together = await embedder.embed(chunks)

    assert lanes == [3]
    # The lanes give way to the event loop: they run nicer than the process.
    assert niceness == {min(19, os.getpriority(os.PRIO_PROCESS, 0) + LANE_NICENESS)}
    np.testing.assert_allclose(together, alone, atol=1e-5)


async def test_a_document_of_one_chunk_goes_over_the_lanes_not_the_question_thread(
    embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    lanes: list[int] = []
    encode = embedder._encode

    def counted(texts: Sequence[str], lane_count: int) -> Vectors:
        lanes.append(lane_count)
        return encode(texts, lane_count)

    monkeypatch.setattr(embedder, "_encode", counted)
    with busy_with_questions(embedder):  # a chunk taking the question thread would wait here
        vectors = await asyncio.wait_for(embedder.embed(["A penguin incubates the egg."]), timeout=10)

    assert lanes == [3]
    assert vectors.shape == (1, 384)
