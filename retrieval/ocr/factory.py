"""Builds the configured `ScreenshotReader` from `Settings` (the factory convention of `core.registry`)."""

from __future__ import annotations

from collections.abc import Iterable

from core.config import Settings
from core.registry import Registry
from retrieval.ocr.protocol import OcrOptions, ScreenshotReader

# RapidOCR is the default: on the benchmark (bench/ocr_compare.py) it read more accurately and recovered
# more fields than Tesseract, needs no system package, and its models ship inside its wheel.
DEFAULT_READER = "rapidocr"


def _rapidocr(settings: Settings, *, options: OcrOptions) -> ScreenshotReader:
    from retrieval.ocr.rapidocr import RapidOcrReader

    return RapidOcrReader(options)


def _tesseract(settings: Settings, *, options: OcrOptions) -> ScreenshotReader:
    from retrieval.ocr.tesseract import TesseractReader

    return TesseractReader(options)


OCR_READERS: Registry[ScreenshotReader] = Registry(
    "OCR engine", {"rapidocr": _rapidocr, "tesseract": _tesseract}
)
READERS = OCR_READERS.names


def make_reader(
    settings: Settings,
    name: str | None = None,
    *,
    known_products: Iterable[str] = (),
    options: OcrOptions | None = None,
) -> ScreenshotReader:
    """A cheap, not yet loaded reader for `name` (default `settings.ocr_engine`); `load()` starts it.

    `known_products` are catalogue names to report in `OcrResult.fields.products`; it is ignored when
    `options` is given (set `options.known_products` instead).
    """
    opts = options or OcrOptions(known_products=tuple(known_products))
    return OCR_READERS.build(name or settings.ocr_engine, settings, options=opts)
