"""`ragstream dlq list` and `ragstream dlq redrive`: the messages the stages gave up on, through the
query API."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import typer
from rich.console import Console

from apps.cli.api_client import api_client, api_error, unreachable_message
from apps.common.settings import Settings

console = Console(stderr=True)


def _request(settings: Settings, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
    """The API's JSON answer, or None once its error was printed."""
    try:
        with api_client(settings, timeout=120.0) as client:
            response = client.request(method, path, **kwargs)
    except httpx.TransportError:
        console.print(f"[red]{unreachable_message(settings)}[/]")
        return None
    if response.is_error:
        console.print(f"[red]{api_error(response)}[/]")
        return None
    answer: dict[str, Any] = response.json()
    return answer


def _document(letter: dict[str, Any]) -> str:
    document = letter["document"]
    if document is None:
        return "no document named in its body"
    name = document["filename"] or "(filename unknown)"
    return f"{name} (document {document['document_id']}, version {document['version']})"


def _where(letter: dict[str, Any]) -> str:
    return f"{letter['topic']} partition {letter['partition']} offset {letter['offset']}"


def run_dlq_list(settings: Settings, stage: str | None) -> int:
    answer = _request(settings, "GET", "/v1/dead-letters", params={"stage": stage} if stage else {})
    if answer is None:
        return 1
    letters = answer["items"]
    for letter in letters:
        attempts = "?" if letter["attempts"] is None else letter["attempts"]
        typer.echo(f"{letter['stage']}: {_document(letter)}")
        typer.echo(f"  error: {letter['error']} ({attempts} attempts)")
        typer.echo(f"  at {_where(letter)}, {letter['dead_lettered_at']}")
    of_stage = f" of stage {stage}" if stage else ""
    hint = ": `ragstream dlq redrive` sends them back once the cause is fixed" if letters else ""
    typer.echo(f"{len(letters)} dead letters{of_stage} waiting{hint}")
    return 0


def run_dlq_redrive(settings: Settings, stage: str | None) -> int:
    answer = _request(settings, "POST", "/v1/dead-letters/redrive", json={"stage": stage})
    if answer is None:
        return 1
    for letter in answer["redriven"]:
        typer.echo(f"redriven {letter['stage']}: {_document(letter)} from {_where(letter)}")
    for skipped in answer["skipped"]:
        letter = skipped["letter"]
        typer.echo(f"skipped {letter['stage']}: {_document(letter)}: {skipped['reason']}")
    stages = Counter(letter["stage"] for letter in answer["redriven"])
    counts = ", ".join(f"{count} {name}" for name, count in sorted(stages.items()))
    by_stage = f" ({counts})" if counts else ""
    typer.echo(
        f"redrove {len(answer['redriven'])} dead letters{by_stage}, skipped {len(answer['skipped'])}:"
        " `ragstream status` shows how their documents end"
    )
    if answer["still_waiting"]:
        typer.echo(
            f"{answer['still_waiting']} left waiting behind letters of another stage: "
            "redrive them without --stage"
        )
    return 0
