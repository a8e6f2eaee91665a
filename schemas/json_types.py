"""Request bodies are validated strictly (JSON's `0` is not a boolean, `"5"` not a number); but,
as JSON Schema says, a whole number written `38.0` is an integer. `WHOLE_NUMBER` goes last in an
integer field's annotation, after its bounds (before them, pydantic leaves the bounds out of the
JSON Schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator


def _whole_float_to_int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WHOLE_NUMBER = BeforeValidator(_whole_float_to_int)
