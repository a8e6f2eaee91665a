"""A server process we started: its log file, readiness wait, stop by PID (TERM, then KILL), death with
its parent, and the record that finds it again from a later process."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def as_user(user: str | None) -> dict[str, Any]:
    """`subprocess` arguments that run a child as `user` with that user's group alone: with root's groups
    kept, a folder of root's that lets others pass would still refuse it (its group bits apply)."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


class ServerFailedToStart(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerRecord:
    """Enough to find a server again from another process: its PID, and what tells it from a PID reused
    since (its start time and executable)."""

    name: str
    pid: int
    create_time: float
    executable: str
    stop_signal: int = signal.SIGTERM

    def running(self) -> psutil.Process | None:
        """The process, if it still runs and is the one recorded."""
        try:
            process = psutil.Process(self.pid)
            # A script's command line starts with its interpreter: the executable is first or second.
            same = (
                abs(process.create_time() - self.create_time) < 0.1
                and self.executable in process.cmdline()[:2]
            )
        except (psutil.Error, OSError):
            return None
        return process if same and process.status() != psutil.STATUS_ZOMBIE else None

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop it if it still runs (polite signal, then KILL); True if there was something to stop."""
        process = self.running()
        if process is None:
            return False
        with contextlib.suppress(psutil.Error):
            process.send_signal(self.stop_signal)
            try:
                process.wait(timeout)
            except psutil.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        return True


def _die_with_parent(argv: list[str], sig: int) -> list[str]:
    """`argv` run so that the kernel sends it `sig` when its parent dies (PR_SET_PDEATHSIG, via util-linux's
    `setpriv`, which then execs it: same PID, same command line).

    Servers run in sessions of their own so that Ctrl-C reaches only us; without this a SIGKILLed parent
    would leave them running, holding ports, locks and Postgres's postmaster.pid. A `setpriv` wrapper
    rather than a `preexec_fn` (unsafe beside the spinner's thread); it runs after `user=`'s change of
    user, which would clear a signal set before it. The kernel sends it when the *thread* that started
    the server exits: start servers from the main thread. Where there is no `setpriv` (not Linux), stale
    servers are still found and stopped at the next start by their `ServerRecord`.
    """
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    if setpriv is None:
        return argv
    return [setpriv, "--pdeathsig", signal.Signals(sig).name, "--", *argv]


@dataclass
class ServerProcess:
    """One child process, started in its own process group so Ctrl-C in the terminal reaches only us."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    signalled: bool = field(default=False, init=False)

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was not started"
        return self.popen.pid

    def start(self) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.signalled = False
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                _die_with_parent(list(self.argv), self.stop_signal),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                **as_user(self.user),
            )
        return self

    def record(self) -> ServerRecord:
        """This server as a `ServerRecord`, once it has exec'd its own binary."""
        deadline = time.monotonic() + 10
        while True:
            process = psutil.Process(self.pid)
            if str(self.argv[0]) in process.cmdline()[:2] or time.monotonic() > deadline:
                return ServerRecord(
                    self.name, self.pid, process.create_time(), str(self.argv[0]), self.stop_signal
                )
            time.sleep(0.01)

    def wait_until(self, ready: Callable[[], bool], *, timeout: float = 60.0) -> None:
        """Poll `ready` until it holds; fail with the log's tail if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise ServerFailedToStart(
                    f"{self.name} exited with code {self.popen.returncode}:\n{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerFailedToStart(f"{self.name} was not ready within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def signal_stop(self) -> None:
        """Send the polite stop signal without waiting: stop several servers at once, then `stop` each."""
        if self.popen is not None and self.popen.poll() is None and not self.signalled:
            self.signalled = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, self.stop_signal)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop this process (and only it) by its PID; KILL it if it ignores the polite signal."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.signal_stop()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout)
