"""Unit tests of `schemas.export`: the committed JSON Schema files stay in step with the event models."""

from __future__ import annotations

import json

from schemas.export import JSON_DIR, topic_schemas
from schemas.topics import TOPIC_MODELS


def test_every_topic_has_a_schema_file() -> None:
    committed = {path.name for path in JSON_DIR.glob("*.json")}
    expected = {f"{topic}.json" for topic in TOPIC_MODELS}
    missing = expected - committed
    assert not missing, f"run `python -m schemas.export`: no file for {sorted(missing)}"
    assert committed == expected, f"files for no topic: {sorted(committed - expected)}"


def test_committed_schemas_match_the_models() -> None:
    stale = [
        name
        for name, text in topic_schemas().items()
        if not (JSON_DIR / name).exists() or (JSON_DIR / name).read_text() != text
    ]
    assert not stale, f"out of date, run `python -m schemas.export`: {stale}"


def test_schemas_are_json_schema_of_their_model() -> None:
    for topic, model in TOPIC_MODELS.items():
        schema = json.loads((JSON_DIR / f"{topic}.json").read_text())
        assert schema == model.model_json_schema()
        assert schema["type"] == "object"
        assert schema["title"] == model.__name__


def test_packed_vectors_are_base64_strings_in_the_schema() -> None:
    schema = json.loads((JSON_DIR / "document.embedded.json").read_text())
    assert schema["properties"]["vectors"]["type"] == "string"
    assert schema["properties"]["vectors"]["contentEncoding"] == "base64"
