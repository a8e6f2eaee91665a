"""Structure-aware chunking: elements stay whole where they fit, sections and pages start new
chunks, and only an element longer than a chunk is cut into token windows that overlap.

Sizes are cl100k_base tokens. No chunk is longer than `size` tokens.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

from apps.common.tokenizer import encoding
from schemas.events import Chunk

_JOINER = "\n\n"
_SECTION_MAX_CHARS = 200


@dataclass(frozen=True, kw_only=True)
class TextElement:
    """One element a parser found: a title, a paragraph, a list item, a table..."""

    text: str
    page: int | None = None
    is_title: bool = False


@dataclass(frozen=True)
class ChunkingPolicy:
    size: int
    overlap: int

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ValueError(f"chunk size must be at least 16 tokens, not {self.size}")
        if not 0 <= self.overlap < self.size // 2:
            raise ValueError(
                f"chunk overlap must be between 0 and half the size ({self.size}), not {self.overlap}"
            )


@dataclass
class _Draft:
    parts: list[str]
    tokens: int
    page: int | None
    section: str | None


def chunk_elements(elements: Iterable[TextElement], policy: ChunkingPolicy) -> list[Chunk]:
    """Split a document's elements into chunks of at most `policy.size` tokens."""
    return list(iter_chunks(elements, policy))


def iter_chunks(elements: Iterable[TextElement], policy: ChunkingPolicy) -> Iterator[Chunk]:
    """`chunk_elements`, each chunk yielded as soon as it is whole: elements read as they come."""
    for i, (text, count, page, section) in enumerate(_chunk_texts(elements, policy)):
        yield Chunk(index=i, text=text, token_count=count, page=page, section=section)


def _chunk_texts(
    elements: Iterable[TextElement], policy: ChunkingPolicy
) -> Iterator[tuple[str, int, int | None, str | None]]:
    enc = encoding()
    section: str | None = None
    draft: _Draft | None = None
    min_tokens = policy.size // 4
    joiner_tokens = len(enc.encode(_JOINER))

    def flush() -> Generator[tuple[str, int, int | None, str | None], None, tuple[str, list[int]]]:
        """Yield the draft's chunks and drop it; returns its text and tokens, for the overlap."""
        nonlocal draft
        text, tokens = "", []
        if draft is not None and draft.parts:
            text = _JOINER.join(draft.parts)
            tokens = enc.encode(text, disallowed_special=())
            yield from _fit(text, tokens, draft.page, draft.section, policy)
        draft = None
        return text, tokens

    for element in elements:
        text = element.text.strip()
        if not text:
            continue
        if draft is not None and draft.page is not None and element.page not in (None, draft.page):
            yield from flush()  # a chunk cites one page
        if element.is_title:
            if draft is not None and draft.tokens >= min_tokens:
                yield from flush()
            section = text[:_SECTION_MAX_CHARS]
        tokens = len(enc.encode(text, disallowed_special=()))
        overflows = draft is not None and draft.tokens + joiner_tokens + tokens > policy.size
        # A short draft is not left as a tiny chunk before an element too long for one: it leads
        # into that element's windows. An element that fits a chunk is never cut.
        if draft is not None and overflows and (draft.tokens >= min_tokens or tokens <= policy.size):
            same_section = draft.section == section
            flushed, flushed_tokens = yield from flush()
            tail = _tail(flushed, flushed_tokens, policy.overlap)
            if same_section and tail and tokens + joiner_tokens + policy.overlap <= policy.size:
                draft = _Draft([tail], policy.overlap, element.page, section)
        if draft is None:
            draft = _Draft([], 0, element.page, section)
        if draft.page is None:
            draft.page = element.page
        draft.parts.append(text)
        draft.tokens += tokens + (joiner_tokens if len(draft.parts) > 1 else 0)
        if draft.tokens > policy.size:
            yield from flush()
    yield from flush()


def _tail(text: str, tokens: list[int], overlap: int) -> str:
    """The last `overlap` of `text`'s `tokens`, to repeat at the start of the next chunk. It starts at
    a character: where the first of those tokens begins inside one, the whole character is taken."""
    if overlap == 0:
        return ""
    if len(tokens) <= overlap:
        return text.strip()
    enc = encoding()
    # Count back through the text's bytes, as encoded, instead of working out every token's offset.
    data = enc.decode_bytes(tokens)
    start = len(data) - sum(len(piece) for piece in enc.decode_tokens_bytes(tokens[-overlap:]))
    while start > 0 and 0x80 <= data[start] < 0xC0:  # inside a character: back to its first byte
        start -= 1
    return data[start:].decode("utf-8").strip()


def _fit(
    text: str, tokens: list[int], page: int | None, section: str | None, policy: ChunkingPolicy
) -> Iterator[tuple[str, int, int | None, str | None]]:
    """`text` (its `tokens`) as one chunk if it fits, else as windows of `size` tokens overlapping by
    `overlap`."""
    enc = encoding()
    if len(tokens) <= policy.size:
        yield text, len(tokens), page, section
        return
    # Where each token starts in the text: windows are cut between characters, never inside one.
    _, offsets = enc.decode_with_offsets(tokens)
    step = policy.size - policy.overlap
    for start in range(0, len(tokens), step):
        end = start + policy.size
        window = text[offsets[start] : offsets[end] if end < len(tokens) else len(text)].strip()
        # A character split over two tokens is kept whole, which can add a token: re-count.
        count = len(enc.encode(window, disallowed_special=()))
        while count > policy.size:
            window = window[: int(len(window) * policy.size / count) - 1]
            count = len(enc.encode(window, disallowed_special=()))
        if window:
            yield window, count, page, section
        if start + policy.size >= len(tokens):
            break
