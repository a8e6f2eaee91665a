"""requirements/serving.txt, what the image installs, is current (what scripts/serving_requirements.py
writes from pyproject.toml and the lock) and holds no PyTorch, nor what only the export needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scripts.serving_requirements import lock_pins

ROOT = Path(__file__).resolve().parents[2]
SERVING = ROOT / "requirements" / "serving.txt"
LOCK = ROOT / "requirements" / "lock.txt"


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
    serving, lock = lock_pins(SERVING), lock_pins(LOCK)
    assert not {"torch", "transformers", "sentence-transformers", "onnx"} & set(serving)
    assert {"onnxruntime", "tokenizers", "temporalio", "unstructured"} <= set(serving)
    assert {name: pin for name, pin in serving.items() if lock.get(name) != pin} == {}
