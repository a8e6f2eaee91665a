"""Query latency: `POST /v1/query` streamed (SSE) at 1, 10 and 50 concurrent clients over a small
corpus indexed through the real pipeline, with the chat model replaced by a local OpenAI-compatible
stub of fixed speed. Per level: requests/s, latency (request to `done`), time to first token, and
the API's own overhead, total minus (embed + search + LLM) from the `done` event's timings. Then one
client again while the pipeline ingests more documents in the same process, as `ragstream dev` runs.

The clients and the stub run in a child process of their own, as they would on other machines: in
the API's process they would take its event loop's time and count it as the API's overhead.

The baseline, in the same run: the stub answering the same deltas to the openai SDK directly from
the API's process, at the same concurrency — the floor for any API in front of that model. And the
busiest level again with the local model on PyTorch, the runtime before ONNX Runtime's int8.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import aiohttp
import psutil
from rich.progress import Progress

from apps.cli.system import System
from apps.common.local_encoders import local_model_name
from apps.common.openai_client import openai_client
from apps.common.settings import DEFAULT_LOCAL_EMBEDDING_MODEL, Settings
from apps.devstack.stack import LocalStack
from bench import tenant_search
from bench.cpu import cpu_seconds
from bench.report import Result, console, progress, publish
from bench.stack import (
    Document,
    local_stack,
    one_page_documents,
    percentile,
    put_documents,
    running_ragstream,
)
from tests.openai_stub import CHAT_DELTAS, running_openai_stub
from tests.support import document_rows, wait_until_complete

CONCURRENCY = (1, 10, 50)
QUERIES_PER_LEVEL = int(os.environ.get("RAGSTREAM_BENCH_QUERIES", "400"))
# Enough a client that the level's start and end, when fewer than all clients are asking, are a small
# part of it (BENCHMARKS.md's levels last seconds at 50 clients).
QUERIES_PER_CLIENT = 40
CORPUS_DOCUMENTS = 30
INGESTING_DOCUMENTS = int(os.environ.get("RAGSTREAM_BENCH_INGESTING", "60"))
INGESTING_QUERIES = 100
DELTA_DELAY = 0.010  # seconds the stub waits after each of its deltas: a model of fixed speed
STUB_MODEL = "stub-model"
TARGET_OVERHEAD_P50_MS = 5.0
TARGET_OVERHEAD_P99_MS = 25.0
TORCH_MODEL = local_model_name("torch")
TARGET_SPEEDUP_OVER_TORCH = 1.8  # requests/s at the busiest level

QUESTIONS = (
    "How do I back up a single database?",
    "Which authentication methods does PostgreSQL support?",
    "What does VACUUM do?",
    "How are indexes used by the query planner?",
    "How do I create a new role that can log in?",
    "What is a tablespace?",
    "How does streaming replication work?",
    "What are the transaction isolation levels?",
    "How do I write a trigger function in PL/pgSQL?",
    "Which data types store dates and times?",
    "What is the write-ahead log for?",
    "How can I see the plan of a query?",
    "What do the system catalogs contain?",
    "How do I restore a dump made by pg_dump?",
    "What is a foreign data wrapper?",
    "How are large objects stored?",
    "What does the autovacuum daemon do?",
    "How do I configure logging of slow statements?",
    "What are sequences and how are they used?",
    "How does full text search rank documents?",
)


@dataclass(frozen=True)
class Answer:
    """One streamed answer as its client saw it, and the server's timings from its `done` event."""

    latency_ms: float  # request sent -> `done` event received
    ttft_ms: float  # request sent -> first `token` event received
    embed_ms: float
    search_ms: float
    llm_ms: float
    total_ms: float
    sources: int

    @property
    def overhead_ms(self) -> float:
        """The API's own time: the server's total minus embedding, search and the chat model."""
        return self.total_ms - self.embed_ms - self.search_ms - self.llm_ms


@dataclass
class Level:
    """The answers at one concurrency, their wall time, and what the machine did meanwhile."""

    concurrency: int
    seconds: float = 0.0
    answers: list[Answer] = field(default_factory=list)
    ingesting: int = 0  # documents put into S3 just before the level, for the pipeline to ingest meanwhile
    ingested: int = 0  # of them, complete or failed when the level ended
    cpu: dict[str, float] = field(default_factory=dict)  # percent of one CPU: "api", "load", "all"
    pool_wait_ms: float = 0.0  # the API's Postgres pool: mean wait per connection request
    pool_queued: float = 0.0  # the share of connection requests that had to wait

    @property
    def per_second(self) -> float:
        return len(self.answers) / self.seconds

    def p(self, q: float, value: Callable[[Answer], float]) -> float:
        return percentile([value(a) for a in self.answers], q)


@dataclass
class Baseline:
    """The stub's answers to the openai SDK alone: wall time per answer and to its first delta."""

    concurrency: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    ttfts_ms: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds


async def _concurrently(
    concurrency: int, total: int, one: Callable[[int], Awaitable[None]], advance: Callable[[], None]
) -> float:
    """Run `one(i)` for i in 0..total-1 on `concurrency` workers; returns the wall time in seconds."""
    numbers = itertools.count()

    async def worker() -> None:
        while (i := next(numbers)) < total:
            await one(i)
            advance()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def server_sent_events(lines: aiohttp.StreamReader) -> AsyncIterator[tuple[str, str]]:
    """Each event's name and data, as the API sends them."""
    name, data = "message", list[str]()
    async for raw in lines:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "message", list[str]()
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))


async def ask(session: aiohttp.ClientSession, question: str) -> Answer:
    """One question, streamed: the time to the first token and to `done`, and `done`'s timings."""
    started = time.perf_counter()
    first_token = finished = 0.0
    timings: dict[str, float] | None = None
    sources = 0
    async with session.post("/v1/query", json={"query": question}) as response:
        response.raise_for_status()
        async for event, data in server_sent_events(response.content):
            if event == "token" and not first_token:
                first_token = time.perf_counter()
            elif event == "sources":
                sources = len(json.loads(data)["sources"])
            elif event == "done":
                finished = time.perf_counter()
                timings = json.loads(data)["timings"]
            elif event == "error":
                raise RuntimeError(f"the answer failed: {data}")
    if timings is None or not first_token:
        raise RuntimeError("the stream ended without a token and a done event")
    return Answer(
        latency_ms=(finished - started) * 1000,
        ttft_ms=(first_token - started) * 1000,
        embed_ms=timings["embed_ms"],
        search_ms=timings["search_ms"],
        llm_ms=timings["llm_ms"],
        total_ms=timings["total_ms"],
        sources=sources,
    )


async def drive(
    api_url: str,
    concurrency: int,
    queries: int,
    *,
    questions: Sequence[str] = QUESTIONS,
    advance: Callable[[], None] = lambda: None,
) -> Level:
    """`queries` streamed questions on `concurrency` clients, each with its own keep-alive connection,
    after one unmeasured question per client (connections open, caches warm). The clients are aiohttp's:
    its C parser leaves more of the shared CPUs to the API than a pure-Python one."""
    async with aiohttp.ClientSession(
        api_url,
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=120),
    ) as client:

        async def warm(i: int) -> None:
            await ask(client, questions[i % len(questions)])

        await _concurrently(concurrency, concurrency, warm, lambda: None)
        level = Level(concurrency)

        async def one(i: int) -> None:
            level.answers.append(await ask(client, questions[i % len(questions)]))

        level.seconds = await _concurrently(concurrency, queries, one, advance)
    return level


# The child process: the stub chat model and the clients, on an event loop of their own.


def _load_process(commands: Connection, answered: Synchronized[int], delta_delay: float) -> None:
    asyncio.run(_serve_load(commands, answered, delta_delay))


async def _serve_load(commands: Connection, answered: Synchronized[int], delta_delay: float) -> None:
    def advance() -> None:
        with answered.get_lock():
            answered.value += 1

    loop = asyncio.get_running_loop()
    async with running_openai_stub(delta_delay=delta_delay) as stub:
        commands.send(stub.base_url)
        while True:
            command = await loop.run_in_executor(None, commands.recv)
            if command is None:
                return
            api_url, concurrency, queries = command
            try:
                reply: Level | str = await drive(api_url, concurrency, queries, advance=advance)
            except Exception as exc:
                reply = f"{type(exc).__name__}: {exc}"
            commands.send(reply)


class LoadProcess:
    """A child process serving the stub chat model (at `base_url`) and running the clients on command."""

    def __init__(
        self, base_url: str, commands: Connection, answered: Synchronized[int], process: Any
    ) -> None:
        self.base_url = base_url
        self._commands = commands
        self._answered = answered
        self._process = process

    async def _reply(self, timeout: float, on_wait: Callable[[], None] = lambda: None) -> Any:
        deadline = time.monotonic() + timeout
        while not self._commands.poll():
            if not self._process.is_alive():
                raise RuntimeError(f"the load process exited ({self._process.exitcode})")
            if time.monotonic() > deadline:
                raise TimeoutError("the load process did not answer")
            on_wait()
            await asyncio.sleep(0.05)
        return self._commands.recv()

    async def level(
        self, system: System, concurrency: int, queries: int, *, bar: Progress | None = None
    ) -> Level:
        """`queries` questions at `concurrency` clients, with the CPU used meanwhile (by the API's process,
        by this child, by the whole machine) and the waits for the API's Postgres pool."""
        assert system.api_url is not None
        task = bar.add_task(f"/v1/query, {concurrency} clients", total=queries) if bar else None
        with self._answered.get_lock():
            self._answered.value = 0

        def show() -> None:
            if bar is not None and task is not None:
                bar.update(task, completed=self._answered.value)

        pool = system.api.state.pool if system.api is not None else None
        processes = {"api": psutil.Process(), "load": psutil.Process(self._process.pid)}
        before = _cpu_seconds(processes)
        if pool is not None:
            pool.pop_stats()
        started = time.perf_counter()
        self._commands.send((system.api_url, concurrency, queries))
        reply = await self._reply(600, show)
        show()
        wall = time.perf_counter() - started
        if isinstance(reply, str):
            raise RuntimeError(f"the clients failed: {reply}")
        assert isinstance(reply, Level)
        after = _cpu_seconds(processes)
        reply.cpu = {name: 100 * (after[name] - before[name]) / wall for name in before}
        if pool is not None:
            stats = pool.pop_stats()
            requests = max(1, stats.get("requests_num", 0))
            reply.pool_wait_ms = stats.get("requests_wait_ms", 0) / requests
            reply.pool_queued = stats.get("requests_queued", 0) / requests
        return reply


def _cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """CPU seconds each process has used so far, and the whole machine's under "all"."""
    used = {name: cpu_seconds(process.cpu_times()) for name, process in processes.items()}
    return used | {"all": cpu_seconds(psutil.cpu_times())}


@contextlib.asynccontextmanager
async def load_process(delta_delay: float = DELTA_DELAY) -> AsyncIterator[LoadProcess]:
    """Start the child process (the stub and the clients); stop it when the block ends."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    answered = context.Value("i", 0)
    process = context.Process(
        target=_load_process, args=(theirs, answered, delta_delay), name="bench-load", daemon=True
    )
    process.start()
    try:
        load = LoadProcess("", ours, answered, process)
        load.base_url = await load._reply(60)
        yield load
    finally:
        with contextlib.suppress(OSError):
            ours.send(None)
        await asyncio.get_running_loop().run_in_executor(None, process.join, 10)
        if process.is_alive():
            process.kill()
            process.join(5)


async def stub_alone(
    base_url: str, concurrency: int, answers: int, *, bar: Progress | None = None
) -> Baseline:
    """The stub's streamed answers to the openai SDK, from this process as the API's chat model asks."""
    client = openai_client(Settings(_env_file=None, **stub_settings(base_url)))
    baseline = Baseline(concurrency)

    async def one(_: int) -> None:
        started = time.perf_counter()
        first = 0.0
        stream = await client.chat.completions.create(
            model=STUB_MODEL,
            messages=[{"role": "user", "content": "Say something."}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            if not first and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter()
        ended = time.perf_counter()
        baseline.latencies_ms.append((ended - started) * 1000)
        baseline.ttfts_ms.append(((first or ended) - started) * 1000)

    task = bar.add_task(f"stub alone, {concurrency} clients", total=answers) if bar else None

    def advance() -> None:
        if bar is not None and task is not None:
            bar.advance(task)

    try:
        await _concurrently(concurrency, concurrency, one, lambda: None)  # connections open
        baseline.latencies_ms.clear()
        baseline.ttfts_ms.clear()
        baseline.seconds = await _concurrently(concurrency, answers, one, advance)
    finally:
        await client.close()
    return baseline


def stub_settings(stub_base_url: str, embedding_model: str = DEFAULT_LOCAL_EMBEDDING_MODEL) -> dict[str, Any]:
    """Settings that put the stub in the chat model's place, with a local embedder."""
    return {
        "openai_base_url": stub_base_url,
        "chat_model": STUB_MODEL,
        "embedding_model": embedding_model,
        "openai_max_retries": 0,
    }


async def index_corpus(settings: Settings, documents: Sequence[Document]) -> int:
    """Put the documents into S3 and wait until every one is searchable; returns their chunks."""
    await put_documents(settings, documents)
    rows = await wait_until_complete(settings, [d.key for d in documents], timeout=240)
    return sum(int(r["chunk_count"]) for r in rows)


def questions_at(concurrency: int) -> int:
    """Questions a level asks: QUERIES_PER_LEVEL, or more at many clients, so its ramps are a small
    part of it."""
    return max(QUERIES_PER_LEVEL, QUERIES_PER_CLIENT * concurrency)


async def measure(
    system: System,
    load: LoadProcess,
    *,
    levels: Sequence[int] = CONCURRENCY,
    queries: int | None = None,
) -> tuple[list[Level], list[Baseline]]:
    """Every level through the API, each followed by the stub alone at the same concurrency: `queries`
    questions each, or as `questions_at` says."""
    assert system.api_url is not None
    measured: list[Level] = []
    baselines: list[Baseline] = []
    with progress() as bar:
        for concurrency in levels:
            asked = queries or questions_at(concurrency)
            measured.append(await load.level(system, concurrency, asked, bar=bar))
            baselines.append(await stub_alone(load.base_url, concurrency, asked, bar=bar))
    return measured, baselines


async def while_ingesting(
    system: System,
    settings: Settings,
    load: LoadProcess,
    documents: Sequence[Document],
    *,
    queries: int = INGESTING_QUERIES,
) -> Level:
    """One client's questions right after `documents` are put into S3, while the pipeline (in the API's
    process, sharing its embedder) ingests them; waits for them to be complete."""
    keys = [document.key for document in documents]
    await put_documents(settings, documents)
    with progress() as bar:
        level = await load.level(system, 1, queries, bar=bar)
    rows = await document_rows(settings, keys)
    level.ingesting = len(keys)
    level.ingested = sum(row["status"] in ("complete", "failed") for row in rows)
    with console.status(f"waiting for the {len(keys)} documents to be complete"):
        await wait_until_complete(settings, keys, timeout=600)
    return level


COLUMNS = (
    "clients",
    "path",
    "requests/s",
    "latency p50 ms",
    "latency p99 ms",
    "TTFT p50 ms",
    "TTFT p99 ms",
    "overhead p50 ms",
    "overhead p99 ms",
    "embed p50 ms",
    "search p50 ms",
    "LLM p50 ms",
    "CPU % API / load / all",
)


def _row(level: Level, model: str = DEFAULT_LOCAL_EMBEDDING_MODEL) -> tuple[object, ...]:
    p = level.p
    path = f"ragstream /v1/query (SSE), {model}"
    return (
        level.concurrency,
        f"{path}, while ingesting" if level.ingesting else path,
        level.per_second,
        p(50, lambda a: a.latency_ms),
        p(99, lambda a: a.latency_ms),
        p(50, lambda a: a.ttft_ms),
        p(99, lambda a: a.ttft_ms),
        p(50, lambda a: a.overhead_ms),
        p(99, lambda a: a.overhead_ms),
        p(50, lambda a: a.embed_ms),
        p(50, lambda a: a.search_ms),
        p(50, lambda a: a.llm_ms),
        " / ".join(f"{level.cpu.get(name, 0):.0f}" for name in ("api", "load", "all")),
    )


def _baseline_row(baseline: Baseline) -> tuple[object, ...]:
    latency_p50 = percentile(baseline.latencies_ms, 50)
    return (
        baseline.concurrency,
        "stub LLM alone (openai SDK)",
        baseline.per_second,
        latency_p50,
        percentile(baseline.latencies_ms, 99),
        percentile(baseline.ttfts_ms, 50),
        percentile(baseline.ttfts_ms, 99),
        "-",
        "-",
        "-",
        "-",
        latency_p50,
        "-",
    )


def result(
    levels: Sequence[Level],
    baselines: Sequence[Baseline],
    *,
    documents: int,
    chunks: int,
    ingesting: Level | None = None,
    on_torch: Level | None = None,
) -> Result:
    table = Result(
        "query",
        f"Query latency: streamed answers over {documents} one-page documents ({chunks} chunks), "
        f"the chat model a stub of {len(CHAT_DELTAS)} deltas {DELTA_DELAY * 1000:.0f} ms apart",
        COLUMNS,
    )
    for level, baseline in zip(levels, baselines, strict=True):
        table.add(*_row(level))
        table.add(*_baseline_row(baseline))
    if ingesting is not None:
        table.add(*_row(ingesting))
    if on_torch is not None:
        table.add(*_row(on_torch, TORCH_MODEL))
    top = max(levels, key=lambda level: level.concurrency)
    p50 = top.p(50, lambda a: a.overhead_ms)
    p99 = top.p(99, lambda a: a.overhead_ms)
    verdict = "met" if p50 <= TARGET_OVERHEAD_P50_MS and p99 <= TARGET_OVERHEAD_P99_MS else "NOT met"
    table.notes.append(
        f"Target at {top.concurrency} clients: API overhead p50 <= {TARGET_OVERHEAD_P50_MS:.0f} ms and "
        f"p99 <= {TARGET_OVERHEAD_P99_MS:.0f} ms; measured p50 {p50:.1f} ms, p99 {p99:.1f} ms: {verdict}."
    )
    if on_torch is not None:
        table.notes.append(torch_note(top, on_torch))
    for level in levels:
        table.notes.append(
            f"{level.concurrency} clients: the API's Postgres pool made {level.pool_queued:.0%} of its "
            f"connection requests wait, {level.pool_wait_ms:.1f} ms on average; the API's process used "
            f"{level.cpu.get('api', 0):.0f} % of a CPU, the clients and the stub "
            f"{level.cpu.get('load', 0):.0f} %, the whole machine {level.cpu.get('all', 0):.0f} % "
            f"(of {100 * (os.cpu_count() or 1)} %)."
        )
    table.notes += [
        "overhead = total_ms - embed_ms - search_ms - llm_ms of the `done` event: starting the SSE"
        " response, the `sources` event, the prompt, and waiting for the event loop. Each question is a new"
        " conversation, written to Postgres while retrieval runs; total_ms ends before the answer is"
        " stored, so that write is in the latency only.",
        "embed_ms includes waiting for the embedder: the local model encodes questions on one thread,"
        " in the order they came, a batch at a time (one text on ONNX Runtime, four on PyTorch); the"
        " questions that arrive meanwhile wait for it. Documents' chunks have encodes of their own, beside.",
        f"Each level: {QUERIES_PER_LEVEL} questions, or {QUERIES_PER_CLIENT} a client if more"
        f" ({len(top.answers)} at {top.concurrency} clients), {len(QUESTIONS)} distinct, in turn, after one"
        " unmeasured question per client; each client keeps its connection. The clients and the stub run"
        " in a child process of their own, so their work is not counted as the API's.",
        "The stub alone: the same deltas streamed to the openai SDK from the API's process, as the API's"
        " chat model asks for them; its latency is the floor of the API's LLM time at that concurrency.",
    ]
    if ingesting is not None:
        idle = next((level for level in levels if level.concurrency == 1), None)
        than_idle = (
            f" (with the pipeline idle: {idle.p(50, lambda a: a.embed_ms):.1f} and "
            f"{idle.p(50, lambda a: a.latency_ms):.1f} ms)"
            if idle
            else ""
        )
        table.notes.append(
            f"While ingesting: {len(ingesting.answers)} questions from 1 client right after"
            f" {ingesting.ingesting} more one-page documents were put into S3; the stream processors, with"
            f" the embedding model, run in the API's process, as in `ragstream dev`. Embedding a question"
            f" took p50 {ingesting.p(50, lambda a: a.embed_ms):.1f} ms and the whole answer"
            f" {ingesting.p(50, lambda a: a.latency_ms):.1f} ms{than_idle};"
            f" {ingesting.ingested} of the {ingesting.ingesting} documents were indexed when the last"
            " answer ended."
        )
    return table


def torch_note(top: Level, on_torch: Level) -> str:
    """Requests/s of the default embedder over PyTorch's at the same level, against the target."""
    speedup = top.per_second / on_torch.per_second
    verdict = "met" if speedup >= TARGET_SPEEDUP_OVER_TORCH else "NOT met"
    return (
        f"Target at {top.concurrency} clients: requests/s with {DEFAULT_LOCAL_EMBEDDING_MODEL} at least"
        f" {TARGET_SPEEDUP_OVER_TORCH}x those with {TORCH_MODEL} (PyTorch, the runtime before), in the same"
        f" run over the same corpus: {top.per_second:.1f} / {on_torch.per_second:.1f} = {speedup:.2f}x,"
        f" {verdict}. Embedding a question took p50 {top.p(50, lambda a: a.embed_ms):.1f} ms against"
        f" {on_torch.p(50, lambda a: a.embed_ms):.1f} ms. {cpu_bound(top, on_torch)}"
    )


def cpu_bound(top: Level, on_torch: Level) -> str:
    """The most requests/s the API's and the load's CPU an answer would allow on these CPUs, and on the
    one CPU that the API's event loop, a single thread, keeps busy."""
    cpus = os.cpu_count() or 1
    api_ms, load_ms = (10 * top.cpu.get(name, 0.0) / top.per_second for name in ("api", "load"))
    most = cpus * 1000 / (api_ms + load_ms)
    target_ms = 1000 / (TARGET_SPEEDUP_OVER_TORCH * on_torch.per_second)
    return (
        f"Each answer took {api_ms:.1f} ms of CPU in the API's process (the question's embedding"
        f" included) and {load_ms:.1f} ms in the clients and the stub, which share the {cpus} CPUs: were"
        f" they kept all busy, at most {most:.1f} requests/s, {most / on_torch.per_second:.2f}x those with"
        f" {TORCH_MODEL}. But the API's process used {top.cpu.get('api', 0.0):.0f} % of a CPU, and its"
        f" event loop, one thread, runs on one CPU at a time: at {api_ms:.1f} ms an answer, at most"
        f" {1000 / api_ms:.1f} requests/s; {TARGET_SPEEDUP_OVER_TORCH}x those with {TORCH_MODEL} needs"
        f" {target_ms:.2f} ms. Bounds from CPU time, not measured speeds."
    )


async def on_torch(stack: LocalStack, load: LoadProcess, documents: Sequence[Document]) -> Level:
    """The busiest level again, with the local model on PyTorch: a system of its own, same corpus."""
    async with running_ragstream(stack, **stub_settings(load.base_url, TORCH_MODEL)) as (settings, system):
        with console.status(f"indexing {len(documents)} documents with {TORCH_MODEL}"):
            await index_corpus(settings, documents)
        with progress() as bar:
            busiest = max(CONCURRENCY)
            return await load.level(system, busiest, questions_at(busiest), bar=bar)


async def run() -> None:
    pages = one_page_documents(CORPUS_DOCUMENTS + INGESTING_DOCUMENTS)
    documents, more = pages[:CORPUS_DOCUMENTS], pages[CORPUS_DOCUMENTS:]
    with local_stack() as stack:
        async with load_process() as load:
            async with running_ragstream(stack, **stub_settings(load.base_url)) as (settings, system):
                with console.status(f"indexing {len(documents)} documents through the pipeline"):
                    chunks = await index_corpus(settings, documents)
                levels, baselines = await measure(system, load)
                ingesting = await while_ingesting(system, settings, load, more)
                tenants = await tenant_search.measure(
                    system.embedders.get(settings.embedding_model or DEFAULT_LOCAL_EMBEDDING_MODEL),
                    tenant_search.tenant_documents(),
                )
            before = await on_torch(stack, load, documents)
    table = result(
        levels, baselines, documents=len(documents), chunks=chunks, ingesting=ingesting, on_torch=before
    )
    publish(table)
    publish(tenant_search.result(tenants))
