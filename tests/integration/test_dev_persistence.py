"""`ragstream dev` keeps its stack under .ragstream/: stopped and started again it still has its documents,
indexed and searchable; `--fresh` starts empty; a stack that lost a part refuses to start."""

from __future__ import annotations

import shutil

import pytest

from tests.dev_process import DevProcess, index_counts
from tests.support import assert_answered_from, document_rows, put_objects, wait_until_complete

pytestmark = pytest.mark.integration

DOCUMENTS = {
    "kept/lighthouses.txt": b"Lighthouses guide ships past dangerous rocks with a flashing light at night.",
    "kept/windmills.md": b"# Windmills\n\nWindmills turn the energy of the wind into grinding grain.",
    "kept/bees.txt": b"Honey bees dance in the hive to tell the others where the flowers are.",
}
QUESTIONS: dict[str, tuple[str, int | None]] = {
    "kept/lighthouses.txt": ("What guides ships past dangerous rocks at night?", None),
    "kept/windmills.md": ("What turns the wind's energy into grinding grain?", None),
    "kept/bees.txt": ("How do honey bees tell the others where the flowers are?", None),
}


async def test_a_restarted_stack_keeps_its_documents(dev: DevProcess) -> None:
    keys = list(DOCUMENTS)
    settings = dev.start()
    await put_objects(settings, DOCUMENTS)
    indexed = await wait_until_complete(settings, keys, timeout=120)
    assert dev.stop() == 0

    settings = dev.start()
    assert "resuming the stack" in dev.output()
    rows = await wait_until_complete(settings, keys, timeout=60)
    summary = sorted((r["id"], r["status"], r["version"], r["chunk_count"]) for r in rows)
    assert summary == sorted((r["id"], r["status"], r["version"], r["chunk_count"]) for r in indexed)
    await assert_answered_from(settings, QUESTIONS)
    assert dev.stop() == 0

    per_document, total = await index_counts(settings, [r["id"] for r in rows])
    assert per_document == {r["id"]: r["chunk_count"] for r in rows}
    assert total == sum(r["chunk_count"] for r in rows)


@pytest.mark.slow
async def test_fresh_starts_empty_and_a_stack_missing_a_part_refuses_to_start(dev: DevProcess) -> None:
    settings = dev.start()
    await put_objects(settings, {"gone/soon.txt": b"This document is deleted with the whole stack."})
    await wait_until_complete(settings, ["gone/soon.txt"], timeout=120)
    assert dev.stop() == 0
    earlier_kafka = dev.workdir / "earlier-kafka"
    shutil.copytree(dev.state_dir / "kafka", earlier_kafka, symlinks=True)

    settings = dev.start("--fresh")
    assert "--fresh: deleting" in dev.output()
    assert await document_rows(settings, ["gone/soon.txt"]) == []
    assert dev.stop() == 0

    # Kafka's storage from the earlier stack: another stack's, and found out before anything is written.
    shutil.rmtree(dev.state_dir / "kafka")
    shutil.copytree(earlier_kafka, dev.state_dir / "kafka", symlinks=True)
    refused("Kafka's storage (SeaweedFS) holds another stack's data", *dev.run_to_exit())

    shutil.rmtree(dev.state_dir / "s3")
    refused("S3 has lost its data", *dev.run_to_exit())


def refused(problem: str, code: int, output: str) -> None:
    assert code != 0, output
    assert problem in " ".join(output.split()), output
    assert "ragstream dev --fresh" in output, output
    assert "Traceback" not in output, output
