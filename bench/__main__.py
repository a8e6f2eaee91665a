"""`python -m bench [NAME...]`: run the benchmarks (all, or those named) and record their tables."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys

from bench.report import RUN_COMMAND_ENV

BENCHMARKS = ("coverage", "ocr", "retrieval", "context", "answers", "ingest", "freshness", "query")


def main(names: list[str]) -> None:
    chosen = names or list(BENCHMARKS)
    unknown = [n for n in chosen if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}")
    if len(chosen) == 1:
        module = importlib.import_module(f"bench.{chosen[0]}")
        asyncio.run(module.run())
        return
    # Each in a process of its own: the query API runs in its benchmark's process, and would otherwise
    # carry every earlier benchmark's objects through its garbage collections.
    environment = os.environ | {RUN_COMMAND_ENV: " ".join(["python", "-m", "bench", *names])}
    for name in chosen:
        finished = subprocess.run([sys.executable, "-m", "bench", name], env=environment, check=False)
        if finished.returncode != 0:
            raise SystemExit(f"benchmark {name} failed (exit status {finished.returncode})")


if __name__ == "__main__":
    main(sys.argv[1:])
