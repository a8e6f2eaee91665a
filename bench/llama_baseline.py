"""The baseline: LlamaIndex's IngestionPipeline with the same splitter settings, embedder and a
Qdrant store (qdrant-client in memory). A module of its own, so that LlamaIndex's worker processes
can import the embedding class it pickles.

Pages are read one of two ways: by ragstream's parser (`TUNED`: `partition_document`, as the parse
stage reads them), or as LlamaIndex's UnstructuredReader does (`DEFAULTS`: unstructured's
`partition` on the file with its defaults). Each wants its process set up by `prepare` first, and
the two cannot share one: ragstream's set-up changes unstructured for the whole process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from llama_index.core import Document
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import TokenTextSplitter
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient

from apps.common.embeddings import Embedder, Embedders
from apps.common.settings import Settings
from apps.common.tokenizer import encoding
from apps.stream_processors.chunking import ChunkingPolicy
from apps.stream_processors.partitioning import (
    configure_offline,
    configure_unstructured_as_it_comes,
    partition_document,
)

Parser = Literal["tuned", "defaults"]
TUNED: Parser = "tuned"
DEFAULTS: Parser = "defaults"

_EMBEDDERS: dict[str, Embedder] = {}


def _embed(model: str, texts: list[str]) -> list[list[float]]:
    # LlamaIndex's workers receive the embedding without a live model: each loads its own.
    if model not in _EMBEDDERS:
        _EMBEDDERS[model] = Embedders(Settings(_env_file=None)).get(model)
    return [[float(x) for x in row] for row in asyncio.run(_EMBEDDERS[model].embed(texts))]


class RagstreamEmbedding(BaseEmbedding):
    """ragstream's embedder behind LlamaIndex's interface."""

    def _get_query_embedding(self, query: str) -> list[float]:
        return _embed(self.model_name, [query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return _embed(self.model_name, [query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return _embed(self.model_name, [text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return _embed(self.model_name, texts)


def prepare(parser: Parser) -> None:
    """Set this process up to call unstructured the `parser` way."""
    if parser == TUNED:
        configure_offline()
    else:
        configure_unstructured_as_it_comes()


def warm_up(model: str, parser: Parser, page: Path) -> None:
    """Load the embedding model and the parser's (spaCy, language profiles) before a measured run,
    as the process that measured the ceiling already has them."""
    prepare(parser)
    _read(page, parser)
    _embed(model, ["warm up"])


def _read(page: Path, parser: Parser) -> Document:
    if parser == TUNED:
        extraction = partition_document(page.read_bytes(), page.name, "text/html")
        texts = [element.text for element in extraction.elements]
    else:
        from unstructured.partition.auto import partition

        texts = [" ".join(str(element).split()) for element in partition(filename=str(page))]
    return Document(text="\n\n".join(texts), metadata={"file": page.name})


def ingest(
    model: str, pages: list[Path], policy: ChunkingPolicy, *, workers: int | None, parser: Parser = TUNED
) -> tuple[float, int]:
    """Parse, split, embed and store `pages`; returns (seconds, chunks). The process was `prepare`d."""
    started = time.perf_counter()
    documents = [_read(page, parser) for page in pages]
    store = QdrantVectorStore(client=QdrantClient(location=":memory:"), collection_name="bench")
    tokenize: Callable[[str], list[int]] = encoding().encode
    splitter = TokenTextSplitter(chunk_size=policy.size, chunk_overlap=policy.overlap, tokenizer=tokenize)
    embedding = RagstreamEmbedding(model_name=model, embed_batch_size=64)
    pipeline = IngestionPipeline(transformations=[splitter, embedding], vector_store=store)
    nodes = pipeline.run(documents=documents, num_workers=workers)
    return time.perf_counter() - started, len(nodes)
