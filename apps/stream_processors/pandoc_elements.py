"""EPUB, ODT, reStructuredText and RTF -> HTML through the pandoc of the pypandoc-binary wheel (sandboxed:
it reads no file and no URL), and the text of EPUB and ODT read from their own XML, apart from pandoc."""

from __future__ import annotations

import io
import posixpath
import subprocess
import zipfile
from urllib.parse import unquote

import pypandoc  # type: ignore[import-untyped]
from lxml import etree
from lxml.etree import _Element

from apps.stream_processors import html_elements

PANDOC_TIMEOUT = 300.0  # seconds, the parse stage's own default limit
PANDOC_MEMORY = "1g"  # the most heap pandoc may take (its runtime's -M)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
# What pandoc does not read of an ODT, and no reader sees: comments, tracked deletions.
_ODT_NOT_TEXT = (f"{{{_OFFICE}}}annotation", f"{{{_TEXT}}}tracked-changes")
_ODT_SPACING = {f"{{{_TEXT}}}s": " ", f"{{{_TEXT}}}tab": "\t", f"{{{_TEXT}}}line-break": "\n"}
_ODT_BLOCKS = (f"{{{_TEXT}}}p", f"{{{_TEXT}}}h")
# What stands apart from the text around it: a word never runs across the edge of one.
_ODT_APART = frozenset(
    {*_ODT_BLOCKS, f"{{{_TEXT}}}note-citation", f"{{{_TEXT}}}note-body", f"{{{_DRAW}}}frame"}
    | {"{urn:oasis:names:tc:opendocument:xmlns:table:1.0}table-cell"}
)


class PandocError(ValueError):
    """Pandoc could not read the document."""


def pandoc_html(data: bytes, source_format: str) -> bytes:
    """The document as a standalone HTML page (its title block in the body), by pandoc, for
    `html_elements` to read. unstructured's `partition_epub`, `partition_rst` and `partition_rtf` use
    pandoc too, then its `partition_html`, which loses definition lists and table headers (its
    `partition_odt` goes through .docx and `partition_docx`, which flattens tables). Pandoc's ODT
    reader drops text boxes: their paragraphs are moved after their anchor first."""
    if source_format == "odt":
        data = _odt_with_text_boxes_inline(data)
    command = [
        pypandoc.get_pandoc_path(),
        "+RTS",
        f"-M{PANDOC_MEMORY}",
        "-RTS",
        "--sandbox",
        "--standalone",
        f"--from={source_format}",
        "--to=html5",
    ]
    try:
        done = subprocess.run(command, input=data, capture_output=True, timeout=PANDOC_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PandocError(f"pandoc took longer than {PANDOC_TIMEOUT:.0f}s") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", errors="replace").strip()
        raise PandocError(f"pandoc could not read it as {source_format} (exit {done.returncode}): {message}")
    return done.stdout


def epub_text(data: bytes) -> str:
    """The text of every document of the e-book's spine (its reading order), read from its XHTML."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        container = etree.fromstring(archive.read("META-INF/container.xml"), _PARSER)
        rootfile = container.find(f".//{_CONTAINER}rootfile")
        package_path = "" if rootfile is None else rootfile.get("full-path") or ""
        package = etree.fromstring(archive.read(package_path), _PARSER)
        folder = posixpath.dirname(package_path)
        items = {item.get("id"): unquote(item.get("href") or "") for item in package.iter(f"{_OPF}item")}
        names = set(archive.namelist())
        texts = []
        for reference in package.iter(f"{_OPF}itemref"):
            name = posixpath.normpath(posixpath.join(folder, items.get(reference.get("idref"), "")))
            if name in names:
                texts.append(_page_text(archive.read(name)))
    return "\n".join(texts)


def odt_text(data: bytes) -> str:
    """The body text of an OpenDocument text, text boxes and notes included, comments and tracked
    deletions not: paragraphs, headings, cells and notes apart, spaces, tabs and line breaks as written."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = etree.fromstring(archive.read("content.xml"), _PARSER)
    for element in list(root.iter(*_ODT_NOT_TEXT)):
        _remove_keeping_tail(element)
    body = root.find(f"{{{_OFFICE}}}body")
    pieces: list[str] = []
    for event, element in etree.iterwalk(root if body is None else body, events=("start", "end")):
        apart = "\n" if element.tag in _ODT_APART else ""
        if event == "start":
            pieces.append(apart + _ODT_SPACING.get(element.tag, "") * _repeat(element) + (element.text or ""))
        else:
            pieces.append(apart + (element.tail or ""))
    return "".join(pieces)


def _page_text(page: bytes) -> str:
    try:
        return html_elements.text_of(html_elements.content_of(page, page=False))
    except html_elements.EmptyPage:
        return ""


def _repeat(element: _Element) -> int:
    count = element.get(f"{{{_TEXT}}}c", "1")
    return int(count) if count.isdigit() else 1


def _odt_with_text_boxes_inline(data: bytes) -> bytes:
    """The ODT with each text box's paragraphs moved out of its frame to follow the paragraph that
    anchors it, where pandoc reads them."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = etree.fromstring(archive.read("content.xml"), _PARSER)
        boxes = list(root.iter(f"{{{_DRAW}}}text-box"))
        if not boxes:
            return data
        for box in reversed(boxes):  # the innermost first: a box within a box ends up after both
            frame = box.getparent()
            if frame is None:
                continue
            # A frame anchored to the page stands among the paragraphs: its own place is the anchor.
            anchor = next(frame.iterancestors(*_ODT_BLOCKS), frame)
            holder = anchor.getparent()
            if holder is None:
                continue
            position = holder.index(anchor) + 1
            for block in reversed(list(box)):
                holder.insert(position, block)
            _remove_keeping_tail(frame)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as rewritten:
            for entry in archive.infolist():
                content = etree.tostring(root) if entry.filename == "content.xml" else archive.read(entry)
                rewritten.writestr(entry, content)
    return buffer.getvalue()


def _remove_keeping_tail(element: _Element) -> None:
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)
