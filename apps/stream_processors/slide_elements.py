"""PowerPoint (.pptx) -> text elements, slide by slide, each on its slide's number (as its page), and the
deck's text read apart from them (python-pptx; the bytes have passed partitioning's ZIP-bomb check)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import pptx
from lxml.etree import _Element
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.shapes.base import BaseShape
from pptx.shapes.group import GroupShape
from pptx.slide import Slide

from apps.stream_processors.chunking import TextElement
from apps.stream_processors.sheet_elements import table_elements

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
# The date, footer and slide number repeated on every slide: page furniture, like a PDF's headers.
_FURNITURE = frozenset({PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER})
_FURNITURE_TYPES = frozenset({"dt", "ftr", "sldNum"})
_TITLES = frozenset({PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE, PP_PLACEHOLDER.VERTICAL_TITLE})
_NOTES_LABEL = "Speaker notes:"


def slide_elements(data: bytes) -> list[TextElement]:
    """Each slide's title (or "Slide N" where it has none, so that no slide takes the one before's
    section), then its shapes' text in the order the slide stacks them (groups opened, tables a row an
    element under their header row), then its speaker notes; every element on the slide's number."""
    elements: list[TextElement] = []
    for number, slide in enumerate(pptx.Presentation(io.BytesIO(data)).slides, start=1):
        shapes = list(_shapes(slide.shapes))
        title = next((s for s in shapes if _placeholder_type(s) in _TITLES and _text_of(s)), None)
        heading = _text_of(title) if title is not None else f"Slide {number}"
        elements.append(TextElement(text=heading, page=number, is_title=True))
        for shape in shapes:
            if shape is not title and _placeholder_type(shape) not in _FURNITURE:
                elements += [TextElement(text=text, page=number) for text in _shape_texts(shape)]
        notes = _notes(slide)
        if notes:
            elements.append(TextElement(text=f"{_NOTES_LABEL} {notes}", page=number))
    return elements


def slide_text(data: bytes) -> str:
    """Every `a:t` of each slide and of its notes, a line for each paragraph, but those of the date,
    footer and slide number placeholders: what the coverage guard measures the chunks against."""
    pieces: list[str] = []
    for slide in pptx.Presentation(io.BytesIO(data)).slides:
        parts = [slide.element]
        if slide.has_notes_slide:
            parts.append(slide.notes_slide.element)
        for root in parts:
            pieces += ("".join(t.text or "" for t in p.iter(_A + "t")) for p in _paragraphs(root))
    return "\n".join(pieces)


def _paragraphs(root: _Element) -> Iterator[_Element]:
    for shape in root.iter(_P + "sp", _P + "graphicFrame"):
        placeholder = shape.find(f"./*/{_P}nvPr/{_P}ph")
        if placeholder is None or placeholder.get("type") not in _FURNITURE_TYPES:
            yield from shape.iter(_A + "p")


def _shapes(shapes: Iterable[BaseShape]) -> Iterator[BaseShape]:
    for shape in shapes:
        if isinstance(shape, GroupShape):
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _placeholder_type(shape: BaseShape) -> PP_PLACEHOLDER | None:
    return shape.placeholder_format.type if shape.is_placeholder else None


def _text_of(shape: BaseShape) -> str:
    return "\n".join(_shape_texts(shape))


def _shape_texts(shape: BaseShape) -> Iterator[str]:
    """A text frame's paragraphs as one text, a line each; a table's rows, one text each."""
    if getattr(shape, "has_text_frame", False):
        lines = (" ".join(p.text.split()) for p in shape.text_frame.paragraphs)  # type: ignore[attr-defined]
        text = "\n".join(line for line in lines if line)
        if text:
            yield text
    elif getattr(shape, "has_table", False):
        table = shape.table  # type: ignore[attr-defined]
        rows = [[cell.text for cell in row.cells] for row in table.rows]
        yield from (e.text for e in table_elements(rows, has_header=table.first_row))


def _notes(slide: Slide) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    if frame is None:
        return ""
    return "\n".join(line for line in (" ".join(p.text.split()) for p in frame.paragraphs) if line)
