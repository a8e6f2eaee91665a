"""Unit tests of `apps.stream_processors.sheet_elements` on workbooks made here with openpyxl, and CSV."""

from __future__ import annotations

import datetime
import io
import re
import tracemalloc
import zipfile

import openpyxl  # type: ignore[import-untyped]

from apps.stream_processors.chunking import TextElement
from apps.stream_processors.coverage import kept_share
from apps.stream_processors.sheet_elements import csv_elements, decoded, xlsx_elements, xlsx_text
from tests import documents

SALES: dict[str, list[list[object]]] = {
    "Sales": [
        ["Quarterly sales"],
        [],
        ["Region", "Revenue", "Closed"],
        ["North", 120, datetime.datetime(2024, 3, 1)],
        ["South", 95.5, None, "late"],
    ],
    "Raw": [[1, 2.0], [3, 4]],
}


def texts(elements: list[TextElement]) -> list[str]:
    return [e.text for e in elements]


def test_each_sheet_a_title_then_each_row_under_its_header() -> None:
    elements = xlsx_elements(documents.xlsx(SALES))
    assert [(e.text, e.is_title) for e in elements] == [
        ("Sales", True),
        ("Quarterly sales", False),
        ("Region | Revenue | Closed", False),
        ("Region: North; Revenue: 120; Closed: 2024-03-01", False),
        ("Region: South; Revenue: 95.5; late", False),
        ("Raw", True),
        ("1 | 2", False),
        ("3 | 4", False),
    ]


def test_empty_sheets_are_left_out() -> None:
    assert texts(xlsx_elements(documents.xlsx({"Empty": [], "Birds": [["Emperor"]]}))) == ["Birds", "Emperor"]


def _with_dimension(data: bytes, reference: str) -> bytes:
    """The workbook with its first sheet claiming to span `reference`, as some exporters write."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(
                    rb'<dimension ref="[^"]*"', f'<dimension ref="{reference}"'.encode(), content
                )
            target.writestr(entry, content)
    return buffer.getvalue()


def test_a_sheet_claiming_the_whole_grid_is_read_as_stored() -> None:
    data = _with_dimension(
        documents.xlsx({"Birds": [["Species", "Height"], ["Emperor", 115]]}), "A1:XFD1048576"
    )
    assert texts(xlsx_elements(data)) == ["Birds", "Species | Height", "Species: Emperor; Height: 115"]


def test_a_large_sheet_is_streamed() -> None:
    """20,000 rows: in openpyxl's full mode their 60,000 cell objects alone take tens of MiB."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Census")
    sheet.append(["Colony", "Birds", "Year"])
    for row in range(20_000):
        sheet.append([f"Colony {row}", row * 7, 2000 + row % 25])
    buffer = io.BytesIO()
    workbook.save(buffer)
    tracemalloc.start()
    try:
        elements = xlsx_elements(buffer.getvalue())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(elements) == 20_002
    assert elements[-1].text == "Colony: Colony 19999; Birds: 139993; Year: 2024"
    held = sum(len(e.text) for e in elements)
    assert peak < 6 * held + 8 * 1024 * 1024, (peak, held)


def test_the_reference_is_every_string_and_sheet_name_and_the_elements_keep_it() -> None:
    data = documents.xlsx(SALES)
    reference = xlsx_text(data)
    assert reference.split("\n") == [
        "Sales",
        "Raw",
        "Quarterly sales",
        "Region",
        "Revenue",
        "Closed",
        "North",
        "South",
        "late",
    ]
    assert kept_share(reference, texts(xlsx_elements(data))) == 1.0


def test_the_reference_reads_inline_strings_and_not_phonetic_guides() -> None:
    data = documents.xlsx({"Birds": [["Species", "Height"]]})
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "xl/sharedStrings.xml":
                content = content.replace(
                    b"<t>Height</t>", b"<r><t>Hei</t></r><r><t>ght</t></r><rPh><t>guide</t></rPh>"
                )
            if entry.filename == "xl/worksheets/sheet1.xml":
                inline = b'<c r="A2" t="inlineStr"><is><t>Emperor</t></is></c>'
                content = content.replace(
                    b"</row></sheetData>", b'</row><row r="2">' + inline + b"</row></sheetData>"
                )
            target.writestr(entry, content)
    data = buffer.getvalue()
    assert xlsx_text(data).split("\n") == ["Birds", "Species", "Height", "Emperor"]
    assert texts(xlsx_elements(data)) == ["Birds", "Species | Height", "Species: Emperor"]


def test_csv_rows_under_their_header() -> None:
    data = documents.csv_file([["Region", "Revenue"], ["North", "120"], ["South, coast", "95"]])
    assert texts(csv_elements(decoded(data))) == [
        "Region | Revenue",
        "Region: North; Revenue: 120",
        "Region: South, coast; Revenue: 95",
    ]


def test_csv_delimiters_quotes_and_line_breaks_in_cells() -> None:
    data = documents.csv_file([["Species", "Note"], ["Emperor", "tallest;\nheaviest"]], delimiter=";")
    assert texts(csv_elements(decoded(data))) == [
        "Species | Note",
        "Species: Emperor; Note: tallest; heaviest",
    ]
    tabbed = documents.csv_file([["Species", "Height"], ["King", "95"]], delimiter="\t")
    assert texts(csv_elements(decoded(tabbed))) == ["Species | Height", "Species: King; Height: 95"]


def test_a_csv_whose_first_row_holds_numbers_has_no_header() -> None:
    data = documents.csv_file([["2023", "120"], ["2024", "135"]])
    assert texts(csv_elements(decoded(data))) == ["2023 | 120", "2024 | 135"]


def test_csv_in_utf8_with_a_byte_order_mark_and_in_windows_1252() -> None:
    assert decoded("\ufeffCafé,Crème\n".encode()) == "Café,Crème\n"
    assert decoded("Café,Crème\n".encode("cp1252")) == "Café,Crème\n"
