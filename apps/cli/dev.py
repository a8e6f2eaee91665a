"""`ragstream dev`: the local infrastructure and all four deployables, in one command."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from apps.cli.run import run_until_stopped
from apps.cli.system import ALL_COMPONENTS, System
from apps.common.settings import STACK_ENV_FILE, Settings
from apps.common.tracing import configure_tracing
from apps.devstack.kept_stack import KeptStack
from apps.devstack.llama_server import LlamaServer
from apps.devstack.stack import run_provision

console = Console(stderr=True)


def _write_stack_env(path: Path, environment: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{key}={value}\n" for key, value in sorted(environment.items())))
    tmp.replace(path)


def _summary(stack: KeptStack, system: System, llama: LlamaServer | None) -> Table:
    table = Table(title="ragstream is running", show_header=True, header_style="bold")
    table.add_column("part")
    table.add_column("where")
    table.add_row("web console", f"{system.api_url}/")
    table.add_row("query API", f"{system.api_url}  (POST /v1/query, GET /v1/documents, /healthz)")
    table.add_row("S3 (SeaweedFS)", f"{stack.s3.endpoint_url}  bucket {system.settings.s3_bucket}")
    table.add_row(
        "Kafka (Tansu)",
        f"{stack.kafka.bootstrap_servers}  stored in SeaweedFS at {stack.kafka_storage.endpoint_url}",
    )
    table.add_row("Temporal", stack.temporal.address)
    if stack.temporal.ui_url:
        table.add_row("Temporal UI", stack.temporal.ui_url)
    table.add_row("Postgres", stack.database_url)
    table.add_row("vector store", f"Qdrant Edge at {system.settings.qdrant_url}")
    table.add_row(
        "embeddings / answers",
        f"{system.settings.resolved_embedding_model} / {system.settings.resolved_chat_model}",
    )
    if llama is not None:
        table.add_row("chat model (llama.cpp)", f"{llama.base_url}  {llama.model_path}")
    table.add_row("state and logs", str(stack.state_dir))
    return table


def run_dev(port: int, chat_model_path: Path | None = None, *, fresh: bool = False) -> None:
    """Resume the stack kept in `.ragstream/` (`fresh`: delete it first). With `chat_model_path`, llama.cpp's
    server (the `local-llm` extra) writes the answers."""
    state_dir = STACK_ENV_FILE.parent
    stack = KeptStack(state_dir.resolve(), fresh=fresh, temporal_ui=True, say=console.print)
    llama = LlamaServer(chat_model_path) if chat_model_path is not None else None
    if llama is not None:
        llama.check()
    started = time.monotonic()
    try:
        with console.status("starting Postgres, Temporal, Kafka (Tansu) and S3 (SeaweedFS)...") as starting:
            stack.start()
            environment = stack.environment(api_port=port)
            if llama is not None:
                starting.update(f"loading {llama.model_path.name} into llama.cpp's server...")
                llama.start(stack.log_dir)
                environment |= llama.environment()
            os.environ.update(environment)
            settings = Settings(_env_file=None)
            configure_tracing("ragstream-dev", settings.otlp_traces_endpoint)
            console.print("creating the tables, topics and bucket the apps expect (where missing)...")
            run_provision(settings)
        console.print(
            f"[green]infrastructure up[/] in {time.monotonic() - started:.1f}s; starting the apps..."
        )

        status = console.status("loading the embedding model and the parser, joining consumer groups...")

        def started_apps(system: System) -> None:
            status.stop()
            _write_stack_env(STACK_ENV_FILE, environment)
            console.print(_summary(stack, system, llama))
            console.print(
                f"Open [bold]{system.api_url}/[/] in a browser, or try [bold]ragstream ingest docs/ --wait[/]"
                ' then [bold]ragstream ask "..."[/]. Ctrl-C stops.'
            )

        status.start()
        try:
            asyncio.run(run_until_stopped(settings, ALL_COMPONENTS, on_started=started_apps))
        finally:
            status.stop()
    finally:
        STACK_ENV_FILE.unlink(missing_ok=True)
        # SeaweedFS waits 15 s for its own metadata streams (its gRPC graceful stop) before it stops.
        with console.status("stopping the servers (SeaweedFS takes about 15 s)..."):
            if llama is not None:
                llama.stop()
            stack.stop()
        console.print("stopped.")
