"""`.ragstream/stack.json`: which stack lives in the state directory (its id, the ports its servers keep,
the PIDs of the servers and of the `ragstream dev` that runs them), written atomically."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from apps.devstack.process import ServerRecord

MANIFEST_NAME = "stack.json"


@dataclass
class StackManifest:
    path: Path
    stack_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # False until every part holds the stack id: a first start that failed half-way left nothing to keep.
    initialized: bool = False
    owner: ServerRecord | None = None
    ports: dict[str, dict[str, int]] = field(default_factory=dict)
    servers: dict[str, ServerRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> StackManifest | None:
        path = state_dir / MANIFEST_NAME
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise ValueError(
                f"{path} is not valid JSON ({exc}): start anew with `ragstream dev --fresh`"
            ) from exc
        owner = data.get("owner")
        return cls(
            path=path,
            stack_id=data["stack_id"],
            initialized=data.get("initialized", False),
            owner=ServerRecord(**owner) if owner else None,
            ports=data.get("ports", {}),
            servers={name: ServerRecord(**record) for name, record in data.get("servers", {}).items()},
        )

    def save(self) -> None:
        data = asdict(self)
        del data["path"]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.path)
