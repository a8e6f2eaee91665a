"""Unit tests of `apps.stream_processors.docx_elements` on Word documents made here with python-docx,
with the XML python-docx has no API for (text boxes, content controls, tracked changes, footnotes)
written in as Word writes it."""

from __future__ import annotations

import io
import re
import zipfile

import docx as python_docx
import pytest
from docx.document import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.opc.constants import CONTENT_TYPE, RELATIONSHIP_TYPE
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import parse_xml
from docx.text.paragraph import Paragraph

from apps.stream_processors.chunking import TextElement
from apps.stream_processors.coverage import kept_share
from apps.stream_processors.docx_elements import docx_elements, docx_text
from apps.stream_processors.partitioning import NO_DETECTION, configure_offline
from tests import documents

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NAMESPACES = (
    f'xmlns:w="{W}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    ' xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"'
    ' xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
    ' xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
    ' xmlns:v="urn:schemas-microsoft-com:vml"'
)
BOX = "Huddles turn slowly so that every bird takes its turn on the windy edge."
FOOTNOTE = "Measured at the Pointe Géologie colony in 1999."


def saved(document: Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def add_xml(paragraph: Paragraph, xml: str) -> None:
    """Append a run, or other inline content, written as XML to `paragraph`."""
    paragraph._p.append(parse_xml(re.sub(r"^<([\w:]+)", rf"<\1 {NAMESPACES}", xml, count=1)))


def text_box_run(lines: list[str], *, drawing: str = "anchor") -> str:
    """A run holding a text box as Word writes it: a DrawingML shape, with a VML copy as fallback."""
    content = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in lines)
    box = f"<w:txbxContent>{content}</w:txbxContent>"
    return (
        "<w:r><mc:AlternateContent><mc:Choice Requires='wps'><w:drawing>"
        f"<wp:{drawing}><wp:extent cx='2000000' cy='500000'/><wp:docPr id='7' name='Text Box 7'/>"
        "<a:graphic><a:graphicData uri='http://schemas.microsoft.com/office/word/2010/wordprocessingShape'>"
        f"<wps:wsp><wps:spPr/><wps:txbx>{box}</wps:txbx><wps:bodyPr/></wps:wsp>"
        f"</a:graphicData></a:graphic></wp:{drawing}></w:drawing></mc:Choice>"
        f"<mc:Fallback><w:pict><v:shape><v:textbox>{box}</v:textbox></v:shape></w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r>"
    )


def add_footnote(document: Document, paragraph: Paragraph, text: str) -> None:
    """A footnotes part, as Word writes it (two separators, then the note), and a reference to it."""
    separators = "".join(
        f"<w:footnote w:type='{kind}' w:id='{i}'><w:p><w:r><w:{kind}/></w:r></w:p></w:footnote>"
        for i, kind in ((-1, "separator"), (0, "continuationSeparator"))
    )
    note = (
        "<w:footnote w:id='1'><w:p><w:r><w:footnoteRef/></w:r>"
        f"<w:r><w:t xml:space='preserve'> {text}</w:t></w:r></w:p></w:footnote>"
    )
    blob = f"<w:footnotes xmlns:w='{W}'>{separators}{note}</w:footnotes>".encode()
    part = Part(PackURI("/word/footnotes.xml"), CONTENT_TYPE.WML_FOOTNOTES, blob, document.part.package)
    document.part.relate_to(part, RELATIONSHIP_TYPE.FOOTNOTES)
    add_xml(paragraph, "<w:r><w:footnoteReference w:id='1'/></w:r>")


def add_to_body(document: Document, xml: str) -> None:
    """Block-level XML (a content control...) at the end of the body, before its section properties."""
    document.element.body.insert_element_before(parse_xml(xml), "w:sectPr")


def add_table(document: Document, rows: list[list[str]], *, header: bool = True) -> None:
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    if not header:
        look = table._tbl.tblPr.find(f"{{{W}}}tblLook")
        look.set(f"{{{W}}}firstRow", "0")
        look.set(f"{{{W}}}val", "0480")
    for row, texts in zip(table.rows, rows, strict=True):
        for cell, text in zip(row.cells, texts, strict=True):
            cell.text = text


def penguins() -> bytes:
    """A Word document with something of everything: every test of what it keeps reads this one."""
    document = python_docx.Document()
    document.sections[0].header.paragraphs[0].text = "Penguin Society newsletter, page header"
    document.sections[0].footer.paragraphs[0].text = "Printed on recycled ice"
    document.add_heading("Emperor penguins", level=0)
    document.add_paragraph("Emperor penguins breed during the Antarctic winter, on the sea ice.")
    document.add_heading("Colonies", level=1)
    anchor = document.add_paragraph("A colony huddles against the wind.")
    add_xml(anchor, text_box_run([BOX]))
    document.add_paragraph("krill", style="List Bullet")
    add_table(document, [["Species", "Height"], ["Emperor", "115 cm"], ["King", "95 cm"]])
    document.add_heading("Breeding", level=2)
    fasting = document.add_paragraph("Males fast for ")
    add_xml(fasting, "<w:del w:id='1' w:author='ed'><w:r><w:delText>three</w:delText></w:r></w:del>")
    add_xml(fasting, "<w:ins w:id='2' w:author='ed'><w:r><w:t>four</w:t></w:r></w:ins>")
    add_xml(fasting, "<w:moveFrom w:id='3' w:author='ed'><w:r><w:t> whole</w:t></w:r></w:moveFrom>")
    add_xml(fasting, "<w:r><w:t xml:space='preserve'> months.</w:t></w:r>")
    add_footnote(document, fasting, FOOTNOTE)
    add_to_body(
        document,
        f"<w:sdt xmlns:w='{W}'><w:sdtPr/><w:sdtContent><w:p><w:r>"
        "<w:t>Inside a content control, like a cover page.</w:t></w:r></w:p></w:sdtContent></w:sdt>",
    )
    return saved(document)


def texts(elements: list[TextElement]) -> list[str]:
    return [e.text for e in elements]


def test_headings_and_paragraphs_as_unstructured_reads_them() -> None:
    elements = docx_elements(documents.docx())
    assert [(e.text, e.is_title, e.page) for e in elements] == [
        ("Emperor penguins", True, None),
        ("Emperor penguins breed during the Antarctic winter, on the sea ice.", False, None),
        ("Incubation", True, None),
        ("The male incubates the single egg on his feet for about two months.", False, None),
    ]


def test_every_part_of_the_document_in_reading_order() -> None:
    assert texts(docx_elements(penguins())) == [
        "Emperor penguins",
        "Emperor penguins breed during the Antarctic winter, on the sea ice.",
        "Colonies",
        "A colony huddles against the wind.",
        BOX,
        "krill",
        "Species | Height",
        "Species: Emperor; Height: 115 cm",
        "Species: King; Height: 95 cm",
        "Breeding",
        "Males fast for four months.[^1]",
        "Inside a content control, like a cover page.",
        "Notes",
        f"[^1]: {FOOTNOTE}",
    ]


def test_titles_are_the_headings_and_the_notes() -> None:
    titles = [e.text for e in docx_elements(penguins()) if e.is_title]
    assert titles == ["Emperor penguins", "Colonies", "Breeding", "Notes"]


def test_headings_by_outline_level_and_by_the_styles_they_are_based_on() -> None:
    document = python_docx.Document()
    chapter = document.styles.add_style("Chapter", WD_STYLE_TYPE.PARAGRAPH)
    chapter.base_style = document.styles["Heading 2"]
    document.add_paragraph("A chapter heading", style="Chapter")
    aside = document.styles.add_style("Aside", WD_STYLE_TYPE.PARAGRAPH)
    aside.base_style = document.styles["Heading 1"]
    aside.element.get_or_add_pPr().append(parse_xml(f"<w:outlineLvl xmlns:w='{W}' w:val='9'/>"))
    document.add_paragraph("Looks like a heading, reads as body text", style="Aside")
    outlined = document.add_paragraph("An outline level of its own")
    outlined._p.get_or_add_pPr().append(parse_xml(f"<w:outlineLvl xmlns:w='{W}' w:val='2'/>"))
    body = document.add_paragraph("Body text at outline level 9")
    body._p.get_or_add_pPr().append(parse_xml(f"<w:outlineLvl xmlns:w='{W}' w:val='9'/>"))
    document.add_paragraph("A quote", style="Quote")
    assert [(e.text, e.is_title) for e in docx_elements(saved(document))] == [
        ("A chapter heading", True),
        ("Looks like a heading, reads as body text", False),
        ("An outline level of its own", True),
        ("Body text at outline level 9", False),
        ("A quote", False),
    ]


def test_a_table_without_a_header_row_joins_its_cells() -> None:
    document = python_docx.Document()
    add_table(document, [["Emperor", "115 cm"], ["King", "95 cm"]], header=False)
    assert texts(docx_elements(saved(document))) == ["Emperor | 115 cm", "King | 95 cm"]


def test_a_first_row_of_long_cells_is_no_header() -> None:
    document = python_docx.Document()
    long = "Emperor penguins breed during the Antarctic winter, on the sea ice."
    add_table(document, [[long, "a"], ["King", "95 cm"]])
    assert texts(docx_elements(saved(document))) == [f"{long} | a", "King | 95 cm"]


def test_rows_marked_as_headers_label_the_columns() -> None:
    document = python_docx.Document()
    add_table(document, [["Bird", "Size"], ["Species", "Height"], ["Emperor", "115 cm"]])
    for row in document.tables[0].rows[:2]:
        row._tr.get_or_add_trPr().append(parse_xml(f"<w:tblHeader xmlns:w='{W}'/>"))
    assert texts(docx_elements(saved(document))) == [
        "Bird | Size",
        "Species | Height",
        "Bird / Species: Emperor; Size / Height: 115 cm",
    ]


def test_merged_and_nested_cells_are_read_once() -> None:
    document = python_docx.Document()
    add_table(document, [["Species", "Diet", "Notes"], ["Emperor", "", ""], ["", "", ""]])
    table = document.tables[0]
    table.cell(1, 1).merge(table.cell(1, 2)).text = "krill and fish"
    table.cell(1, 0).merge(table.cell(2, 0))
    table.cell(2, 2).add_table(rows=1, cols=2).rows[0].cells[0].text = "nested cell"
    assert texts(docx_elements(saved(document))) == [
        "Species | Diet | Notes",
        "Species: Emperor; Diet / Notes: krill and fish",
        "Notes: nested cell",
    ]


def test_a_text_box_in_the_line_keeps_its_place() -> None:
    document = python_docx.Document()
    paragraph = document.add_paragraph("Before the box")
    add_xml(paragraph, text_box_run(["boxed"], drawing="inline"))
    add_xml(paragraph, "<w:r><w:t>after it.</w:t></w:r>")
    assert texts(docx_elements(saved(document))) == ["Before the box boxed after it."]


def test_page_numbers_from_the_page_breaks_word_rendered() -> None:
    document = python_docx.Document()
    document.add_paragraph("On the first page.")
    second = document.add_paragraph()
    add_xml(second, "<w:r><w:lastRenderedPageBreak/><w:t>On the second page.</w:t></w:r>")
    add_table(document, [["Species", "Height"], ["Emperor", "115 cm"]])
    assert [(e.text, e.page) for e in docx_elements(saved(document))] == [
        ("On the first page.", 1),
        ("On the second page.", 2),
        ("Species | Height", 2),
        ("Species: Emperor; Height: 115 cm", 2),
    ]


def test_no_page_numbers_without_rendered_page_breaks() -> None:
    assert {e.page for e in docx_elements(penguins())} == {None}


def test_external_entities_are_not_read() -> None:
    document = documents.docx({"Secret": ""})
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(document)) as source, zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                doctype = b'<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/hostname">]>'
                data = data.replace(b"?>", b"?>" + doctype, 1).replace(b">Secret<", b">&secret;<")
            target.writestr(item, data)
    assert "".join(texts(docx_elements(buffer.getvalue()))) == ""
    assert docx_text(buffer.getvalue()).strip() == ""


def test_the_reference_text_holds_the_body_once() -> None:
    reference = docx_text(penguins())
    assert (
        reference.split()
        == (
            "Emperor penguins"
            " Emperor penguins breed during the Antarctic winter, on the sea ice."
            " Colonies A colony huddles against the wind."
            f" {BOX} krill Species Height Emperor 115 cm King 95 cm"
            " Breeding Males fast for four months."
            " Inside a content control, like a cover page."
        ).split()
    )


def test_runs_make_words_and_paragraphs_and_breaks_part_them() -> None:
    document = python_docx.Document()
    paragraph = document.add_paragraph("Pen")
    add_xml(paragraph, "<w:r><w:t>guins</w:t><w:br/><w:t>dive</w:t><w:tab/><w:t>deep</w:t></w:r>")
    document.add_paragraph("and far")
    assert docx_text(saved(document)).split() == ["Penguins", "dive", "deep", "and", "far"]


@pytest.fixture(scope="module")
def unstructured_docx() -> None:
    configure_offline()


@pytest.mark.usefixtures("unstructured_docx")
def test_unstructured_loses_what_this_reads() -> None:
    """The reason for this module: unstructured's `partition_docx` drops the floating text box, the
    content control, the tracked insertion and the footnote, and flattens the table."""
    from unstructured.partition.docx import partition_docx

    data = penguins()
    reference = docx_text(data)
    theirs = [e.text for e in partition_docx(file=io.BytesIO(data), languages=NO_DETECTION)]
    assert kept_share(reference, texts(docx_elements(data))) == 1.0
    assert kept_share(reference, theirs) < 0.85
    assert "Species Height Emperor 115 cm King 95 cm" in theirs
    assert not any(BOX in text or "content control" in text or "four" in text for text in theirs)
