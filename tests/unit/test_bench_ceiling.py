"""`bench.ceiling`: the embedder alone runs in a process of its own, which its CPU time and peak
memory are of, and embeds every chunk of every page."""

from __future__ import annotations

import os

from apps.common.embeddings import HASHING_MODEL
from bench.ceiling import BATCH, EMBEDDER_PROCESS, embedder_alone


def test_the_embedder_alone_runs_in_a_process_of_its_own_and_embeds_every_chunk() -> None:
    pages = [[f"page {page} chunk {chunk}" for chunk in range(BATCH + 5)] for page in range(3)]
    with embedder_alone(HASHING_MODEL) as embedder:
        assert embedder.pid != os.getpid()
        run = embedder.run(pages)
    assert (run.documents, run.chunks) == (3, 3 * (BATCH + 5))
    assert set(run.cpu_seconds) == {EMBEDDER_PROCESS}
    # The model's process holds the interpreter and the embedder: far more than nothing.
    assert run.peak_rss_mib["embedder alone"] > 20
