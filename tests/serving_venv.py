"""A virtual environment with requirements/serving.txt alone installed (no PyTorch), made from this
environment's installed files: each package's files linked (copied across file systems), console
scripts pointed at the new Python, ragstream itself from the repository, and the exported models."""

from __future__ import annotations

import errno
import os
import shutil
import sys
import venv
from importlib import metadata
from pathlib import Path

from scripts.serving_requirements import WITHOUT_DEPENDENCIES, lock_pins

ROOT = Path(__file__).resolve().parents[1]
SERVING = ROOT / "requirements" / "serving.txt"
MODELS = Path("share") / "ragstream" / "onnx"


def serving_packages() -> list[str]:
    """requirements/serving.txt's packages, and those installed beside them without dependencies."""
    return [*lock_pins(SERVING), *WITHOUT_DEPENDENCIES]


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copy2(source, target)


def _install(source: Path, target: Path, python: Path) -> None:
    """One installed file; a console script gets the new environment's Python in its #! line."""
    if target.exists():
        return
    with source.open("rb") as file:
        first = file.readline()
    if target.parent.name == "bin" and first.startswith(b"#!") and b"python" in first:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"#!" + bytes(python) + b"\n" + source.read_bytes()[len(first) :])
        target.chmod(0o755)
    else:
        _place(source, target)


def serving_venv(target: Path) -> Path:
    """Create it at `target`; returns its bin/ directory."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    prefix = Path(sys.prefix).resolve()
    python = target / "bin" / "python"
    site = target / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    for name in serving_packages():
        for file in metadata.distribution(name).files or []:
            source = Path(str(file.locate())).resolve()
            if source.is_file() and source.is_relative_to(prefix):
                _install(source, target / source.relative_to(prefix), python)
    for model in (prefix / MODELS).rglob("*"):
        if model.is_file():
            _place(model, target / MODELS / model.relative_to(prefix / MODELS))
    (site / "ragstream.pth").write_text(f"{ROOT}\n")
    script = (
        "import sys\nfrom apps.cli.main import main\n\nif __name__ == '__main__':\n    sys.exit(main())\n"
    )
    (target / "bin" / "ragstream").write_text(f"#!{python}\n{script}")
    (target / "bin" / "ragstream").chmod(0o755)
    return target / "bin"
