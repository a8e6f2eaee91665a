"""`ragstream reindex`: rebuild the index into a new generation by replaying a topic, with
progress until it is live; `--drop GENERATION` deletes an old one."""

from __future__ import annotations

import time
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from apps.cli.api_client import api_client, api_error, unreachable_message
from apps.common.settings import Settings

console = Console(stderr=True)
_DONE = {"live", "failed", "retired", "dropped"}


def run_drop(settings: Settings, name: str) -> int:
    try:
        with api_client(settings) as client:
            response = client.delete(f"/v1/generations/{name}")
    except httpx.TransportError:
        console.print(f"[red]{unreachable_message(settings)}[/]")
        return 1
    if response.status_code != 204:
        console.print(f"[red]{api_error(response)}[/]")
        return 1
    console.print(f"dropped {name}")
    return 0


def run_reindex(settings: Settings, request: dict[str, Any], *, wait: bool, timeout: float) -> int:
    try:
        with api_client(settings) as client:
            response = client.post(
                "/v1/generations", json={k: v for k, v in request.items() if v is not None}
            )
            if response.status_code != 202:
                console.print(f"[red]{api_error(response)}[/]")
                return 1
            generation = response.json()
            name = generation["name"]
            console.print(
                f"building [bold]{name}[/] from {generation['source']}: {generation['embedding_model']}, "
                f"chunks of {generation['chunk_size']} tokens overlapping by {generation['chunk_overlap']}"
            )
            if not wait:
                return 0
            return _follow(client, name, timeout)
    except httpx.TransportError:
        console.print(f"[red]{unreachable_message(settings)}[/]")
        return 1


def _follow(client: httpx.Client, name: str, timeout: float) -> int:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    deadline = time.monotonic() + timeout
    with Progress(*columns, console=console) as progress:
        documents = progress.add_task("documents", total=None)
        while time.monotonic() < deadline:
            generation = client.get(f"/v1/generations/{name}").json()
            progress.update(
                documents,
                total=generation["documents_total"] or None,
                completed=generation["documents_done"],
                description=f"documents ({generation['chunks_done']} chunks)",
            )
            if generation["status"] in _DONE:
                break
            time.sleep(0.5)
        else:
            console.print(f"[yellow]{name} is still building after {timeout:.0f}s[/]; see `ragstream status`")
            return 1
    if generation["status"] != "live":
        console.print(f"[red]{name} {generation['status']}[/]: {generation.get('error_message') or ''}")
        return 1
    console.print(f"[green]{name} is live[/]: {generation['points']} points; the previous generation is kept")
    return 0
