"""Unit tests of `apps.stream_processors.parsing.parse_and_chunk`, called in-process (no worker pool)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from apps.common.tokenizer import count_tokens, encoding
from apps.stream_processors.batching import CHUNKS_PER_MESSAGE
from apps.stream_processors.chunking import ChunkingPolicy
from apps.stream_processors.parsing import DocumentParser, ParsedBatch, parse_and_chunk
from apps.stream_processors.partitioning import configure_offline
from apps.stream_processors.stage import DocumentError
from schemas.events import DocumentReady
from tests import documents
from tests.documents import DOCX, PAGE_TEXTS, PDF


@pytest.fixture(scope="module", autouse=True)
def offline_parser() -> None:
    configure_offline()


def test_pdf_chunks_carry_their_page_numbers() -> None:
    policy = ChunkingPolicy(size=32, overlap=4)
    chunks = parse_and_chunk(documents.pdf(), "penguins.pdf", PDF, policy)

    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert {c.page for c in chunks} == {1, 2}
    assert [c.page for c in chunks] == sorted(c.page or 0 for c in chunks)
    for chunk in chunks:
        assert chunk.token_count == count_tokens(chunk.text) <= policy.size
    first_words = {page: lines[0].split()[0] for page, lines in enumerate(PAGE_TEXTS, start=1)}
    assert first_words[1] in next(c.text for c in chunks if c.page == 1)
    assert first_words[2] in next(c.text for c in chunks if c.page == 2)


def test_pdf_text_is_all_in_the_chunks() -> None:
    chunks = parse_and_chunk(documents.pdf(), "penguins.pdf", PDF, ChunkingPolicy(size=512, overlap=50))
    assert chunks[0].page == 1
    assert {c.page for c in chunks} <= {1, 2}
    for lines in PAGE_TEXTS:
        for line in lines:
            assert any(line in c.text for c in chunks), line


def test_docx_chunks_carry_their_sections() -> None:
    chunks = parse_and_chunk(documents.docx(), "penguins.docx", DOCX, ChunkingPolicy(size=20, overlap=0))
    assert [c.section for c in chunks] == ["Emperor penguins", "Incubation"]
    assert chunks[1].text.startswith("Incubation\n\nThe male incubates")


def test_text_document() -> None:
    text = "The male emperor penguin incubates the egg on his feet for two months, while the female feeds."
    [chunk] = parse_and_chunk(
        text.encode(), "penguins.txt", "text/plain", ChunkingPolicy(size=200, overlap=30)
    )
    assert chunk.text == text
    assert chunk.index == 0
    assert chunk.page is None


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "message"),
    [
        (b"%PDF-1.4 garbage", "broken.pdf", PDF, "no text could be extracted"),
        (b"", "empty.txt", "text/plain", "holds no text"),
        (b"not a zip", "broken.docx", DOCX, "not a valid Word document"),
    ],
)
def test_unparseable_documents_are_document_errors(
    data: bytes, filename: str, content_type: str, message: str
) -> None:
    with pytest.raises(DocumentError, match=message):
        parse_and_chunk(data, filename, content_type, ChunkingPolicy(size=200, overlap=30))


async def test_the_worker_pool_parses_and_fails_a_slow_document_alone() -> None:
    """A document past its time limit fails with a message; the pool is replaced and parses on."""
    parser = DocumentParser(workers=1, timeout=60)
    policy = ChunkingPolicy(size=200, overlap=30)
    try:
        await parser.start()
        event = ready_event("notes.txt", "text/plain")
        [parsed] = await parsed_batches(parser, b"Parsing runs in a worker process.", event, policy)
        assert parsed.chunks[0].text == "Parsing runs in a worker process."
        assert (parsed.last, parsed.coverage) == (True, 1.0)

        parser.timeout, parser.timeout_per_mib = 0.001, 0.0
        with pytest.raises(DocumentError, match="parsing took longer than"):
            await parsed_batches(
                parser, b"A document that cannot be parsed within a millisecond. " * 500, event, policy
            )

        parser.timeout = 60
        [parsed] = await parsed_batches(parser, b"The next document parses as usual.", event, policy)
        assert parsed.chunks[0].text == "The next document parses as usual."
    finally:
        parser.close()


async def test_a_long_document_streams_its_batches_and_only_the_last_says_how_much_it_kept() -> None:
    parser = DocumentParser(workers=1, timeout=60)
    paragraphs = [
        f"Paragraph number {i} is about emperor penguins." for i in range(CHUNKS_PER_MESSAGE * 2 + 5)
    ]
    try:
        batches = await parsed_batches(
            parser,
            "\n\n".join(paragraphs).encode(),
            ready_event("long.txt", "text/plain"),
            ChunkingPolicy(16, 0),
        )
    finally:
        parser.close()
    assert [(len(b.chunks), b.last, b.coverage) for b in batches] == [
        (CHUNKS_PER_MESSAGE, False, None),
        (CHUNKS_PER_MESSAGE, False, None),
        (5, True, 1.0),
    ]
    assert [c.index for b in batches for c in b.chunks] == list(range(len(paragraphs)))


async def test_a_document_that_fails_its_coverage_never_sends_its_last_batch() -> None:
    """Without the last batch, which says how many there are, the version is never complete."""
    parser = DocumentParser(workers=1, timeout=60, min_coverage=1.01)
    paragraphs = [f"Paragraph number {i} is about emperor penguins." for i in range(CHUNKS_PER_MESSAGE + 5)]
    received: list[ParsedBatch] = []

    async def parse() -> None:
        data = "\n\n".join(paragraphs).encode()
        async for batch in parser.parse(data, ready_event("long.txt", "text/plain"), ChunkingPolicy(16, 0)):
            received.append(batch)

    try:
        with pytest.raises(DocumentError, match=r"parsing kept only 100\.0% of the document's words"):
            await parse()
    finally:
        parser.close()
    assert [b.last for b in received] == [False]


def test_the_time_limit_grows_with_the_documents_size() -> None:
    parser = DocumentParser(timeout=300, timeout_per_mib=60)
    assert parser.time_limit(0) == 300
    assert parser.time_limit(50 * 1024 * 1024) == 300 + 50 * 60


async def parsed_batches(
    parser: DocumentParser, data: bytes, event: DocumentReady, policy: ChunkingPolicy
) -> list[ParsedBatch]:
    return [batch async for batch in parser.parse(data, event, policy)]


async def test_starting_the_pool_loads_each_workers_tokenizer_before_the_first_document() -> None:
    """Loading cl100k_base takes a worker ~0.3 s of CPU: it belongs to the start, not to a document."""
    parser = DocumentParser(workers=2)
    try:
        await parser.start()
        pool = parser._executor()
        assert [pool.submit(tokenizer_loaded).result() for _ in range(8)] == [True] * 8
    finally:
        parser.close()


def tokenizer_loaded() -> bool:
    """Runs in a worker."""
    return encoding.cache_info().currsize == 1


def ready_event(filename: str, content_type: str) -> DocumentReady:
    return DocumentReady(
        document_id=uuid.uuid4(),
        version="v1",
        workflow_id="upload:test",
        collection="documents",
        bucket="bucket",
        key=filename,
        filename=filename,
        content_type=content_type,
        size=1,
        uploaded_at=datetime.now(UTC),
    )
