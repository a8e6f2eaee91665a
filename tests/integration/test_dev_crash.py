"""`ragstream dev`'s whole process group is SIGKILLed in the middle of indexing 60 documents and started
again: every document ends `complete` once, the index holds exactly the chunks they report, and questions
are answered from them."""

from __future__ import annotations

import psycopg
import pytest

from tests.dev_process import DevProcess, index_counts
from tests.support import assert_answered_from, document_rows, put_objects, wait_for, wait_until_complete

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOCUMENT_COUNT = 60
DISTINCT = {
    7: "Glaciers carve deep U-shaped valleys as they slide slowly down the mountains.",
    52: "Octopuses change the colour of their skin in an instant to hide from predators.",
}
QUESTIONS: dict[str, tuple[str, int | None]] = {
    "crash/doc-007.txt": ("What carves U-shaped valleys in the mountains?", None),
    "crash/doc-052.txt": ("How do octopuses hide from predators?", None),
}


def _text(number: int) -> bytes:
    sentences = [f"Document {number} sentence {s} describes recovery after a crash." for s in range(40)]
    return "\n\n".join([DISTINCT.get(number, ""), *sentences]).strip().encode()


@pytest.mark.parametrize("attempt", range(3))
async def test_sigkill_of_ragstream_dev_mid_indexing_loses_and_duplicates_nothing(
    dev: DevProcess, attempt: int
) -> None:
    keys = [f"crash/doc-{n:03}.txt" for n in range(DOCUMENT_COUNT)]
    settings = dev.start()
    await put_objects(settings, {key: _text(n) for n, key in enumerate(keys)})

    async def mid_indexing() -> int | None:
        done = sum(r["status"] == "complete" for r in await document_rows(settings, keys))
        return done if done >= 3 else None

    done_before = await wait_for(
        mid_indexing, timeout=180, interval=0.1, what="the first documents to complete"
    )
    dev.kill_group()
    assert done_before < DOCUMENT_COUNT, "the crash came too late to interrupt anything"

    settings = dev.start()
    rows = await wait_until_complete(settings, keys, timeout=400)
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        cur = await conn.execute("SELECT count(*) FROM documents WHERE bucket = %s", (settings.s3_bucket,))
        assert await cur.fetchone() == (DOCUMENT_COUNT,)
    await assert_answered_from(settings, QUESTIONS)
    assert dev.stop() == 0

    per_document, total = await index_counts(settings, [r["id"] for r in rows])
    assert all(r["chunk_count"] >= 2 for r in rows), [r["chunk_count"] for r in rows]
    assert per_document == {r["id"]: r["chunk_count"] for r in rows}
    assert total == sum(r["chunk_count"] for r in rows)
