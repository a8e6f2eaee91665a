"""`python -m bench [NAME...]`: run the benchmarks (all, or those named) and record their tables."""

from __future__ import annotations

import asyncio
import importlib
import sys

BENCHMARKS = ("coverage", "ocr", "retrieval", "context", "answers", "ingest", "freshness", "query")


def main(names: list[str]) -> None:
    chosen = names or list(BENCHMARKS)
    unknown = [n for n in chosen if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}")
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        asyncio.run(module.run())


if __name__ == "__main__":
    main(sys.argv[1:])
