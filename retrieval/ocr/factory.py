"""Builds the configured `ScreenshotReader` by name."""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import ConfigError
from retrieval.ocr.protocol import OcrOptions, ScreenshotReader

# RapidOCR is the default: on the benchmark (bench/ocr_compare.py) it read more accurately and recovered
# more fields than Tesseract, needs no system package, and its models ship inside its wheel.
DEFAULT_READER = "rapidocr"
READERS = ("rapidocr", "tesseract")


def make_reader(
    name: str = DEFAULT_READER,
    *,
    known_products: Iterable[str] = (),
    options: OcrOptions | None = None,
) -> ScreenshotReader:
    """A cheap, not yet loaded reader; call `load()` (or just `read()`) to start the engine.

    `known_products` are catalogue names to report in `OcrResult.fields.products`; it is ignored when
    `options` is given (set `options.known_products` instead).
    """
    opts = options or OcrOptions(known_products=tuple(known_products))
    key = name.strip().lower()
    if key == "rapidocr":
        from retrieval.ocr.rapidocr import RapidOcrReader

        return RapidOcrReader(opts)
    if key == "tesseract":
        from retrieval.ocr.tesseract import TesseractReader

        return TesseractReader(opts)
    raise ConfigError(f"unknown OCR engine {name!r}; use one of {', '.join(READERS)}")
