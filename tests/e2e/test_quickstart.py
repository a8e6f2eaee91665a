"""The README's quickstart, run as a new user would: `ragstream dev` in one terminal, then the
README's own commands (`ragstream ingest --wait`, `ragstream ask`, the curl of /v1/query)
in another, then Ctrl-C. The commands are read from README.md, so the README stays true.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from apps.devstack.process import free_port, port_open

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEV_PORT_IN_README = "8000"


def readme_commands() -> list[str]:
    """The shell commands of the README's quickstart, after `make dev`, in order."""
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", quickstart, flags=re.DOTALL):
        commands.extend(_logical_lines(block))
    assert commands[0] == "make dev", commands
    return commands[1:]


def _logical_lines(block: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in block.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


@pytest.fixture
def dev_stack(tmp_path: Path) -> Iterator[tuple[Path, int, subprocess.Popen[str]]]:
    """`ragstream dev` running in `tmp_path`, as `make dev` starts it."""
    port = free_port()
    env = os.environ | {"PATH": f"{BIN}:{os.environ['PATH']}"}
    log = (tmp_path / "dev.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "ragstream"), "dev", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while "Ctrl-C stops" not in (tmp_path / "dev.log").read_text():
            assert process.poll() is None, (tmp_path / "dev.log").read_text()
            assert time.monotonic() < deadline, "ragstream dev did not start in 180s"
            time.sleep(0.2)
        yield tmp_path, port, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(60)
        log.close()


def test_readme_quickstart(dev_stack: tuple[Path, int, subprocess.Popen[str]]) -> None:
    workdir, port, dev = dev_stack
    output = (workdir / "dev.log").read_text()
    assert f"http://127.0.0.1:{port}" in output
    for part in ("Kafka", "Temporal", "Postgres", "S3"):
        assert part in output

    env = os.environ | {"PATH": f"{BIN}:{os.environ['PATH']}"}
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    for command in readme_commands():
        if command.startswith("source "):
            continue  # the venv's bin/ is already first on PATH
        command = command.replace(f"127.0.0.1:{DEV_PORT_IN_README}", f"127.0.0.1:{port}")
        argv = ["bash", "-c", command] if any(c in command for c in "&|>") else shlex.split(command)
        result = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        results[command.split()[0] + " " + command.split()[1]] = result

    ingest = results["ragstream ingest"]
    assert "indexed docs/penguins.txt" in ingest.stderr, ingest.stderr
    ask = results["ragstream ask"]
    assert "incubates" in ask.stdout
    assert "penguins.txt" in ask.stdout

    curl = next(r for key, r in results.items() if key.startswith("curl"))
    events = re.findall(r"^event: (\w+)\r?\ndata: (.*)$", curl.stdout, flags=re.MULTILINE)
    names = [name for name, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"token"}
    assert json.loads(events[0][1])["sources"][0]["filename"] == "penguins.txt"

    # The console: its address printed, its page served, the Temporal UI it links to up.
    assert re.search(rf"web console\W+http://127\.0\.0\.1:{port}/", output), output
    page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert page.status_code == 200
    assert "ragstream" in page.text
    temporal_ui = httpx.get(f"http://127.0.0.1:{port}/v1/system", timeout=10).json()["temporal_ui"]
    assert httpx.get(temporal_ui, timeout=10).status_code == 200

    listening = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", output)}
    assert len(listening) >= 5  # the API, Kafka, Temporal (and its UI), Postgres, S3
    dev.send_signal(signal.SIGINT)
    assert dev.wait(60) == 0
    assert "stopped." in (workdir / "dev.log").read_text()
    assert not [p for p in listening if port_open(p)], "servers left running after Ctrl-C"
    assert not (workdir / ".ragstream" / "stack.env").exists()
