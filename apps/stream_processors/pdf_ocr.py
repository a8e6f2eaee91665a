"""Scanned PDF pages -> their text: pdfium renders a page with images but (almost) no text layer, and
RapidOCR (models inside its wheel) reads its lines (at 3/4 of their width: at full width it joins
words), whose run-together words `ocr_words` then splits."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
import pypdfium2
import pypdfium2.raw as pdfium_c

from apps.stream_processors.ocr_words import separate_words

if TYPE_CHECKING:
    from rapidocr_onnxruntime import RapidOCR

RENDER_DPI = 200
MAX_RENDER_SIDE = 4000  # pixels: a poster-sized page is rendered smaller, not into gigabytes
LINE_WIDTH = 0.75  # the share of its width a line is read at
MIN_TEXT_LAYER_CHARS = 25  # a page number or a stamp in a text layer does not make a page read
MIN_LINE_SCORE = 0.5
# Each parser worker is one process with one OCR thread: as many workers as cores fill the machine.
THREADS = 1


class OcrFailed(Exception):
    """The OCR engine failed on a page: not the same as a page it found no text on."""


@functools.cache
def _engine() -> RapidOCR:
    """RapidOCR with its bundled models, loaded once per process (~0.1 s) when a first page needs it."""
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(intra_op_num_threads=THREADS, inter_op_num_threads=THREADS, use_cls=False)


def is_scanned(page: pypdfium2.PdfPage, text: str) -> bool:
    """A page whose text layer holds (nearly) nothing but that shows an image: a scan to be read."""
    if sum(not c.isspace() for c in text) >= MIN_TEXT_LAYER_CHARS:
        return False
    return next(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]), None) is not None


def render(page: pypdfium2.PdfPage) -> np.ndarray[Any, Any]:
    """The page as an RGB image at `RENDER_DPI`, or smaller where that would exceed `MAX_RENDER_SIDE`."""
    width, height = page.get_size()  # in points, 72 an inch
    scale = min(RENDER_DPI / 72, MAX_RENDER_SIDE / max(width, height, 1.0))
    image: np.ndarray[Any, Any] = page.render(scale=scale).to_numpy()
    return image


def image_lines(image: np.ndarray[Any, Any]) -> list[str]:
    """The lines of text an image shows, top to bottom and left to right (a second column is read
    line by line beside the first, not after it)."""
    import cv2

    engine = _engine()
    # Detection only: the engine's own pass would read the lines at their full width.
    boxes, _ = engine(image, use_cls=False, use_rec=False)
    if not boxes:
        return []
    crops = engine.get_crop_img_list(image, [np.array(box, dtype=np.float32) for box in boxes])
    narrowed = [
        cv2.resize(
            crop, (max(1, round(crop.shape[1] * LINE_WIDTH)), crop.shape[0]), interpolation=cv2.INTER_AREA
        )
        for crop in crops
    ]
    read, _ = engine.text_rec(narrowed)
    return [
        separate_words(text.strip()) for text, score, *_ in read if score >= MIN_LINE_SCORE and text.strip()
    ]


def read_scanned_pages(data: bytes, page_texts: list[str]) -> list[str]:
    """`page_texts` (pdfium's text of each page), with the OCR's lines in place of the text of each
    scanned page that the OCR finds any on. Raises `OcrFailed` naming the page the engine failed on."""
    document = pypdfium2.PdfDocument(data)
    try:
        texts = list(page_texts)
        for index, text in enumerate(page_texts):
            page = document[index]
            try:
                if is_scanned(page, text):
                    lines = image_lines(render(page))
                    texts[index] = "\n".join(lines) if lines else text
            except Exception as exc:  # onnxruntime and OpenCV raise their own errors, and MemoryError
                raise OcrFailed(f"the OCR of page {index + 1} failed: {type(exc).__name__}: {exc}") from exc
            finally:
                page.close()
        return texts
    finally:
        document.close()
