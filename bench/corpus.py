"""The benchmark corpora: the PostgreSQL manual (Debian's postgresql-doc-15), the Python documentation
(python3-doc) and the Node.js API Markdown (nodejs), each installed on first use when running as
root, as benchmarks install their corpora."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

MANUAL = Path("/usr/share/doc/postgresql-doc-15/html")
PYTHON_DOCS = Path("/usr/share/doc/python3-doc/html")
NODE_API = Path("/usr/share/doc/nodejs/api")
_SKIPPED = ("index", "bookindex", "release", "biblio", "appendix", "sql-commands", "reference")


def _ensure(directory: Path, package: str, what: str) -> Path:
    if not directory.is_dir():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise SystemExit(f"the benchmarks read {what}: apt-get install {package}")
        subprocess.run(["apt-get", "install", "-y", "-q", package], check=True)
    return directory


def ensure_manual() -> Path:
    return _ensure(MANUAL, "postgresql-doc-15", "the PostgreSQL manual")


def ensure_python_docs() -> Path:
    return _ensure(PYTHON_DOCS, "python3-doc", "the Python documentation")


def ensure_node_api() -> Path:
    return _ensure(NODE_API, "nodejs", "the Node.js API documentation")


def manual_pages(count: int, *, min_bytes: int = 4000) -> list[Path]:
    """`count` pages of the manual, spread over all of it, in a fixed order (no tables of contents)."""
    pages = [
        p
        for p in sorted(ensure_manual().glob("*.html"))
        if not p.stem.startswith(_SKIPPED) and p.stat().st_size >= min_bytes
    ]
    step = max(1, len(pages) // count)
    return pages[::step][:count]
