"""Embedded Postgres: the system's binaries if installed, else those of the `pgserver` wheel.

Postgres refuses to run as root, so as root it runs as the unprivileged user `nobody`, with
its data in a directory of its own under /tmp (every parent must be traversable by that user).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import psycopg

from apps.devstack.process import ServerProcess, free_port

_UNPRIVILEGED_USER = "nobody"


def find_bin_dir() -> Path:
    """Where `initdb` and `postgres` are: PATH, Debian's /usr/lib/postgresql/N/bin, or the pgserver wheel."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if debian:
        return debian[-1].parent
    spec = find_spec("pgserver")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "pginstall" / "bin"
        if (bundled / "initdb").exists():
            return bundled
    raise FileNotFoundError("no Postgres binaries: install Debian's postgresql or `pip install pgserver`")


@dataclass
class EmbeddedPostgres:
    root: Path
    port: int = 0
    process: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def start(self, log_dir: Path) -> EmbeddedPostgres:
        bin_dir = find_bin_dir()
        user = _UNPRIVILEGED_USER if os.geteuid() == 0 else None
        if user:
            # The state directory's parents may not be traversable by `nobody`: keep the data in /tmp.
            self.root = Path(tempfile.mkdtemp(prefix="ragstream-postgres-"))
            entry = pwd.getpwnam(user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.mkdir(parents=True, exist_ok=True)
        data = self.root / "data"
        initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        initdb += ["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]
        result = subprocess.run(initdb, user=user, capture_output=True, text=True, cwd=self.root, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        self.port = self.port or free_port()
        argv = [str(bin_dir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port)]
        argv += ["-k", str(self.root), "-c", "fsync=off", "-c", "max_connections=200"]
        self.process = ServerProcess(
            "postgres", argv, log_dir / "postgres.log", user=user, stop_signal=signal.SIGINT
        )
        # Postgres writes its own log as `user`: let the log file be created by us and appended to by it.
        self.process.start()
        self.process.wait_until(self._accepts_connections, timeout=60)
        return self

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        return self.database_url(name)

    def stop(self) -> None:
        if self.process:
            self.process.stop()
        if os.geteuid() == 0:
            shutil.rmtree(self.root, ignore_errors=True)
