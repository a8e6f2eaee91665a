"""Benchmark results: a table printed to the terminal and kept in BENCHMARKS.md, one section per
benchmark, with the machine, the date and the command that produced it."""

from __future__ import annotations

import datetime
import os
import platform
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

BENCHMARKS_FILE = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
# The command a section records, when `python -m bench` runs each benchmark in a process of its own.
RUN_COMMAND_ENV = "RAGSTREAM_BENCH_RUN"
_HEADER = (
    "# Benchmarks\n\nWritten by `make bench` (`python -m bench`); each section by the run that measured it.\n"
)


@dataclass
class Result:
    """One benchmark's outcome: a table, notes on how to read it, and the targets it was held to."""

    name: str
    title: str
    columns: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *row: object) -> None:
        self.rows.append(row)


def machine() -> str:
    cpus = os.cpu_count() or 1
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return (
        f"{platform.machine()}, {cpus} CPUs{memory}, Python {platform.python_version()}, {platform.system()}"
    )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def markdown(result: Result, *, command: str, when: datetime.datetime) -> str:
    lines = [f"## {result.title}", "", f"{when:%Y-%m-%d %H:%M} UTC · {machine()} · `{command}`", ""]
    lines.append("| " + " | ".join(result.columns) + " |")
    lines.append("|" + "---|" * len(result.columns))
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in result.rows]
    if result.notes:
        lines += [""] + [f"- {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


console = Console()
if not console.is_terminal:  # a log file: room for the wide tables rather than 80 columns
    console = Console(width=200)


def progress(*, transient: bool = False) -> Progress:
    """A progress bar on the benchmarks' console, so that a long step is never silent."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=transient)


def publish(result: Result) -> None:
    """Print `result` and put its section into BENCHMARKS.md, replacing the previous one."""
    table = Table(title=result.title)
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)
    for note in result.notes:
        console.print(f"  {note}")
    command = os.environ.get(RUN_COMMAND_ENV) or (
        " ".join(["python", "-m", "bench", *sys.argv[1:]])
        if sys.argv[0].endswith("__main__.py")
        else "make bench"
    )
    section = markdown(result, command=command, when=datetime.datetime.now(datetime.UTC))
    text = BENCHMARKS_FILE.read_text() if BENCHMARKS_FILE.exists() else _HEADER
    marker = f"<!-- {result.name} -->"
    block = f"{marker}\n{section}{marker}\n"
    pattern = re.compile(re.escape(marker) + r".*?" + re.escape(marker) + r"\n", re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    BENCHMARKS_FILE.write_text(text)
