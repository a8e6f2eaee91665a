"""Writes each topic's JSON Schema to `schemas/json/<topic>.json`: `python -m schemas.export`."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.topics import TOPIC_MODELS

JSON_DIR = Path(__file__).parent / "json"


def topic_schemas() -> dict[str, str]:
    """File name -> JSON Schema text, for every topic."""
    return {
        f"{topic}.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for topic, model in TOPIC_MODELS.items()
    }


def main() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for name, text in topic_schemas().items():
        (JSON_DIR / name).write_text(text)
        print(f"wrote {JSON_DIR / name}")


if __name__ == "__main__":
    main()
