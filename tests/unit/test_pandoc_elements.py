"""Unit tests of `apps.stream_processors.pandoc_elements`: pandoc's HTML of EPUB, ODT, reStructuredText
and RTF made here with the same pandoc, and the text of EPUB and ODT read apart from it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest

from apps.stream_processors import html_elements
from apps.stream_processors.coverage import kept_share
from apps.stream_processors.pandoc_elements import PandocError, epub_text, odt_text, pandoc_html
from tests import documents

BOOK = """---
title: Penguins of the far south
---

# Emperor penguins

Emperor penguins breed during the Antarctic winter.[^1]

Brood patch
:   A fold of skin that keeps the egg warm.

| Species | Height |
|---------|--------|
| Emperor | 115 cm |

# Incubation

The male holds the egg on his feet for two months.

[^1]: On the sea ice, far from open water.
"""


def texts_of(html: bytes) -> list[str]:
    return [e.text for e in html_elements.elements_of(html_elements.content_of(html, page=False))]


@pytest.mark.parametrize("source_format", ["epub", "odt", "rst"])
def test_headings_definitions_tables_and_notes(source_format: str) -> None:
    texts = texts_of(pandoc_html(documents.pandoc_document(BOOK, source_format), source_format))
    assert "Brood patch" in texts
    assert "A fold of skin that keeps the egg warm." in texts
    assert "Species: Emperor; Height: 115 cm" in texts
    assert "The male holds the egg on his feet for two months." in texts
    assert any(t.startswith("On the sea ice, far from open water.") for t in texts)


def test_rtf_keeps_the_text_and_the_table_without_its_header() -> None:
    texts = texts_of(pandoc_html(documents.pandoc_document(BOOK, "rtf"), "rtf"))
    assert texts[:3] == [
        "Penguins of the far south",
        "Emperor penguins",
        "Emperor penguins breed during the Antarctic winter.",
    ]
    assert "Emperor | 115 cm" in texts  # pandoc's RTF reader knows no header rows


def test_the_title_block_is_kept() -> None:
    assert (
        texts_of(pandoc_html(documents.pandoc_document(BOOK, "epub"), "epub"))[0]
        == "Penguins of the far south"
    )


def test_rst_reads_no_file() -> None:
    source = b"Colonies\n========\n\nThousands of birds.\n\n.. include:: /etc/hostname\n"
    assert texts_of(pandoc_html(source, "rst")) == ["Colonies", "Thousands of birds."]


def test_what_pandoc_cannot_read_fails() -> None:
    with pytest.raises(PandocError, match="pandoc could not read it as epub"):
        pandoc_html(b"PK\x03\x04 not a zip at all", "epub")


@pytest.mark.parametrize(("source_format", "read"), [("epub", epub_text), ("odt", odt_text)])
def test_the_reference_is_read_apart_and_the_html_keeps_it(
    source_format: str, read: Callable[[bytes], str]
) -> None:
    data = documents.pandoc_document(BOOK, source_format)
    reference = read(data)
    for words in ("Brood patch", "115 cm", "two months", "far from open water"):
        assert words in " ".join(reference.split())
    assert kept_share(reference, texts_of(pandoc_html(data, source_format))) == 1.0


def with_content(data: bytes, extra: str) -> bytes:
    """The ODT with `extra` (ODF XML) appended to its body."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "content.xml":
                content = content.replace(b"</office:text>", extra.encode() + b"</office:text>")
            target.writestr(entry, content)
    return buffer.getvalue()


def test_odt_text_boxes_follow_their_anchor_and_comments_are_left_out() -> None:
    data = with_content(
        documents.pandoc_document("Colonies.", "odt"),
        "<text:p>A colony huddles.<draw:frame text:anchor-type='paragraph'><draw:text-box>"
        "<text:p>Huddles turn slowly.</text:p></draw:text-box></draw:frame></text:p>"
        "<draw:frame text:anchor-type='page'><draw:text-box><text:p>A box on the page.</text:p>"
        "</draw:text-box></draw:frame>"
        "<text:p>Counted<office:annotation><dc:creator>ed</dc:creator><text:p>check this</text:p>"
        "</office:annotation> twice<text:s text:c='2'/>over.</text:p>",
    )
    texts = texts_of(pandoc_html(data, "odt"))
    assert texts[-4:] == [
        "A colony huddles.",
        "Huddles turn slowly.",
        "A box on the page.",
        "Counted twice over.",
    ]
    reference = " ".join(odt_text(data).split())
    assert reference.endswith("A colony huddles. Huddles turn slowly. A box on the page. Counted twice over.")
    assert kept_share(odt_text(data), texts) == 1.0
