"""The baseline: LlamaIndex's IngestionPipeline with the same splitter settings and a Qdrant store
(qdrant-client in memory). A module of its own, so that LlamaIndex's worker processes can import the
embedding class it pickles.

Pages are read one of two ways: by ragstream's parser (`TUNED`: `partition_document`, as the parse
stage reads them), or as LlamaIndex's UnstructuredReader does (`DEFAULTS`: unstructured's
`partition` on the file with its defaults). Each wants its process set up by `prepare` first, and
the two cannot share one: ragstream's set-up changes unstructured for the whole process.

Chunks are embedded one of two ways: by ragstream's embedder behind LlamaIndex's interface
(`RAGSTREAM`: whichever model ragstream runs, `RAGSTREAM_BATCH` texts a call), or by LlamaIndex's own
`HuggingFaceEmbedding` (`HUGGING_FACE`: all-MiniLM-L6-v2 through sentence-transformers on PyTorch,
as LlamaIndex's users make it: on the CPU, its default batch, torch's default threads).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from llama_index.core import Document
from llama_index.core.constants import DEFAULT_EMBED_BATCH_SIZE
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import TokenTextSplitter
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient

from apps.common.embeddings import Embedder, Embedders
from apps.common.local_encoders import local_model_name, model_weights_dir
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

Embedding = Literal["ragstream", "huggingface"]
RAGSTREAM: Embedding = "ragstream"
HUGGING_FACE: Embedding = "huggingface"
# Texts a call to ragstream's embedder; HuggingFaceEmbedding keeps LlamaIndex's default.
RAGSTREAM_BATCH = 64
HUGGING_FACE_BATCH = DEFAULT_EMBED_BATCH_SIZE
# The model HuggingFaceEmbedding runs, by ragstream's name for it: all-MiniLM-L6-v2 on PyTorch.
HUGGING_FACE_MODEL = local_model_name("torch")

_EMBEDDERS: dict[str, Embedder] = {}
_HUGGING_FACE: list[BaseEmbedding] = []  # in LlamaIndex's process: its HuggingFaceEmbedding, once loaded


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


def _hugging_face() -> BaseEmbedding:
    """LlamaIndex's HuggingFaceEmbedding on the pinned weights (nothing is downloaded), loaded once.
    Imported here: torch would otherwise load into every process that imports this module."""
    if not _HUGGING_FACE:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        _HUGGING_FACE.append(
            HuggingFaceEmbedding(
                model_name=str(model_weights_dir()), device="cpu", embed_batch_size=HUGGING_FACE_BATCH
            )
        )
    return _HUGGING_FACE[0]


def embedding_of(model: str, embedding: Embedding) -> BaseEmbedding:
    """The embedding the pipeline runs: ragstream's embedder of `model`, or HuggingFaceEmbedding
    (whose model is `HUGGING_FACE_MODEL`)."""
    if embedding == RAGSTREAM:
        return RagstreamEmbedding(model_name=model, embed_batch_size=RAGSTREAM_BATCH)
    if model != HUGGING_FACE_MODEL:
        raise ValueError(f"HuggingFaceEmbedding runs {HUGGING_FACE_MODEL}, not {model}")
    return _hugging_face()


def prepare(parser: Parser) -> None:
    """Set this process up to call unstructured the `parser` way."""
    if parser == TUNED:
        configure_offline()
    else:
        configure_unstructured_as_it_comes()


def warm_up(model: str, parser: Parser, embedding: Embedding, page: Path) -> None:
    """Load the embedding model and the parser's (spaCy, language profiles) before a measured run,
    as the process that measured the ceiling already has them."""
    prepare(parser)
    _read(page, parser)
    embedding_of(model, embedding).get_text_embedding_batch(["warm up"])


def _read(page: Path, parser: Parser) -> Document:
    if parser == TUNED:
        extraction = partition_document(page.read_bytes(), page.name, "text/html")
        texts = [element.text for element in extraction.elements]
    else:
        from unstructured.partition.auto import partition

        texts = [" ".join(str(element).split()) for element in partition(filename=str(page))]
    return Document(text="\n\n".join(texts), metadata={"file": page.name})


def ingest(
    model: str,
    pages: list[Path],
    policy: ChunkingPolicy,
    *,
    workers: int | None,
    parser: Parser = TUNED,
    embedding: Embedding = RAGSTREAM,
) -> tuple[float, int]:
    """Parse, split, embed and store `pages`; returns (seconds, chunks). The process was `prepare`d."""
    started = time.perf_counter()
    documents = [_read(page, parser) for page in pages]
    store = QdrantVectorStore(client=QdrantClient(location=":memory:"), collection_name="bench")
    tokenize: Callable[[str], list[int]] = encoding().encode
    splitter = TokenTextSplitter(chunk_size=policy.size, chunk_overlap=policy.overlap, tokenizer=tokenize)
    pipeline = IngestionPipeline(
        transformations=[splitter, embedding_of(model, embedding)], vector_store=store
    )
    nodes = pipeline.run(documents=documents, num_workers=workers)
    return time.perf_counter() - started, len(nodes)
