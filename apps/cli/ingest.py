"""`ragstream ingest PATH...`: put files into the bucket (which emits the S3 events), under a
tenant's prefix and with the groups that may see them when asked, and, with `--wait`, show progress
until each is indexed or failed, for as long as they make progress."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from apps.cli.api_client import api_client, unreachable_message
from apps.common import file_types
from apps.common.documents import document_id_for
from apps.common.identity import DEFAULT_TENANT, groups_metadata, key_of_tenant
from apps.common.s3 import s3_client
from apps.common.settings import Settings

console = Console(stderr=True)
_TERMINAL = {"complete", "failed", "deleted"}
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass
class Uploaded:
    path: Path
    key: str
    document_id: UUID
    version: str


def collect_files(paths: list[Path]) -> list[tuple[Path, str]]:
    """(file, object key) for each file given, directories walked; keys are paths relative to the argument."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if file_types.content_type_for(file.name):
                    found.append((file, file.relative_to(path.parent).as_posix()))
        elif path.is_file():
            found.append((path, path.name))
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return found


@dataclass(frozen=True)
class Placement:
    """Where the files go: a key prefix, under a tenant's (`tenants/{tenant}/`) when one is named,
    and the groups that may see them (none: the whole tenant)."""

    prefix: str = ""
    tenant: str | None = None
    groups: frozenset[str] = frozenset()

    def key(self, relative: str) -> str:
        return key_of_tenant(self.tenant, self.prefix + relative) if self.tenant else self.prefix + relative

    @property
    def metadata(self) -> dict[str, str]:
        return groups_metadata(self.groups)


async def upload(settings: Settings, files: list[tuple[Path, str]], placement: Placement) -> list[Uploaded]:
    uploaded = []
    async with s3_client(settings) as s3:
        for path, key in files:
            object_key = placement.key(key)
            content_type = file_types.content_type_for(path.name) or "application/octet-stream"
            response = await s3.put_object(
                Bucket=settings.s3_bucket,
                Key=object_key,
                Body=path.read_bytes(),
                ContentType=content_type,
                Metadata=placement.metadata,
            )
            version = response.get("VersionId") or response["ETag"].strip('"')
            uploaded.append(
                Uploaded(path, object_key, document_id_for(settings.s3_bucket, object_key), version)
            )
            console.print(f"uploaded [bold]{object_key}[/]")
    return uploaded


def wait_until_indexed(
    settings: Settings,
    uploaded: list[Uploaded],
    idle_timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> int:
    """Poll the API until every upload is complete or failed, as long as they make progress (a status,
    or more chunks in the index) within `idle_timeout` seconds of each other; returns how many failed
    or were given up on."""
    pending = {u.document_id: u for u in uploaded}
    seen: dict[UUID, tuple[str, str, int]] = {}
    failures = 0
    last_progress = clock()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with api_client(settings) as client, Progress(*columns, console=console) as progress:
        task = progress.add_task("indexing", total=len(uploaded))
        while pending and clock() - last_progress <= idle_timeout:
            chunks = 0
            for document_id, item in list(pending.items()):
                document = _document(client, settings, document_id)
                if document is None:
                    continue
                state = (document["status"], document["version"], document.get("indexed_chunks", 0))
                if seen.get(document_id) != state:
                    seen[document_id] = state
                    last_progress = clock()
                chunks += document.get("indexed_chunks", 0)
                if document["version"] != item.version or document["status"] not in _TERMINAL:
                    continue
                del pending[document_id]
                progress.advance(task)
                if document["status"] == "complete":
                    progress.console.print(f"[green]indexed[/] {item.key} ({_details(document)})")
                else:
                    failures += 1
                    progress.console.print(f"[red]failed[/] {item.key}: {document['error_message']}")
            progress.update(
                task, description=f"indexing ({chunks:,} chunks in so far)" if chunks else "indexing"
            )
            if pending:
                pause(0.25)
    for item in pending.values():
        failures += 1
        console.print(
            f"[yellow]gave up waiting after {idle_timeout:.0f}s without progress[/] {item.key}:"
            " `ragstream status` and `ragstream dlq list` show what is stuck"
        )
    return failures


def _document(client: httpx.Client, settings: Settings, document_id: UUID) -> dict[str, Any] | None:
    """The document as the API shows it; None while it is not registered yet."""
    try:
        response = client.get(f"/v1/documents/{document_id}")
    except httpx.TransportError:
        raise SystemExit(unreachable_message(settings)) from None
    if response.status_code == 404:
        return None
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def _details(document: dict[str, Any]) -> str:
    note, coverage = document["metadata"].get("note"), document.get("coverage")
    detail = f"{document['chunk_count']} chunks"
    detail += f", {coverage:.1%} of its words" if coverage is not None else ""
    detail += f"; {note}" if note else ""
    return detail


def run_ingest(
    settings: Settings, paths: list[Path], *, wait: bool, placement: Placement, idle_timeout: float
) -> int:
    files = collect_files(paths)
    if not files:
        console.print(f"no files to ingest (ragstream indexes {file_types.supported_extensions()})")
        return 1
    if placement.tenant is not None and not _TENANT.fullmatch(placement.tenant):
        console.print(f"[red]--tenant {placement.tenant!r} is not a tenant name[/] (letters, digits, . _ -)")
        return 1
    uploaded = asyncio.run(upload(settings, files, placement))
    if not wait:
        console.print(f"{len(uploaded)} file(s) uploaded; `ragstream ingest --wait` shows indexing progress")
        return 0
    tenant = placement.tenant or DEFAULT_TENANT
    caller = _caller_tenant(settings)
    if caller != tenant:
        console.print(
            f"[yellow]not waiting:[/] the API takes you to be of tenant {caller!r}, and tenant {tenant!r}'s"
            " documents are not visible to you. To follow them, call with credentials of that tenant"
            " (RAGSTREAM_API_TOKEN set to its gateway JWT)."
        )
        return 0
    return 1 if wait_until_indexed(settings, uploaded, idle_timeout) else 0


def _caller_tenant(settings: Settings) -> str:
    with api_client(settings) as client:
        try:
            response = client.get("/v1/me")
        except httpx.TransportError:
            raise SystemExit(unreachable_message(settings)) from None
    response.raise_for_status()
    return str(response.json()["tenant"])
