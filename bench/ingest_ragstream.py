"""ragstream's run in the ingest benchmark: every page put into S3 by a client in a process of its
own, timed to the last document complete, with the CPU of every process that took part (the apps,
the parser workers, the four servers, the uploader) and the apps' peak memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import psycopg
from rich.progress import Progress

from apps.common.documents import document_id_for
from apps.common.settings import Settings
from apps.devstack.process import ServerProcess
from apps.devstack.stack import LocalStack
from bench import report
from bench.cpu import CpuLedger, Group
from bench.runs import PeakRss, Run, child_pids, process_of_its_own
from bench.stack import Deployed, Document, put_documents, running_deployables
from tests.support import wait_until_settled

# ragstream's own processes, by what they run (the rest of a run's CPU: the servers and the uploader).
PROCESSORS = "processors + API"
PARSERS = "parser workers"
WORKFLOWS = "workflow worker + intake"
OWN_PROCESSES = (PROCESSORS, PARSERS, WORKFLOWS)
# The peak RSS of the stream processors' process (with the embedding model), in a run's peak_rss_mib.
PROCESSORS_RSS = "processors"


async def ragstream(stack: LocalStack, model: str, pages: Sequence[Path]) -> Run:
    """S3 put of every page to the last one complete, through every hop of the real pipeline."""
    keys = [f"manual/{page.name}" for page in pages]
    report.console.print(f"ragstream ({model}): starting its deployables, which load the model first")
    deployed = running_deployables(stack, embedding_model=model, chat_model="extractive")
    async with deployed as (settings, apps):
        parsers = child_pids(apps.processors)
        processes = {PROCESSORS_RSS: [apps.processors], "workflows": [apps.workflows], "parser": parsers}
        with PeakRss(processes) as rss, report.progress() as progress:
            task = progress.add_task(f"ragstream ({model})", total=len(keys))
            # The client that uploads the pages, as it would be on another machine.
            with process_of_its_own(_ready) as (uploader, uploader_pid):
                ledger = CpuLedger(_groups(stack, apps, parsers, uploader_pid))
                ledger.start()
                started = time.perf_counter()
                uploads = list(zip(keys, pages, strict=True))
                uploading = asyncio.wrap_future(uploader.submit(_upload, settings, uploads))
                rows = await _settled(settings, keys, progress, task, uploading)
                seconds = time.perf_counter() - started
                ledger.stop()
    failed = [r["s3_key"] for r in rows if r["status"] != "complete"]
    if failed:
        raise RuntimeError(f"ragstream failed pages: {failed}")
    chunks = sum(r["chunk_count"] for r in rows)
    return Run(seconds, len(keys), chunks, rss.mib, ledger.used)


def _servers(stack: LocalStack) -> dict[str, ServerProcess | None]:
    return {
        "Temporal": stack.temporal.process,
        "moto (S3, SQS)": stack.s3.process,
        "Tansu (Kafka)": stack.kafka.process,
        "Postgres": stack.postgres.process,
    }


def _groups(stack: LocalStack, apps: Deployed, parsers: Collection[int], uploader: int) -> list[Group]:
    """The processes of a ragstream run, by what they do; each server with its children (Postgres's
    connections)."""
    servers = [
        Group(name, [process.pid] if process else [], descendants=True)
        for name, process in _servers(stack).items()
    ]
    return [
        Group(PROCESSORS, [apps.processors]),
        Group(PARSERS, sorted(parsers)),
        Group(WORKFLOWS, [apps.workflows]),
        *servers,
        Group("uploader", [uploader]),
    ]


def _ready() -> None:
    """Runs in the uploader: its modules are imported by now."""


def _upload(settings: Settings, pages: list[tuple[str, Path]]) -> None:
    """Runs in the uploader: read the pages, then put them one after another."""
    asyncio.run(put_documents(settings, [Document(key, page.read_text()) for key, page in pages]))


async def _settled(
    settings: Settings, keys: list[str], progress: Progress, task: Any, uploading: asyncio.Future[None]
) -> list[dict[str, Any]]:
    """Poll on one connection, a few times a second: the measuring should cost the machine little.
    A failed upload ends the wait with its error."""
    ids = [document_id_for(settings.s3_bucket, key) for key in keys]
    async with await psycopg.AsyncConnection.connect(settings.database_url, autocommit=True) as conn:
        while True:
            cur = await conn.execute(
                "SELECT count(*) FROM documents WHERE id = ANY(%s) AND status IN ('complete', 'failed')",
                (ids,),
            )
            row = await cur.fetchone()
            done = row[0] if row else 0
            progress.update(task, completed=done)
            if done == len(keys):
                await uploading
                return await wait_until_settled(settings, keys)
            if uploading.done():
                uploading.result()
            await asyncio.sleep(0.25)
