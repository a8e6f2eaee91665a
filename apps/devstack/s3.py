"""Embedded S3 (and SQS): moto's server, with the bucket's event notifications going to an SQS queue."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from pathlib import Path

from apps.devstack.binaries import venv_binary
from apps.devstack.process import ServerProcess, free_port

ACCESS_KEY = "ragstream"
SECRET_KEY = "ragstream-local-secret"
REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class EmbeddedS3:
    port: int = 0
    process: ServerProcess | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue_url(self, name: str) -> str:
        return f"{self.endpoint_url}/{ACCOUNT}/{name}"

    def start(self, log_dir: Path) -> EmbeddedS3:
        self.port = self.port or free_port()
        argv = [str(venv_binary("moto_server")), "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = ServerProcess("moto (S3, SQS)", argv, log_dir / "s3.log").start()
        self.process.wait_until(self._serving, timeout=60)
        return self

    def _serving(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process:
            self.process.stop()
