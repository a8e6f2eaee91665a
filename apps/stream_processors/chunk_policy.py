"""The chunk size and overlap in force: the settings', within what the embedding model reads.

all-MiniLM-L6-v2 silently truncates past 256 word pieces, so with it the default is 200/30
tokens; with OpenAI's embedders it is the original 512/50.
"""

from __future__ import annotations

import logging

from apps.common.embeddings import model_spec
from apps.common.settings import Settings
from apps.stream_processors.chunking import ChunkingPolicy

log = logging.getLogger(__name__)


def chunking_policy(settings: Settings) -> ChunkingPolicy:
    spec = model_spec(settings)
    size = settings.chunk_size or spec.default_chunk_size
    if size > spec.max_input_tokens:
        log.warning(
            "chunk size %d is over what %s reads (%d tokens): using %d",
            size,
            spec.name,
            spec.max_input_tokens,
            spec.max_input_tokens,
        )
        size = spec.max_input_tokens
    overlap = settings.chunk_overlap if settings.chunk_overlap is not None else spec.default_chunk_overlap
    return ChunkingPolicy(size=size, overlap=min(overlap, size // 2 - 1))
