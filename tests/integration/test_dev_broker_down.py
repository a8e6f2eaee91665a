"""Objects put into `ragstream dev`'s bucket while its Kafka (Tansu) is SIGKILLed: SeaweedFS cannot publish
their events then, and they are indexed (by the reconciler, if the events stay lost) once Tansu is back,
started as the stack starts it."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from apps.devstack.process import port_open
from tests.dev_process import DevProcess
from tests.support import assert_answered_from, put_objects, wait_for, wait_until_complete

pytestmark = pytest.mark.integration

WHILE_DOWN = {
    "down/comets.txt": b"Comets grow bright tails of gas and dust as they pass close to the sun.",
    "down/volcanoes.txt": b"Volcanoes erupt when molten rock from deep below forces its way to the surface.",
}
QUESTIONS: dict[str, tuple[str, int | None]] = {
    "down/comets.txt": ("Why do comets grow tails near the sun?", None),
    "down/volcanoes.txt": ("Why do volcanoes erupt?", None),
}


def _start_like(argv: list[str], environment: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Tansu again, as the stack started it: same binary, arguments (storage, port) and environment."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevProcess]:
    """`ragstream dev` with a reconciler that lists the bucket every 2 s."""
    with DevProcess(tmp_path, env={"RAGSTREAM_RECONCILE_INTERVAL": "PT2S"}) as process:
        yield process


async def test_objects_put_while_kafka_is_down_are_indexed_when_it_is_back(
    dev: DevProcess, tmp_path: Path
) -> None:
    settings = dev.start()
    await put_objects(settings, {"up/first.txt": b"The first document arrives while everything runs."})
    await wait_until_complete(settings, ["up/first.txt"], timeout=120)

    tansu = psutil.Process(dev.manifest()["servers"]["kafka"]["pid"])
    tansu_argv, tansu_environment = tansu.cmdline(), tansu.environ()
    port = dev.manifest()["ports"]["kafka"]["port"]
    tansu.send_signal(signal.SIGKILL)  # it stays a zombie until ragstream dev, its parent, reaps it

    async def closed() -> bool:
        return not port_open(port)

    await wait_for(closed, timeout=30, what="Tansu to be gone")
    await put_objects(settings, WHILE_DOWN)

    again = _start_like(tansu_argv, tansu_environment, tmp_path / "tansu-again.log")
    try:

        async def listening() -> bool:
            return port_open(port)

        await wait_for(listening, timeout=60, what="Tansu to listen again")
        await wait_until_complete(settings, list(WHILE_DOWN), timeout=180)
        await assert_answered_from(settings, QUESTIONS)
        assert dev.stop() == 0
    finally:
        if again.poll() is None:
            os.kill(again.pid, signal.SIGTERM)
            again.wait(30)
