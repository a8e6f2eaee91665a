"""How a generation's chunks and vectors are made: the embedding model, and a chunk size and
overlap within what that model reads. all-MiniLM-L6-v2 silently truncates past 256 word
pieces, so with it the default is 200/30 tokens; with OpenAI's embedders the original 512/50."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apps.common.embeddings import EmbeddingModelSpec, spec_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildSettings:
    embedding_model: str
    dimensions: int
    chunk_size: int
    chunk_overlap: int


def build_settings(
    model: str, chunk_size: int | None = None, chunk_overlap: int | None = None
) -> BuildSettings:
    """The settings for `model`, with its default chunking where none is given; too large a chunk
    size is reduced to what the model reads (and logged)."""
    spec: EmbeddingModelSpec = spec_of(model)
    size = chunk_size or spec.default_chunk_size
    if size > spec.max_input_tokens:
        log.warning("chunk size %d is over what %s reads: using %d", size, spec.name, spec.max_input_tokens)
        size = spec.max_input_tokens
    overlap = chunk_overlap if chunk_overlap is not None else spec.default_chunk_overlap
    return BuildSettings(spec.name, spec.dimensions, size, min(overlap, size // 2 - 1))
