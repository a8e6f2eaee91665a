"""The image's health check (Dockerfile HEALTHCHECK; infra/compose.yaml runs it for the API too).

In a container running `ragstream api` it asks the API for the path given as the argument
(`/healthz` by default, `/readyz` to include Postgres, the vector store and Kafka) and fails
unless the answer is 200. `ragstream processors|worker|intake` serve no HTTP: each stops its
process (and so its container) when one of its components fails, so for them a running
process is the health and the check passes.

Standard library only: it runs in the image's Python, beside the service.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 4.0


def running_command() -> list[str]:
    """The arguments of the container's main process (PID 1)."""
    try:
        raw = Path("/proc/1/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def runs_api(command: list[str]) -> bool:
    """True when the container runs the query API (`ragstream api`, the image's default)."""
    return "api" in command[1:]


def check_api(path: str) -> int:
    port = os.environ.get("RAGSTREAM_API_PORT", "8000")
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"{url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz"
    if not runs_api(running_command()):
        return 0
    return check_api(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
