"""The `ragstream` command line."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

from schemas.api import DeadLetterStage, SearchMode

if TYPE_CHECKING:
    from apps.cli.system import Component
    from apps.common.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def _settings() -> Settings:
    from apps.common.settings import Settings

    return Settings()


def _exit(code: int) -> None:
    """Flush and leave without interpreter teardown: Temporal's client can crash at exit (sdk-python #300)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run_components(*components: Component) -> None:
    from apps.cli.run import run_until_stopped
    from apps.common.logs import configure_logging
    from apps.common.tracing import configure_tracing

    settings = _settings()
    configure_logging(json_lines=settings.log_format == "json")
    configure_tracing(f"ragstream-{'-'.join(components)}", settings.otlp_traces_endpoint)
    code = 0
    try:
        asyncio.run(run_until_stopped(settings, components))
    except Exception:
        logging.getLogger("ragstream").exception("stopped on an error")
        code = 1
    _exit(code)


@app.command()
def dev(
    port: Annotated[int, typer.Option(help="port of the query API")] = 8000,
    chat_model_path: Annotated[
        Path | None,
        typer.Option(help="a GGUF chat model for llama.cpp's server to answer with (the local-llm extra)"),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="delete the kept stack (documents, index, history); start empty")
    ] = False,
) -> None:
    """Start the whole system locally: infrastructure and all apps, resuming the state kept in .ragstream/.
    Ctrl-C stops everything."""
    from apps.cli.dev import run_dev

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    code = 0
    try:
        run_dev(port, chat_model_path, fresh=fresh)
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        typer.echo(f"ragstream dev failed: {exc}", err=True)
        code = 1
    _exit(code)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or directories to ingest")],
    wait: Annotated[bool, typer.Option(help="show progress until every file is indexed")] = False,
    prefix: Annotated[str, typer.Option(help="prefix of the object keys")] = "",
    tenant: Annotated[
        str | None, typer.Option(help="the tenant they belong to: keys go under tenants/TENANT/")
    ] = None,
    groups: Annotated[
        str | None, typer.Option(help="comma-separated groups that may see them (default: the whole tenant)")
    ] = None,
    idle_timeout: Annotated[
        float,
        typer.Option(help="with --wait, give up after this many seconds in which no file made progress"),
    ] = 600.0,
) -> None:
    """Put files into the bucket; the S3 events start their ingestion."""
    from apps.cli.ingest import Placement, run_ingest
    from apps.common.identity import parse_groups

    placement = Placement(prefix=prefix, tenant=tenant, groups=parse_groups(groups))
    code = run_ingest(_settings(), paths, wait=wait, placement=placement, idle_timeout=idle_timeout)
    raise typer.Exit(code)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="your question")],
    conversation: Annotated[UUID | None, typer.Option(help="continue this conversation")] = None,
    top_k: Annotated[int | None, typer.Option(help="how many chunks to retrieve")] = None,
    search_mode: Annotated[
        SearchMode | None,
        typer.Option(help="by meaning (dense), words (sparse: BM25) or both (hybrid); default: the server's"),
    ] = None,
) -> None:
    """Ask a question; the answer streams into the terminal, then its sources."""
    from apps.cli.ask import run_ask

    settings = _settings()
    raise typer.Exit(run_ask(settings, question, conversation=conversation, top_k=top_k, mode=search_mode))


@app.command()
def reindex(
    source: Annotated[
        str, typer.Option("--from", help="document.ready (re-parse) or document.chunked (re-embed only)")
    ] = "document.ready",
    chunk_size: Annotated[int | None, typer.Option(help="tokens per chunk (default: as live)")] = None,
    chunk_overlap: Annotated[int | None, typer.Option(help="tokens of overlap (default: as live)")] = None,
    embedding_model: Annotated[str | None, typer.Option(help="embedding model (default: as live)")] = None,
    drop: Annotated[str | None, typer.Option(help="drop this old generation instead")] = None,
    wait: Annotated[bool, typer.Option(help="show progress until the new generation is live")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait")] = 3600.0,
) -> None:
    """Rebuild the index into a new generation by replaying a topic; it goes live when complete."""
    from apps.cli.reindex import run_drop, run_reindex

    settings = _settings()
    if drop:
        raise typer.Exit(run_drop(settings, drop))
    request = {
        "source": source,
        "chunk_size": chunk_size,
        "chunk_overlap": chunk_overlap,
        "embedding_model": embedding_model,
    }
    raise typer.Exit(run_reindex(settings, request, wait=wait, timeout=timeout))


@app.command()
def reprocess(
    failed: Annotated[bool, typer.Option("--failed", help="every document that failed")] = False,
) -> None:
    """Index documents again: with --failed, every one that failed (a reprocess each)."""
    from apps.cli.reprocess import run_reprocess_failed

    if not failed:
        raise typer.BadParameter("say which documents: --failed")
    raise typer.Exit(run_reprocess_failed(_settings()))


dlq = typer.Typer(no_args_is_help=True, help="The messages the stages gave up on (dead letters).")
app.add_typer(dlq, name="dlq")
StageOption = Annotated[DeadLetterStage | None, typer.Option(help="only the dead letters of this stage")]


@dlq.command("list")
def dlq_list(stage: StageOption = None) -> None:
    """Show each dead letter waiting: its stage, error, attempts, document, and where it is."""
    from apps.cli.dlq import run_dlq_list

    raise typer.Exit(run_dlq_list(_settings(), stage))


@dlq.command("redrive")
def dlq_redrive(stage: StageOption = None) -> None:
    """Send the waiting dead letters back to their topics, so their stages try them again."""
    from apps.cli.dlq import run_dlq_redrive

    raise typer.Exit(run_dlq_redrive(_settings(), stage))


@app.command()
def status() -> None:
    """Show where the running system is and what it has indexed."""
    from apps.cli.status import run_status

    raise typer.Exit(run_status(_settings()))


@app.command()
def api() -> None:
    """Run the query API alone."""
    _run_components("api")


@app.command()
def processors() -> None:
    """Run the stream processors (parse, embed, upsert, report) alone."""
    _run_components("processors")


@app.command()
def worker() -> None:
    """Run the Temporal worker (UploadWorkflow and its activities) alone."""
    _run_components("worker")


@app.command()
def intake() -> None:
    """Run the S3-event intake (SQS and the `s3.events` topic) alone."""
    _run_components("intake")


def main() -> None:
    app()
