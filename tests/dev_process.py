"""`ragstream dev` as a user runs it, in a directory of the test's own: started, awaited, stopped by PID
(Ctrl-C's SIGINT) or killed with its whole process group, and the settings it wrote for other terminals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.settings import Settings
from apps.devstack.process import free_port

BIN = Path(sys.executable).parent
READY = "Ctrl-C stops"


class DevProcess:
    def __init__(self, workdir: Path, *, env: dict[str, str] | None = None, bin_dir: Path = BIN) -> None:
        """`bin_dir`: the environment whose `ragstream` runs (this one's by default)."""
        self.workdir = workdir
        self.port = free_port()
        self.bin_dir = bin_dir
        self.env = os.environ | {"PATH": f"{bin_dir}:{os.environ['PATH']}"} | (env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def state_dir(self) -> Path:
        return self.workdir / ".ragstream"

    @property
    def log(self) -> Path:
        return self.workdir / f"dev-{self.starts}.log"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def launch(self, *args: str) -> subprocess.Popen[bytes]:
        """Start `ragstream dev` in a session of its own (so its process group can be killed as one)."""
        self.starts += 1
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(self.bin_dir / "ragstream"), "dev", "--port", str(self.port), *args],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.process

    def start(self, *args: str, timeout: float = 300.0) -> Settings:
        """Start it and wait until it says it runs; the settings it wrote to .ragstream/stack.env."""
        process = self.launch(*args)
        deadline = time.monotonic() + timeout
        while READY not in self.output():
            assert process.poll() is None, f"ragstream dev exited with {process.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, (
                f"ragstream dev did not start in {timeout:.0f}s:\n{self.output()}"
            )
            time.sleep(0.2)
        return Settings(_env_file=self.state_dir / "stack.env")

    def run_to_exit(self, *args: str, timeout: float = 180.0) -> tuple[int, str]:
        """Start it and wait until it exits (a start that is refused)."""
        process = self.launch(*args)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise AssertionError(f"ragstream dev kept running:\n{self.output()}") from None
        return code, self.output()

    def stop(self, timeout: float = 120.0) -> int:
        """Ctrl-C: SIGINT to its PID; its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def kill_group(self) -> None:
        """SIGKILL to its whole process group (itself and its parser workers), as a crash of its terminal.
        The servers run in sessions of their own: the kernel stops them as their parent dies."""
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def manifest(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.state_dir / "stack.json").read_text())
        return result

    def __enter__(self) -> DevProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Whatever still runs at the end of a test: stopped, servers and all."""
        if self.process is not None and self.process.poll() is None:
            try:
                self.stop(timeout=90)
            except subprocess.TimeoutExpired:
                self.kill_group()


async def index_counts(settings: Settings, document_ids: list[Any]) -> tuple[dict[Any, int], int]:
    """The points of each document in the index, and of all: read from the vector store's folder, which
    only the process that owns it may open (so after `ragstream dev` stopped)."""
    store = QdrantEdgeStore(Path(settings.qdrant_url))
    try:
        per_document = {
            document_id: await store.count(settings.qdrant_collection, document_id=document_id)
            for document_id in document_ids
        }
        return per_document, await store.count(settings.qdrant_collection)
    finally:
        await store.close()
