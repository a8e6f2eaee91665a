"""The local stack's bookkeeping without its servers: the manifest, finding a server again by its record,
servers dying with their parent, and Postgres's passage to a kept data folder."""

from __future__ import annotations

import os
import pwd
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from apps.devstack.manifest import StackManifest
from apps.devstack.postgres import grant_passage
from apps.devstack.process import ServerProcess, ServerRecord


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_the_manifest_round_trips(tmp_path: Path) -> None:
    manifest = StackManifest(tmp_path / "stack.json", initialized=True, ports={"kafka": {"port": 9999}})
    manifest.servers["kafka"] = ServerRecord("tansu", 123, 1.5, "/bin/tansu", signal.SIGTERM)
    manifest.save()
    loaded = StackManifest.load(tmp_path)
    assert loaded == manifest
    assert StackManifest.load(tmp_path / "elsewhere") is None


def test_a_record_finds_its_server_and_not_a_reused_pid(tmp_path: Path) -> None:
    server = ServerProcess("sleeper", ["/bin/sleep", "60"], tmp_path / "sleep.log").start()
    try:
        record = server.record()
        assert record.running() is not None
        assert (
            ServerRecord("sleeper", record.pid, record.create_time + 5, record.executable).running() is None
        )
        assert ServerRecord("sleeper", record.pid, record.create_time, "/bin/other").running() is None
        assert record.stop() is True
        assert record.running() is None
        assert record.stop() is False
    finally:
        server.stop()


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """A parent SIGKILLed: its server, in a session of its own, gets its stop signal from the kernel."""
    script = (
        "import sys, time; from pathlib import Path; from apps.devstack.process import ServerProcess; "
        f"s = ServerProcess('sleeper', ['/bin/sleep', '60'], Path({str(tmp_path / 'sleep.log')!r})).start(); "
        "print(s.record().pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        assert psutil.Process(server_pid).cmdline()[0] == "/bin/sleep"
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert _wait_gone(server_pid), "the server outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only: Postgres runs as nobody")
def test_nobody_gets_passage_to_a_kept_folder(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    target = closed / "state" / "postgres"
    target.mkdir(parents=True)
    closed.chmod(0o700)
    said: list[str] = []
    grant_passage(target, pwd.getpwnam("nobody"), said.append)
    assert closed.stat().st_mode & stat.S_IXOTH
    assert not closed.stat().st_mode & stat.S_IROTH
    assert any(str(closed) in line for line in said), said
