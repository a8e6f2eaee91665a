"""`python -m bench`: one benchmark in this process, several each in a process of their own."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

import bench.__main__ as bench_main
from bench.report import RUN_COMMAND_ENV


class Runs:
    def __init__(self, failing: str | None = None) -> None:
        self.commands: list[list[str]] = []
        self.environments: list[dict[str, str]] = []
        self._failing = failing

    def __call__(self, command: list[str], *, env: dict[str, str], check: bool, **_: Any) -> Any:
        self.commands.append(command)
        self.environments.append(env)
        return subprocess.CompletedProcess(command, 3 if command[-1] == self._failing else 0)


def test_several_benchmarks_run_each_in_a_process_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = Runs()
    monkeypatch.setattr(subprocess, "run", runs)
    bench_main.main(["ocr", "query"])
    assert [command[-3:] for command in runs.commands] == [["-m", "bench", "ocr"], ["-m", "bench", "query"]]
    assert {env[RUN_COMMAND_ENV] for env in runs.environments} == {"python -m bench ocr query"}


def test_every_benchmark_when_none_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = Runs()
    monkeypatch.setattr(subprocess, "run", runs)
    bench_main.main([])
    assert [command[-1] for command in runs.commands] == list(bench_main.BENCHMARKS)
    assert {env[RUN_COMMAND_ENV] for env in runs.environments} == {"python -m bench"}


def test_a_failed_benchmark_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = Runs(failing="ocr")
    monkeypatch.setattr(subprocess, "run", runs)
    with pytest.raises(SystemExit, match="benchmark ocr failed"):
        bench_main.main(["coverage", "ocr", "query"])
    assert [command[-1] for command in runs.commands] == ["coverage", "ocr"]


def test_an_unknown_benchmark_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown benchmark"):
        bench_main.main(["speed"])
