"""Word (.docx) -> text elements in reading order, read from the document's XML, and its reference text.

unstructured's `partition_docx` reads only python-docx's paragraphs and tables: floating text boxes,
content controls (`w:sdt`) and notes never reach an element that could be post-processed, and a table
becomes one string of cells without its header. So ragstream reads the XML itself (lxml; the
functions expect bytes that passed partitioning's ZIP-bomb check).
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree
from lxml.etree import _Element

from apps.stream_processors.chunking import TextElement

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
_M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_DOCUMENT = "word/document.xml"
_DOCUMENT_RELATIONSHIPS = "word/_rels/document.xml.rels"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

_ALTERNATIVES = _MC + "AlternateContent"
_BRANCHES = frozenset({_MC + "Choice", _MC + "Fallback"})
# Content controls and custom XML wrap blocks, rows and cells alike.
_WRAPPERS = frozenset({_W + "sdt", _W + "sdtContent", _W + "customXml"})
# Tracked deletions, and the place a tracked move took text from.
_DELETED = frozenset({_W + "del", _W + "moveFrom"})
_BLOCKS = frozenset({_W + "p", _W + "tbl"})
_ROWS = frozenset({_W + "tr"})
_CELLS = frozenset({_W + "tc"})
_TEXT = frozenset({_W + "t", _M + "t"})
_SPACING = {_W + "tab": "\t", _W + "ptab": "\t", _W + "br": "\n", _W + "cr": "\n", _W + "noBreakHyphen": "-"}
# The reference text: w:t, and the paragraphs, tabs and line breaks that separate them.
_REFERENCE_TAGS = tuple(_W + tag for tag in ("t", "p", "tab", "br", "cr"))
_NOTE_REFERENCES = {_W + "footnoteReference": "footnotes", _W + "endnoteReference": "endnotes"}
_HEADING_STYLE_NAMES = re.compile(r"heading [1-9]|title|subtitle|toc heading")
_BODY_TEXT_LEVEL = 9  # w:outlineLvl 0-8 are heading levels, 9 is body text
_FIRST_ROW_LOOK = 0x0020  # w:tblLook's w:val bit for "the first row is formatted as a header"
_HEADER_MAX_WORDS = 8  # a first row with longer cells is data, whatever its look


def docx_elements(data: bytes) -> list[TextElement]:
    """The document's text elements in reading order: headings as titles, paragraphs, each table
    row under its header, text boxes after the paragraph that anchors them, then its notes.
    Headers and footers of pages are left out; pages are known where Word recorded its page breaks."""
    return _Reader(_parts(data)).elements()


def docx_text(data: bytes) -> str:
    """Every `w:t` of the main document, a line for each paragraph and line break: tables and text
    boxes included, one branch of each `mc:AlternateContent`, tracked deletions left out. Read apart
    from `docx_elements`, for the coverage guard to measure the chunks against."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = _xml(archive.read(_DOCUMENT))
    for alternatives in list(root.iter(_ALTERNATIVES)):
        kept = _chosen(alternatives)
        for branch in list(alternatives):
            if branch is not kept:
                alternatives.remove(branch)
    for deleted in list(root.iter(*_DELETED)):
        parent = deleted.getparent()
        if parent is not None:
            parent.remove(deleted)
    pieces: list[str] = []
    for event, element in etree.iterwalk(root, events=("start", "end"), tag=_REFERENCE_TAGS):
        if element.tag != _W + "t":
            pieces.append("\n")
        elif event == "start":
            pieces.append(element.text or "")
    return "".join(pieces)


def _xml(data: bytes) -> _Element:
    return etree.fromstring(data, _PARSER)


def _parts(data: bytes) -> dict[str, _Element]:
    """The main document and, where it has them, its styles, footnotes and endnotes, by kind."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        parts = {"document": _xml(archive.read(_DOCUMENT))}
        if _DOCUMENT_RELATIONSHIPS not in names:
            return parts
        for relationship in _xml(archive.read(_DOCUMENT_RELATIONSHIPS)).iter(_RELATIONSHIP):
            kind = (relationship.get("Type") or "").rsplit("/", 1)[-1]
            target = posixpath.normpath(posixpath.join("word", relationship.get("Target") or "")).lstrip("/")
            if kind in ("styles", "footnotes", "endnotes") and target in names:
                parts[kind] = _xml(archive.read(target))
    return parts


def _chosen(alternatives: _Element) -> _Element | None:
    """The branch of an `mc:AlternateContent` to read: its first `mc:Choice`, else its `mc:Fallback`."""
    return next((b for b in alternatives if b.tag in _BRANCHES), None)


def _within(parent: _Element, tags: frozenset[str]) -> Iterator[_Element]:
    """The children of `parent` with one of `tags`, looking through content controls and alternatives."""
    for child in parent:
        if child.tag in tags:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _within(child, tags)
        elif child.tag == _ALTERNATIVES and (branch := _chosen(child)) is not None:
            yield from _within(branch, tags)


def _is_on(element: _Element | None) -> bool:
    return element is not None and element.get(_W + "val", "true") not in ("0", "false", "off")


def _outline_level(properties: _Element | None) -> int:
    """A paragraph's or style's own outline level (0-8 for headings, 9 for body text), -1 for none."""
    return -1 if properties is None else _number(properties.find(_W + "outlineLvl"), -1)


def _heading_styles(styles: _Element | None) -> tuple[frozenset[str], str | None]:
    """The ids of the paragraph styles that make headings (by their name, or by an outline level of
    their own or of the styles they are based on), and the id of the default paragraph style."""
    own: dict[str, tuple[str, int, str | None]] = {}
    default = None
    for style in () if styles is None else styles.iter(_W + "style"):
        style_id = style.get(_W + "styleId")
        if style.get(_W + "type") != "paragraph" or style_id is None:
            continue
        name, based_on = style.find(_W + "name"), style.find(_W + "basedOn")
        own[style_id] = (
            "" if name is None else name.get(_W + "val", "").lower(),
            _outline_level(style.find(_W + "pPr")),
            None if based_on is None else based_on.get(_W + "val"),
        )
        if style.get(_W + "default") in ("1", "true", "on"):
            default = style_id

    def is_heading(style_id: str, seen: frozenset[str]) -> bool:
        name, level, based_on = own[style_id]
        if _HEADING_STYLE_NAMES.fullmatch(name):
            return True
        if level >= 0:
            return level < _BODY_TEXT_LEVEL
        return based_on in own and based_on not in seen and is_heading(based_on, seen | {style_id})

    return frozenset(s for s in own if is_heading(s, frozenset())), default


@dataclass
class _Line:
    """A paragraph's text as it is read, the page its text starts on, and its floating text boxes."""

    parts: list[str] = field(default_factory=list)
    page: int | None = None
    boxes: list[_Element] = field(default_factory=list)


@dataclass(frozen=True)
class _Cell:
    column: int  # the first grid column it covers
    span: int
    text: str


@dataclass(frozen=True)
class _Row:
    cells: list[_Cell]
    page: int | None
    is_header: bool


class _Reader:
    def __init__(self, parts: dict[str, _Element]) -> None:
        self._parts = parts
        self._headings, self._default_style = _heading_styles(parts.get("styles"))
        body = parts["document"].find(_W + "body")
        self._body = parts["document"] if body is None else body
        # Like unstructured: page numbers only where Word left its rendered page breaks.
        has_pages = next(self._body.iter(_W + "lastRenderedPageBreak"), None) is not None
        self._page = 1 if has_pages else None
        self._notes: dict[tuple[str, str], int] = {}

    def elements(self) -> list[TextElement]:
        elements = list(self._blocks(self._body))
        notes = list(self._note_elements())
        if notes:
            elements.append(TextElement(text="Notes", is_title=True))
        return elements + notes

    def _blocks(self, parent: _Element) -> Iterator[TextElement]:
        for block in _within(parent, _BLOCKS):
            yield from self._paragraph(block) if block.tag == _W + "p" else self._table(block)

    def _paragraph(self, paragraph: _Element) -> Iterator[TextElement]:
        line = _Line()
        self._read_inline(paragraph, line, inline_drawing=False)
        text = "".join(line.parts).strip()
        if text:
            yield TextElement(text=text, page=line.page, is_title=self._is_heading(paragraph))
        for box in line.boxes:
            yield from self._blocks(box)

    def _is_heading(self, paragraph: _Element) -> bool:
        properties = paragraph.find(_W + "pPr")
        style = None if properties is None else properties.find(_W + "pStyle")
        style_id = self._default_style if style is None else style.get(_W + "val")
        return style_id in self._headings or 0 <= _outline_level(properties) < _BODY_TEXT_LEVEL

    def _read_inline(self, element: _Element, line: _Line, *, inline_drawing: bool) -> None:
        """Collect the text under `element` into `line`: a text box drawn in the line joins its text,
        a floating one is kept to follow the paragraph."""
        for child in element:
            tag = child.tag
            if tag in _TEXT:
                self._say(line, child.text or "")
            elif tag in _SPACING:
                line.parts.append(_SPACING[tag])
            elif tag == _W + "lastRenderedPageBreak" and self._page is not None:
                self._page += 1
            elif tag in _NOTE_REFERENCES:
                key = (_NOTE_REFERENCES[tag], child.get(_W + "id") or "")
                self._say(line, f"[^{self._notes.setdefault(key, len(self._notes) + 1)}]")
            elif tag == _W + "txbxContent":
                if inline_drawing:
                    self._say(line, " " + " ".join(e.text for e in self._blocks(child)) + " ")
                else:
                    line.boxes.append(child)
            elif tag == _ALTERNATIVES:
                if (branch := _chosen(child)) is not None:
                    self._read_inline(branch, line, inline_drawing=inline_drawing)
            elif tag not in _DELETED:
                self._read_inline(child, line, inline_drawing=inline_drawing or tag == _WP + "inline")

    def _say(self, line: _Line, text: str) -> None:
        line.parts.append(text)
        if line.page is None and text.strip():
            line.page = self._page

    def _table(self, table: _Element) -> Iterator[TextElement]:
        """One element a row: the header rows' cells joined with " | ", then each cell of a row after
        its column's header ("Header: cell; ..."); a table without a header row joins every row's
        cells with " | ". Nested tables stay inside their cell's text; a merged cell is read once."""
        rows = [self._row(row) for row in _within(table, _ROWS)]
        headers = next((i for i, row in enumerate(rows) if not row.is_header), len(rows))
        if not headers and len(rows) > 1 and _first_row_is_header(table, rows[0]):
            headers = 1
        labels = _column_labels(rows[:headers])
        for index, row in enumerate(rows):
            cells = [cell for cell in row.cells if cell.text]
            if index < headers or not labels:
                text = " | ".join(cell.text for cell in cells)
            else:
                text = "; ".join(_labelled(cell, labels) for cell in cells)
            if text:
                yield TextElement(text=text, page=row.page)

    def _row(self, row: _Element) -> _Row:
        column = _number(row.find(f"{_W}trPr/{_W}gridBefore"), 0)
        cells, page = [], None
        for cell in _within(row, _CELLS):
            span = max(1, _number(cell.find(f"{_W}tcPr/{_W}gridSpan"), 1))
            elements = list(self._blocks(cell))
            if page is None:
                page = next((e.page for e in elements if e.page is not None), None)
            cells.append(_Cell(column, span, " ".join(" ".join(e.text.split()) for e in elements)))
            column += span
        return _Row(cells, page, is_header=_is_on(row.find(f"{_W}trPr/{_W}tblHeader")))

    def _note_elements(self) -> Iterator[TextElement]:
        """The footnotes and endnotes, numbered in the order the text refers to them."""
        notes: dict[tuple[str, str], _Element] = {
            (kind, note.get(_W + "id") or ""): note
            for kind in ("footnotes", "endnotes")
            if kind in self._parts
            for note in self._parts[kind].iter(_W + kind[:-1])
        }
        for key, number in list(self._notes.items()):
            note = notes.get(key)
            text = "" if note is None else " ".join(e.text for e in self._blocks(note))
            if text:
                yield TextElement(text=f"[^{number}]: {text}")


def _first_row_is_header(table: _Element, row: _Row) -> bool:
    """Word formats a table's first row as a header unless told not to (w:tblLook): such a row is
    taken for the header when its cells are short."""
    look = table.find(f"{_W}tblPr/{_W}tblLook")
    if look is None:
        return False
    first_row = look.get(_W + "firstRow")
    if first_row is not None:
        formatted = first_row in ("1", "true", "on")
    else:
        value = look.get(_W + "val", "")
        formatted = bool(re.fullmatch(r"[0-9A-Fa-f]{1,4}", value)) and bool(int(value, 16) & _FIRST_ROW_LOOK)
    short = all(len(cell.text.split()) <= _HEADER_MAX_WORDS for cell in row.cells)
    return formatted and short and any(cell.text for cell in row.cells)


def _column_labels(header_rows: list[_Row]) -> dict[int, list[str]]:
    """Each grid column's header texts, from the top header row down."""
    labels: dict[int, list[str]] = {}
    for row in header_rows:
        for cell in row.cells:
            for column in range(cell.column, cell.column + cell.span):
                if cell.text and cell.text not in labels.setdefault(column, []):
                    labels[column].append(cell.text)
    return labels


def _labelled(cell: _Cell, labels: dict[int, list[str]]) -> str:
    columns = range(cell.column, cell.column + cell.span)
    header = " / ".join(dict.fromkeys(label for column in columns for label in labels.get(column, [])))
    return f"{header}: {cell.text}" if header else cell.text


def _number(element: _Element | None, default: int) -> int:
    value = "" if element is None else element.get(_W + "val", "")
    return int(value) if value.isdigit() else default
