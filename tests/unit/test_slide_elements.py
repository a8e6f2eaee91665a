"""Unit tests of `apps.stream_processors.slide_elements` on decks made here with python-pptx."""

from __future__ import annotations

import io

import pptx as python_pptx
from pptx.util import Inches

from apps.stream_processors.chunking import ChunkingPolicy, TextElement, chunk_elements
from apps.stream_processors.coverage import kept_share
from apps.stream_processors.slide_elements import slide_elements, slide_text
from tests import documents

DECK = (
    ("Emperor penguins", "They breed during the Antarctic winter.\nOn the sea ice.", "Ask who has seen one."),
    ("Incubation", "The male holds the egg on his feet for two months.", ""),
)


def saved(deck: python_pptx.presentation.Presentation) -> bytes:
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def described(elements: list[TextElement]) -> list[tuple[str, int | None, bool]]:
    return [(e.text, e.page, e.is_title) for e in elements]


def test_each_slide_its_title_body_and_notes_on_its_number() -> None:
    assert described(slide_elements(documents.pptx(DECK))) == [
        ("Emperor penguins", 1, True),
        ("They breed during the Antarctic winter.\nOn the sea ice.", 1, False),
        ("Speaker notes: Ask who has seen one.", 1, False),
        ("Incubation", 2, True),
        ("The male holds the egg on his feet for two months.", 2, False),
    ]


def test_chunks_cite_their_slide_and_its_title() -> None:
    chunks = chunk_elements(slide_elements(documents.pptx(DECK)), ChunkingPolicy(size=512, overlap=50))
    assert [(c.page, c.section) for c in chunks] == [(1, "Emperor penguins"), (2, "Incubation")]
    assert "Ask who has seen one." in chunks[0].text


def test_a_slide_without_a_title_is_not_under_the_one_before() -> None:
    elements = slide_elements(
        documents.pptx([("Colonies", "Thousands of birds.", ""), ("", "No title here.", "")])
    )
    assert described(elements)[2:] == [("Slide 2", 2, True), ("No title here.", 2, False)]


def test_text_boxes_groups_and_tables() -> None:
    deck = python_pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank
    slide.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1)).text_frame.text = "A free text box."
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(2), Inches(4), Inches(1)).text_frame.text = "Inside a group."
    table = slide.shapes.add_table(3, 2, Inches(1), Inches(3), Inches(4), Inches(1)).table
    for row, cells in enumerate([("Species", "Height"), ("Emperor", "115 cm"), ("King", "95 cm")]):
        for column, text in enumerate(cells):
            table.cell(row, column).text = text
    plain = slide.shapes.add_table(1, 2, Inches(1), Inches(5), Inches(4), Inches(1)).table
    plain.first_row = False
    plain.cell(0, 0).text, plain.cell(0, 1).text = "Adelie", "70 cm"
    assert described(slide_elements(saved(deck))) == [
        ("Slide 1", 1, True),
        ("A free text box.", 1, False),
        ("Inside a group.", 1, False),
        ("Species | Height", 1, False),
        ("Species: Emperor; Height: 115 cm", 1, False),
        ("Species: King; Height: 95 cm", 1, False),
        ("Adelie | 70 cm", 1, False),
    ]


def test_the_reference_holds_every_slide_and_note_and_the_elements_keep_it() -> None:
    data = documents.pptx(DECK)
    reference = slide_text(data)
    for words in ("Emperor penguins", "On the sea ice.", "Ask who has seen one.", "two months"):
        assert words in reference
    assert kept_share(reference, (e.text for e in slide_elements(data))) == 1.0


def test_the_reference_catches_text_the_elements_miss() -> None:
    data = documents.pptx(DECK)
    kept = [e.text for e in slide_elements(data) if not e.text.startswith("Speaker notes")]
    assert kept_share(slide_text(data), kept) < 1.0
