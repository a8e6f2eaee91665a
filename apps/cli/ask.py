"""`ragstream ask "question"`: stream an answer into the terminal, then list its sources, the cited
ones marked."""

from __future__ import annotations

import json
import sys
from uuid import UUID

import httpx
from httpx_sse import connect_sse
from rich.console import Console

from apps.cli.api_client import api_client, unreachable_message
from apps.common.settings import Settings
from schemas.api import SearchMode

console = Console()


def _print_sources(sources: list[dict[str, object]], cited: set[int]) -> None:
    """Each source by its number, those the answer cites marked."""
    if not sources:
        console.print("[dim](no sources)[/]")
        return
    console.print("[bold]Sources[/]" + (" (* cited in the answer)" if cited else ""))
    for number, source in enumerate(sources, start=1):
        where = f", page {source['page']}" if source.get("page") is not None else ""
        score = float(str(source["score"]))
        mark = "*" if number in cited else " "
        chunk = f"(chunk {source['chunk_index']}, score {score:.3f})"
        line = f" {mark}[{number}] {source['filename']}{where}  {chunk}"
        console.print(line, markup=False, highlight=False)


def run_ask(
    settings: Settings,
    question: str,
    *,
    conversation: UUID | None,
    top_k: int | None,
    mode: SearchMode | None = None,
) -> int:
    body: dict[str, object] = {"query": question, "stream": True}
    if conversation:
        body["conversation_id"] = str(conversation)
    if top_k:
        body["top_k"] = top_k
    if mode:
        body["search_mode"] = mode
    sources: list[dict[str, object]] = []
    try:
        with (
            api_client(settings, timeout=120) as client,
            connect_sse(client, "POST", "/v1/query", json=body) as events,
        ):
            if events.response.status_code != 200:
                events.response.read()
                error = events.response.json().get("error", {})
                console.print(f"[red]{error.get('code')}[/]: {error.get('message')}")
                return 1
            for event in events.iter_sse():
                data = json.loads(event.data)
                if event.event == "sources":
                    sources = data["sources"]
                elif event.event == "token":
                    sys.stdout.write(data["delta"])
                    sys.stdout.flush()
                elif event.event == "done":
                    sys.stdout.write("\n\n")
                    _print_sources(sources, set(data.get("citations", [])))
                    console.print(f"[dim]conversation {data['conversation_id']} · model {data['model']}[/]")
                    return 0
                elif event.event == "error":
                    console.print(f"\n[red]{data['code']}[/]: {data['message']}")
                    return 1
    except httpx.TransportError:
        console.print(f"[red]{unreachable_message(settings)}[/]")
        return 1
    console.print("\n[red]the answer stream ended without a `done` event[/]")
    return 1
