"""The benchmark corpus: pages of the PostgreSQL manual, from the Debian package postgresql-doc-15
(installed on first use when running as root, as benchmarks install their corpora)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

MANUAL = Path("/usr/share/doc/postgresql-doc-15/html")
_SKIPPED = ("index", "bookindex", "release", "biblio", "appendix", "sql-commands", "reference")


def ensure_manual() -> Path:
    if not MANUAL.is_dir():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise SystemExit("the benchmarks read the PostgreSQL manual: apt-get install postgresql-doc-15")
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql-doc-15"], check=True)
    return MANUAL


def manual_pages(count: int, *, min_bytes: int = 4000) -> list[Path]:
    """`count` pages of the manual, spread over all of it, in a fixed order (no tables of contents)."""
    pages = [
        p
        for p in sorted(ensure_manual().glob("*.html"))
        if not p.stem.startswith(_SKIPPED) and p.stat().st_size >= min_bytes
    ]
    step = max(1, len(pages) // count)
    return pages[::step][:count]
