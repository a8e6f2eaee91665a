"""The ingest benchmark's rounds: each pipeline's median round makes its row, and the notes give every
round, so a slow minute of the machine shows instead of deciding the comparison."""

from __future__ import annotations

import pytest

from bench.ingest import COLUMNS, Run, add_model, median_run
from bench.report import Result


def runs(*chunks_per_second: float) -> list[Run]:
    """Runs of 10 documents and 100 chunks each, at these speeds."""
    return [
        Run(seconds=100 / speed, documents=10, chunks=100, cpu_seconds={"processes": 5.0})
        for speed in chunks_per_second
    ]


def test_the_median_run_is_the_middle_one_by_speed() -> None:
    assert median_run(runs(30, 10, 20)).chunks_per_second == pytest.approx(20)
    # Of the two in the middle, the slower.
    assert median_run(runs(40, 10, 30, 20)).chunks_per_second == pytest.approx(20)
    assert median_run(runs(7)).chunks_per_second == pytest.approx(7)


def test_each_row_is_its_pipelines_median_round_and_the_notes_give_every_round() -> None:
    result = Result("ingest", "title", COLUMNS)
    add_model(result, "model", ceilings=runs(40, 38, 50), ours=runs(30, 36, 20), theirs=runs(32, 30, 31))

    speeds = [(row[0], row[3], row[4]) for row in result.rows]
    assert speeds == [
        ("the embedder alone (ceiling)", pytest.approx(40), "1.00"),
        ("ragstream, end to end", pytest.approx(30), "0.75"),
        ("LlamaIndex IngestionPipeline", pytest.approx(31), "0.78"),
    ]
    assert result.notes[0] == "model: ragstream 30.0 chunks/s is 0.97x LlamaIndex's"
    assert result.notes[1] == (
        "model, chunks/s round by round: the ceiling 40.0, 38.0, 50.0; ragstream 30.0, 36.0, 20.0;"
        " LlamaIndex 32.0, 30.0, 31.0. Each row is that pipeline's median round."
    )
    assert result.notes[2].startswith("ragstream with model: CPU ms a document: processes 500.0")


def test_one_round_needs_no_round_by_round_note() -> None:
    result = Result("ingest", "title", COLUMNS)
    add_model(result, "model", ceilings=runs(40), ours=runs(30), theirs=runs(20))
    assert len(result.rows) == 3
    assert not any("round by round" in note for note in result.notes)
