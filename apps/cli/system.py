"""Runs any set of ragstream's deployables in this process, sharing one set of clients.

`ragstream dev` runs all four together (the embedded vector store can be owned by one
process only); `ragstream api|processors|worker|intake` run one each; the tests run them
against the local stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from faststream.kafka import KafkaBroker
from starlette.applications import Starlette
from temporalio.client import Client
from temporalio.worker import Worker

from apps.common.build_settings import build_settings
from apps.common.database import migrate, open_pool
from apps.common.embeddings import Embedder, Embedders
from apps.common.generations import LiveGenerations, embedder_drift, ensure_live_generation
from apps.common.kafka import ensure_topics, make_broker
from apps.common.llm import make_chat_model
from apps.common.s3 import s3_client, sqs_client
from apps.common.settings import Settings
from apps.common.temporal import LazyTemporal, connect
from apps.common.vector_store import VectorStore, open_vector_store
from apps.ingest_workflows.intake import poll_sqs, subscribe_filer_events, subscribe_s3_events
from apps.ingest_workflows.reconciler import bucket_reconciler, run_reconciler
from apps.ingest_workflows.worker import build_worker
from apps.query_api.app import ApiResources, create_app
from apps.query_api.rerank import make_reranker
from apps.query_api.server import ApiServer, api_server
from apps.stream_processors.app import Resources, register_stages
from apps.stream_processors.parsing import DocumentParser
from apps.stream_processors.replay import ReplayCoordinator

log = logging.getLogger(__name__)

T = TypeVar("T")
Component = Literal["api", "processors", "worker", "intake"]
ALL_COMPONENTS: tuple[Component, ...] = ("api", "processors", "worker", "intake")


@dataclass
class System:
    """What is running, for whoever started it (the CLI prints it, tests use it)."""

    settings: Settings
    components: Collection[Component]
    store: VectorStore | None = None
    embedder: Embedder | None = None
    embedders: Embedders = field(init=False)
    generations: LiveGenerations = field(init=False)
    broker: KafkaBroker | None = None
    temporal: Client | None = None
    api_url: str | None = None
    api: Starlette | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def failed_task(self) -> BaseException | None:
        """The error of a component that stopped on its own (it should run until stopped)."""
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None


@contextlib.asynccontextmanager
async def running_system(settings: Settings, components: Collection[Component]) -> AsyncIterator[System]:
    """Start `components`, yield while they run, and stop them (in reverse order) on exit."""
    unknown = set(components) - set(ALL_COMPONENTS)
    if unknown:
        raise ValueError(f"unknown components: {', '.join(sorted(unknown))}")
    system = System(settings, components)
    system.embedders = Embedders(settings)
    needs_search = {"api", "processors"} & set(components)
    needs_kafka = {"processors", "worker", "intake"} & set(components)
    async with contextlib.AsyncExitStack() as stack:
        await migrate(settings.database_url)
        stack.push_async_callback(system.embedders.close)
        pool = await open_pool(settings.database_url, max_size=settings.database_pool_size)
        stack.push_async_callback(pool.close)
        system.generations = LiveGenerations(pool)
        stack.push_async_callback(system.generations.close)
        if needs_search:
            system.store = open_vector_store(settings)
            stack.push_async_callback(system.store.close)
            build = build_settings(
                settings.resolved_embedding_model, settings.chunk_size, settings.chunk_overlap
            )
            live = await ensure_live_generation(pool, system.store, settings.qdrant_collection, build)
            drift = embedder_drift(live, settings.resolved_embedding_model)
            if drift:
                log.warning(drift)
            system.embedder = system.embedders.get(live.embedding_model)
            # Loading the local model takes seconds: now, beside the parser's start, not on a first question.
            warm_up = asyncio.create_task(system.embedder.warm_up())
            stack.push_async_callback(_cancel, [warm_up])
        if needs_kafka:
            await ensure_topics(settings)
            system.temporal = await connect(settings)
            system.broker = make_broker(settings, client_id="ragstream")
            stack.push_async_callback(system.broker.stop)
        reconcile_interval = settings.reconcile_interval if "intake" in components else None
        s3 = (
            await stack.enter_async_context(s3_client(settings))
            if {"processors", "worker"} & set(components) or reconcile_interval
            else None
        )

        if "processors" in components:
            broker, temporal = _required(system.broker), _required(system.temporal)
            parser = DocumentParser(
                workers=settings.parse_workers,
                timeout=settings.parse_timeout.total_seconds(),
                timeout_per_mib=settings.parse_timeout_per_mib.total_seconds(),
                min_coverage=settings.min_parse_coverage,
            )
            stack.callback(parser.close)
            await parser.start()
            resources = Resources(
                settings=settings,
                s3=s3,
                embedders=system.embedders,
                store=_required(system.store),
                pool=pool,
                temporal=temporal,
                parser=parser,
                generations=system.generations,
            )
            register_stages(broker, resources)
            coordinator = ReplayCoordinator(resources, broker)
        if "intake" in components:
            broker, temporal = _required(system.broker), _required(system.temporal)
            if settings.s3_events_from_kafka:
                subscribe_s3_events(broker, temporal=temporal, settings=settings)
            if settings.s3_events_filer_topic:
                subscribe_filer_events(broker, temporal=temporal, settings=settings)
            if settings.s3_events_sqs_queue_url:
                sqs = await stack.enter_async_context(sqs_client(settings))
                system.tasks.append(
                    asyncio.create_task(
                        poll_sqs(sqs, settings.s3_events_sqs_queue_url, temporal=temporal, settings=settings),
                        name="intake-sqs",
                    )
                )
        if needs_search:
            await warm_up
        if system.broker is not None:
            await system.broker.start()
        if "processors" in components:
            replays = asyncio.create_task(coordinator.run(), name="replay-coordinator")
            system.tasks.append(replays)
            stack.push_async_callback(_cancel, [replays])
        if "worker" in components:
            broker, temporal = _required(system.broker), _required(system.temporal)
            worker = build_worker(
                temporal, settings, pool=pool, s3=s3, broker=broker, generations=system.generations
            )
            system.tasks.append(asyncio.create_task(worker.run(), name="temporal-worker"))
            stack.push_async_callback(_shutdown_worker, worker)
        if reconcile_interval:
            # After the worker: the first pass's workflows start eagerly on it.
            reconciler = bucket_reconciler(settings, s3=s3, pool=pool, temporal=_required(system.temporal))
            reconciling = asyncio.create_task(
                run_reconciler(reconciler, reconcile_interval), name="reconciler"
            )
            system.tasks.append(reconciling)
            stack.push_async_callback(_cancel, [reconciling])
        if "api" in components:
            chat = make_chat_model(settings)
            stack.push_async_callback(chat.close)
            reranker = make_reranker(settings)
            if reranker is not None:
                stack.push_async_callback(reranker.close)
            app = create_app(
                ApiResources(
                    settings=settings,
                    pool=pool,
                    store=_required(system.store),
                    embedders=system.embedders,
                    generations=system.generations,
                    chat=chat,
                    temporal=LazyTemporal(settings, system.temporal),
                    reranker=reranker,
                )
            )
            system.api = app
            server = api_server(app, host=settings.api_host, port=settings.api_port)
            task = asyncio.create_task(server.serve(), name="api")
            system.tasks.append(task)
            stack.push_async_callback(_shutdown_api, server, task)
            await server.wait_started(task)
            system.api_url = settings.api_url
        stack.push_async_callback(_cancel, [t for t in system.tasks if t.get_name() == "intake-sqs"])
        # What exists now lives as long as the system (modules, the model, clients, the app): kept out
        # of the cyclic garbage collector's walks, a full collection no longer pauses every request
        # in flight for ~0.4 s (it walked ~700k objects).
        gc.freeze()
        stack.callback(gc.unfreeze)
        yield system


def _required(value: T | None) -> T:
    """A client the component needs; opened above for every component that needs it."""
    if value is None:
        raise RuntimeError("a component's client was not opened")
    return value


async def _shutdown_api(server: ApiServer, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 10)


async def _shutdown_worker(worker: Worker) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(worker.shutdown(), 10)


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
