"""Text from clients, made safe to store: Postgres text and JSONB cannot hold NUL characters."""

from __future__ import annotations

from typing import Any


def storable(value: Any) -> Any:
    """`value` with NUL characters removed from every string in it (dicts and lists included)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value
