"""Embedded Postgres: the system's binaries if installed, else those of the `pgserver` wheel.

Postgres refuses to run as root, so as root it runs as the unprivileged user `nobody`: a fresh
cluster in a directory of its own under /tmp, a kept one (`keep=True`) in `root`, whose parents
must let `nobody` pass (`grant_passage`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import psycopg

from apps.devstack.process import ServerProcess, as_user, free_port

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


def grant_passage(directory: Path, user: pwd.struct_passwd, say: Callable[[str], None]) -> None:
    """Let `user` reach `directory`: add others' execute bit (passage, not listing) to each parent that
    refuses it, saying so. Parents it can already pass are left as they are."""
    for parent in reversed(directory.resolve().parents):
        mode = parent.stat()
        passes = bool(mode.st_mode & stat.S_IXOTH) or (
            mode.st_uid == user.pw_uid and bool(mode.st_mode & stat.S_IXUSR)
        )
        if not passes:
            say(f"letting `{user.pw_name}` (Postgres) pass through {parent}: chmod o+x")
            os.chmod(parent, stat.S_IMODE(mode.st_mode) | stat.S_IXOTH)


@dataclass
class EmbeddedPostgres:
    root: Path
    port: int = 0
    keep: bool = False
    say: Callable[[str], None] = print
    process: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def start(self, log_dir: Path) -> EmbeddedPostgres:
        bin_dir = find_bin_dir()
        user = _UNPRIVILEGED_USER if os.geteuid() == 0 else None
        if user and not self.keep:
            # The state directory's parents may not be traversable by `nobody`: keep the data in /tmp.
            self.root = Path(tempfile.mkdtemp(prefix="ragstream-postgres-"))
        self.root.mkdir(parents=True, exist_ok=True)
        if user:
            entry = pwd.getpwnam(user)
            grant_passage(self.root, entry, self.say)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir, user)
        self.port = self.port or free_port()
        argv = [str(bin_dir / "postgres"), "-D", str(self.data_dir), "-h", "127.0.0.1", "-p", str(self.port)]
        argv += ["-k", str(self.root), "-c", "max_connections=200"]
        # A fresh cluster dies with its stack: no fsync at all. A kept one must survive a crash of the
        # machine uncorrupted: fsync stays on, and only commits' waits for it are off (the last few
        # hundred milliseconds of commits may be lost to a power cut, not the cluster).
        argv += ["-c", "synchronous_commit=off"] if self.keep else ["-c", "fsync=off"]
        self.process = ServerProcess(
            "postgres", argv, log_dir / "postgres.log", user=user, stop_signal=signal.SIGINT
        )
        # Postgres writes its own log as `user`: let the log file be created by us and appended to by it.
        self.process.start()
        self.process.wait_until(self._accepts_connections, timeout=60)
        return self

    def _initdb(self, bin_dir: Path, user: str | None) -> None:
        initdb = [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust"]
        initdb += ["-E", "UTF8", "--locale=C.UTF-8"]
        if not self.keep:
            initdb.append("--no-sync")
        result = subprocess.run(
            initdb, capture_output=True, text=True, cwd=self.root, check=False, **as_user(user)
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

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
        if os.geteuid() == 0 and not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
