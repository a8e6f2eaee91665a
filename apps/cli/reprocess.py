"""`ragstream reprocess --failed`: index every failed document again, through the query API."""

from __future__ import annotations

import httpx
from rich.console import Console

from apps.cli.api_client import api_client, api_error, unreachable_message
from apps.common.settings import Settings

console = Console(stderr=True)


def run_reprocess_failed(settings: Settings) -> int:
    try:
        with api_client(settings) as client:
            response = client.post("/v1/documents/reprocess", json={"status": "failed"})
    except httpx.TransportError:
        console.print(f"[red]{unreachable_message(settings)}[/]")
        return 1
    if response.status_code != 202:
        console.print(f"[red]{api_error(response)}[/]")
        return 1
    started = response.json()
    count = len(started["workflows"])
    console.print(f"reprocessing {count} failed documents: `ragstream status` shows how they end")
    for skipped in started["skipped"]:
        console.print(f"[yellow]skipped {skipped['document_id']}: {skipped['reason']}[/]")
    return 0
