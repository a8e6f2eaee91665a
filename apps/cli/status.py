"""`ragstream status`: where the running system is and what it has indexed."""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from apps.cli.api_client import api_client, unreachable_message
from apps.common.settings import Settings

console = Console()
_STATUSES = ("indexing", "complete", "failed", "deleted")


def run_status(settings: Settings) -> int:
    table = Table(title="ragstream", show_header=False)
    table.add_row("query API", settings.api_url)
    table.add_row("Kafka", settings.kafka_bootstrap_servers)
    table.add_row("Temporal", settings.temporal_address)
    table.add_row("S3", f"{settings.s3_endpoint_url or 'AWS'} bucket {settings.s3_bucket}")
    table.add_row(
        "embeddings / answers", f"{settings.resolved_embedding_model} / {settings.resolved_chat_model}"
    )
    try:
        with api_client(settings) as client:
            for status in _STATUSES:
                response = client.get("/v1/documents", params={"status": status, "limit": 1})
                response.raise_for_status()
                table.add_row(f"documents {status}", str(response.json()["total"]))
            listing = client.get("/v1/generations")
            listing.raise_for_status()
    except httpx.TransportError:
        console.print(table)
        console.print(f"[red]{unreachable_message(settings)}[/]")
        return 1
    console.print(table)
    console.print(_generations(listing.json()["items"]))
    return 0


def _generations(items: list[dict[str, Any]]) -> Table:
    table = Table(title="collection generations", show_header=True, header_style="bold")
    for column in ("generation", "status", "embedding model", "chunks (size/overlap)", "documents", "points"):
        table.add_column(column)
    for g in items:
        marker = " (live)" if g["status"] == "live" else ""
        documents = f"{g['documents_done']}/{g['documents_total']}" if g["source"] != "ingestion" else "-"
        table.add_row(
            g["name"] + marker,
            g["status"] + (f": {g['error_message']}" if g.get("error_message") else ""),
            f"{g['embedding_model']} ({g['dimensions']})",
            f"{g['chunk_size']}/{g['chunk_overlap']}",
            documents,
            "-" if g["points"] is None else str(g["points"]),
        )
    return table
