"""Spreadsheets (.xlsx) and CSV -> text elements: a title per sheet, then one element a row, each value
after its column's header ("Region: North; Revenue: 120"), and the workbook's text read apart."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO

import openpyxl  # type: ignore[import-untyped]
from lxml import etree

from apps.stream_processors.chunking import TextElement

_NAMESPACES = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_S = f"{{{_NAMESPACES['s']}}}"
_CSV_DELIMITERS = ",;\t|"


def _row_text(header: Sequence[str], values: Sequence[str]) -> str:
    """A row's non-empty values, each after its column's header where it has one ("Header: value; ...");
    without a header, the values joined with " | "."""
    if not header:
        return " | ".join(v for v in values if v)
    return "; ".join(
        f"{header[i]}: {v}" if i < len(header) and header[i] else v for i, v in enumerate(values) if v
    )


def table_elements(
    rows: Iterable[Sequence[object]], *, has_header: bool | None = None
) -> Iterator[TextElement]:
    """One element a non-empty row. Unless `has_header` says whether there is one, the first row of two
    values or more is the header when it holds only text (no number or date); a row of one value above
    it (a caption) is a line of its own. The header is an element of its own, its cells joined with
    " | ", and labels the rows under it."""
    header: list[str] | None = None if has_header is None else []
    for raw in rows:
        values = [_text(v) for v in raw]
        while values and not values[-1]:
            values.pop()
        if not values:
            continue
        if has_header:
            header, has_header = values, False
            yield TextElement(text=" | ".join(v for v in header if v))
            continue
        if header is None and sum(1 for v in values if v) > 1:
            header = values if all(_is_label(v) for v in raw if v is not None and v != "") else []
            if header:
                yield TextElement(text=" | ".join(v for v in header if v))
                continue
        yield TextElement(text=_row_text(header or [], values))


def xlsx_elements(data: bytes) -> list[TextElement]:
    """Every worksheet, hidden ones too, in the workbook's order: its name as a title, then its rows.
    Read in openpyxl's read-only mode (streamed, never a cell object per cell); formulas give the value
    the workbook last saved for them."""
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        elements: list[TextElement] = []
        for sheet in workbook.worksheets:
            # A sheet's recorded dimensions may claim every column of the grid: read the rows as stored.
            sheet.reset_dimensions()
            rows = list(table_elements(sheet.iter_rows(values_only=True)))
            if rows:
                elements.append(TextElement(text=sheet.title, is_title=True))
                elements.extend(rows)
        return elements
    finally:
        workbook.close()


def xlsx_text(data: bytes) -> str:
    """The workbook's sheet names and every string of its cells (shared, inline and formula results),
    read from its XML: the reference the coverage guard measures the chunks against. Numbers and dates
    are left out, as they are stored (a date is a serial number) unlike they read."""
    pieces: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        with archive.open("xl/workbook.xml") as workbook:
            pieces += [sheet.get("name") or "" for sheet in _iterparse(workbook, _S + "sheet")]
        if "xl/sharedStrings.xml" in names:
            with archive.open("xl/sharedStrings.xml") as strings:
                pieces += [_string(item) for item in _iterparse(strings, _S + "si")]
        for name in names:
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with archive.open(name) as sheet:
                    pieces += [_cell_string(cell) for cell in _iterparse(sheet, _S + "c")]
    return "\n".join(p for p in pieces if p)


def csv_elements(text: str) -> list[TextElement]:
    """The rows of a CSV file, its delimiter (, ; tab or |) the one its first line holds most of."""
    first_line = text.split("\n", 1)[0]
    delimiter = max(_CSV_DELIMITERS, key=first_line.count)
    if not first_line.count(delimiter):
        delimiter = ","
    return list(table_elements(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)))


def decoded(data: bytes) -> str:
    """A text file's characters: UTF-8 (with or without a byte-order mark), else Windows-1252, what
    Excel writes CSV in on Windows."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def _is_label(value: object) -> bool:
    """A header cell holds text, not a number (as CSV spells one) or a date."""
    if not isinstance(value, str):
        return False
    try:
        float(value.replace(",", ""))
    except ValueError:
        return True
    return False


def _iterparse(source: IO[bytes], tag: str) -> Iterator[etree._Element]:
    """The elements `tag` of an XML part, each freed once read, with all that came before it (the rows
    before a cell's): a sheet of a million rows stays small."""
    for _, element in etree.iterparse(
        source, events=("end",), tag=tag, resolve_entities=False, no_network=True
    ):
        yield element
        element.clear(keep_tail=False)
        for node in (element, *element.iterancestors()):
            parent = node.getparent()
            while parent is not None and node.getprevious() is not None:
                del parent[0]


def _string(item: etree._Element) -> str:
    """A shared string's text, without its phonetic guide (`rPh`), which no cell shows."""
    return "".join(str(t) for t in item.xpath("s:t/text() | s:r/s:t/text()", namespaces=_NAMESPACES))


def _cell_string(cell: etree._Element) -> str:
    kind = cell.get("t")
    if kind == "inlineStr":
        item = cell.find(_S + "is")
        return "" if item is None else _string(item)
    if kind == "str":
        return cell.findtext(_S + "v") or ""
    return ""
