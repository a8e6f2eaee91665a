"""requirements/serving.txt, what the image installs, is current (what scripts/serving_requirements.py
writes from pyproject.toml and the lock) and holds no PyTorch, nor what only the export needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SERVING = ROOT / "requirements" / "serving.txt"
LOCK = ROOT / "requirements" / "lock.txt"


def pins(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return {canonicalize_name(Requirement(line).name): str(Requirement(line).specifier) for line in lines}


def test_the_serving_requirements_are_what_the_script_writes() -> None:
    written = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "serving_requirements.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert written == SERVING.read_text(), (
        "requirements/serving.txt is stale: .venv/bin/python scripts/serving_requirements.py"
        " > requirements/serving.txt"
    )


def test_the_serving_requirements_hold_no_pytorch_and_keep_the_locks_pins() -> None:
    serving, lock = pins(SERVING), pins(LOCK)
    assert not {"torch", "transformers", "sentence-transformers", "onnx"} & set(serving)
    assert {"onnxruntime", "tokenizers", "temporalio", "unstructured"} <= set(serving)
    assert {name: pin for name, pin in serving.items() if lock.get(name) != pin} == {}
