"""The ingest benchmark's rounds and comparisons: each pipeline's median round makes its row, shares
and comparisons are the median of the rounds' own ratios, the notes give every round (a slow minute
of the machine shows instead of deciding the comparison), and
pipelines that cut the same pages into different chunks are compared by documents/s; LlamaIndex is
shown with unstructured called both ways."""

from __future__ import annotations

import os

import pytest

from bench.ingest import COLUMNS, add_model
from bench.report import Result
from bench.runs import Run, median_run, paired_ratio

# 500 ms of CPU a document: 400 in ragstream's own processes, 100 in a server.
CPU_SECONDS = {
    "processors + API": 3.0,
    "parser workers": 0.5,
    "workflow worker + intake": 0.5,
    "Temporal": 1.0,
}


def runs(*chunks_per_second: float, chunks: int = 100) -> list[Run]:
    """Runs of 10 documents and `chunks` chunks each, at these speeds."""
    return [
        Run(seconds=chunks / speed, documents=10, chunks=chunks, cpu_seconds=dict(CPU_SECONDS))
        for speed in chunks_per_second
    ]


def test_the_median_run_is_the_middle_one_by_speed() -> None:
    assert median_run(runs(30, 10, 20)).chunks_per_second == pytest.approx(20)
    # Of the two in the middle, the slower.
    assert median_run(runs(40, 10, 30, 20)).chunks_per_second == pytest.approx(20)
    assert median_run(runs(7)).chunks_per_second == pytest.approx(7)


def test_a_paired_ratio_is_the_median_of_each_rounds_own_ratio() -> None:
    # The second round was a slow stretch of the machine for both pipelines.
    assert paired_ratio(runs(36, 18, 27), runs(40, 20, 30)) == pytest.approx(0.9)
    assert paired_ratio(runs(30), runs(20), lambda run: run.chunks_per_second) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="shorter"):
        paired_ratio(runs(30, 20), runs(20))


def test_a_slow_round_does_not_set_the_share_of_the_ceiling() -> None:
    result = Result("ingest", "title", COLUMNS)
    # ragstream's second round ran in a slow minute of the machine that the other pipelines missed;
    # the third round was slow for every pipeline. Medians alone would say 27 of 40: 0.68.
    add_model(
        result,
        "model",
        ceilings=runs(40, 40, 30),
        ours=runs(36, 24, 27),
        theirs=runs(36, 36, 27),
        theirs_with_defaults=runs(18, 18, 13.5),
    )
    assert result.rows[1][5] == "0.90"
    assert result.notes[0].startswith(
        "model: ragstream 2.70 documents/s is 1.00x (chunks/s: 1.00x) LlamaIndex's with ragstream's"
        " parser and 2.00x (chunks/s: 2.00x)"
    )


def test_each_row_is_its_pipelines_median_round_and_the_notes_give_every_round() -> None:
    result = Result("ingest", "title", COLUMNS)
    add_model(
        result,
        "model",
        ceilings=runs(40, 38, 50),
        ours=runs(30, 36, 20),
        theirs=runs(32, 30, 31),
        theirs_with_defaults=runs(15, 14, 16),
    )

    speeds = [(row[0], row[2], row[3], row[4], row[5]) for row in result.rows]
    assert speeds == [
        ("the embedder alone (ceiling)", pytest.approx(4), pytest.approx(40), "10.0", "1.00"),
        ("ragstream, end to end", pytest.approx(3), pytest.approx(30), "10.0", "0.75"),
        (
            "LlamaIndex IngestionPipeline, ragstream's parser",
            pytest.approx(3.1),
            pytest.approx(31),
            "10.0",
            "0.79",
        ),
        (
            "LlamaIndex IngestionPipeline, unstructured's defaults",
            pytest.approx(1.5),
            pytest.approx(15),
            "10.0",
            "0.37",
        ),
    ]
    # 500 ms of CPU a document: on all the machine's CPUs, at most 2 documents/s a CPU.
    cpus = os.cpu_count() or 1
    assert result.notes[0] == (
        "model: ragstream 3.00 documents/s is 0.94x (chunks/s: 0.94x) LlamaIndex's with ragstream's"
        " parser and 2.00x (chunks/s: 2.00x) LlamaIndex's with unstructured's defaults. The"
        f" latter parses in one process before its pipeline; were that spread over the {cpus} CPUs, its"
        f" CPU a document would still hold it to {2 * cpus:,.2f} documents/s ({3 / (2 * cpus):.2f}x for"
        " ragstream)"
    )
    assert result.notes[1] == (
        "model, documents/s round by round: the ceiling 4.00, 3.80, 5.00; ragstream 3.00, 3.60, 2.00;"
        " LlamaIndex 3.20, 3.00, 3.10; LlamaIndex with unstructured's defaults 1.50, 1.40, 1.60."
        " ragstream's ratio round by round: of the ceiling 0.75, 0.95, 0.40; to LlamaIndex 0.94, 1.20,"
        " 0.65; to LlamaIndex with unstructured's defaults 2.00, 2.57, 1.25. Each row is that pipeline's"
        " median round; its share of the ceiling and the comparisons above are the median of the rounds'"
        " ratios, as each round runs every pipeline back to back."
    )
    assert result.notes[2].startswith(
        "ragstream with model: CPU ms a document: processors + API 300.0, parser workers 50.0,"
        " workflow worker + intake 50.0, Temporal 100.0;"
    )
    # Without the servers' CPU: 400 ms a document where the ceiling's process took 500.
    assert result.notes[3] == (
        "model: were the servers (Temporal, moto, Tansu, Postgres) and the uploader on other machines,"
        " as deployed, ragstream's own"
        f" processes (400.0 ms of CPU a document) would allow at most {2.5 * cpus:,.2f} documents/s on the"
        f" {cpus} CPUs: 1.25 of the ceiling's bound the same way ({2 * cpus:,.2f} documents/s, 500.0 ms a"
        " document). A bound from CPU time, not a measured speed."
    )


def test_pipelines_that_cut_pages_into_different_chunks_are_compared_by_documents() -> None:
    result = Result("ingest", "title", COLUMNS)
    # LlamaIndex makes 8 chunks of a page where ragstream makes 10: fewer chunks/s, more pages.
    add_model(
        result,
        "model",
        ceilings=runs(40),
        ours=runs(30),
        theirs=runs(28, chunks=80),
        theirs_with_defaults=runs(14, chunks=80),
    )

    llama = result.rows[2]
    assert (llama[2], llama[3], llama[4]) == (pytest.approx(3.5), pytest.approx(28), "8.0")
    # Of the ceiling: its documents/s (the embedder alone on ragstream's chunks of the same pages).
    assert llama[5] == "0.88"
    assert result.notes[0].startswith(
        "model: ragstream 3.00 documents/s is 0.86x (chunks/s: 1.07x) LlamaIndex's with ragstream's"
        " parser and 1.71x (chunks/s: 2.14x)"
    )


def test_one_round_needs_no_round_by_round_note() -> None:
    result = Result("ingest", "title", COLUMNS)
    add_model(
        result, "model", ceilings=runs(40), ours=runs(30), theirs=runs(20), theirs_with_defaults=runs(10)
    )
    assert len(result.rows) == 4
    assert not any("round by round" in note for note in result.notes)


def test_no_bound_from_a_ceiling_too_quick_to_take_measurable_cpu() -> None:
    result = Result("ingest", "title", COLUMNS)
    ceiling = runs(40)
    ceiling[0].cpu_seconds = {"this process": 0.0}
    add_model(
        result, "model", ceilings=ceiling, ours=runs(30), theirs=runs(20), theirs_with_defaults=runs(10)
    )
    assert not any("were the servers" in note for note in result.notes)
