"""The query benchmark's verdict against PyTorch and the CPU bound it gives beside it."""

from __future__ import annotations

import os

from bench import query
from bench.query import TORCH_MODEL, Answer, Level, cpu_bound, torch_note


def level(per_second: float, api: float, load: float) -> Level:
    """100 answers in the time that makes `per_second`, with the API's and the load's CPU in % of a CPU."""
    answer = Answer(latency_ms=50, ttft_ms=10, embed_ms=2, search_ms=1, llm_ms=40, total_ms=45, sources=4)
    return Level(50, seconds=100 / per_second, answers=[answer] * 100, cpu={"api": api, "load": load})


def test_the_bound_is_the_machine_over_the_cpu_an_answer_takes() -> None:
    # 100 answers/s at 90 % and 60 % of a CPU: 9 + 6 ms an answer.
    cpus = os.cpu_count() or 1
    bound = cpu_bound(level(100, api=90, load=60), level(50, api=80, load=30))
    assert bound == (
        "Each answer took 9.0 ms of CPU in the API's process (the question's embedding included) and"
        f" 6.0 ms in the clients and the stub, which share the {cpus} CPUs: were they kept all busy, at"
        f" most {cpus * 1000 / 15:.1f} requests/s, {cpus * 1000 / 15 / 50:.2f}x those with {TORCH_MODEL}."
        " But the API's process used 90 % of a CPU, and its event loop, one thread, runs on one CPU at a"
        f" time: at 9.0 ms an answer, at most 111.1 requests/s; 1.8x those with {TORCH_MODEL} needs 11.11 ms."
        " Bounds from CPU time, not measured speeds."
    )


def test_the_torch_verdict_ends_with_the_bound() -> None:
    note = torch_note(level(100, api=90, load=60), level(50, api=80, load=30))
    assert "100.0 / 50.0 = 2.00x, met." in note
    assert note.endswith("Bounds from CPU time, not measured speeds.")
    assert "NOT met" in torch_note(level(80, api=90, load=60), level(50, api=80, load=30))


def test_a_busy_level_asks_enough_for_its_ramps_to_be_a_small_part() -> None:
    assert query.questions_at(1) == query.QUERIES_PER_LEVEL
    assert query.questions_at(50) == 50 * query.QUERIES_PER_CLIENT
