"""The `ScreenshotReader` role: a screenshot in; its text, per-line boxes and support fields out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from PIL import Image

from core.errors import ConfigError, InputError, ModelOutputError


@dataclass(frozen=True)
class OcrLine:
    """One line of text as read: its confidence in [0, 1] and its box (left, top, right, bottom) in pixels."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        if not (0.0 <= self.confidence <= 1.0) or math.isnan(self.confidence):
            raise ModelOutputError(f"OcrLine confidence must be in [0, 1], got {self.confidence!r}")
        if len(self.box) != 4:
            raise ModelOutputError(f"OcrLine box must be (left, top, right, bottom), got {self.box!r}")
        left, top, right, bottom = self.box
        if right < left or bottom < top:
            raise ModelOutputError(f"OcrLine box {self.box!r} has right < left or bottom < top")

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def centre_y(self) -> float:
        return (self.box[1] + self.box[3]) / 2.0


@dataclass(frozen=True)
class ScreenshotFields:
    """Support fields found in a text, each de-duplicated, in order of first appearance.

    `error_codes` are canonical (`E-42`, `0x80070005`, `HTTP-404`); `versions` bare (`4.2.1`);
    `products` use the known spelling when the name was in the catalogue, else the model code as read.
    """

    error_codes: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    quoted: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.error_codes or self.versions or self.products or self.quoted)

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "error_codes": list(self.error_codes),
            "versions": list(self.versions),
            "products": list(self.products),
            "quoted": list(self.quoted),
        }


@dataclass(frozen=True)
class OcrResult:
    """Everything read from one image.

    `text` is the lines in reading order (a row's boxes joined by a space, rows by newlines);
    `confidence` is the character-weighted mean of the line confidences, 0 when nothing was read.
    """

    text: str
    lines: tuple[OcrLine, ...]
    confidence: float
    fields: ScreenshotFields
    engine: str

    @property
    def empty(self) -> bool:
        return not self.text.strip()


@dataclass(frozen=True)
class OcrOptions:
    """Settings shared by the OCR backends.

    `min_confidence`: lines read with less confidence are dropped. `known_products`: catalogue names
    looked for in the text (see `parse_fields`). `threads`: CPU threads for the engine, 0 = engine default.
    `timeout_s`: the longest one image may take (tesseract runs as a subprocess).
    """

    known_products: tuple[str, ...] = ()
    min_confidence: float = 0.5
    threads: int = 0
    timeout_s: float = 120.0
    language: str = "eng"

    def __post_init__(self) -> None:
        if not (0.0 <= self.min_confidence < 1.0):
            raise ConfigError(f"OCR min_confidence must be in [0, 1), got {self.min_confidence!r}")
        if self.threads < 0:
            raise ConfigError(f"OCR threads must be >= 0 (0 = engine default), got {self.threads!r}")
        if self.timeout_s <= 0:
            raise ConfigError(f"OCR timeout_s must be positive, got {self.timeout_s!r}")
        if not self.language or not all(part.isalnum() or part == "_" for part in self.language.split("+")):
            raise ConfigError(f"OCR language {self.language!r} is not like 'eng' or 'eng+deu'")


MIN_TEXT_SIDE_PX = 8  # no line of text fits in an image thinner than this
MAX_ASPECT = 200  # a 1x20000 strip holds no text; OCR engines fail resizing it


def readable(image: Image.Image) -> bool:
    """False for an image no text could be read from (a few pixels thin, or an absurd strip): the
    backends return "no text" for it instead of handing it to an engine that fails on it."""
    width, height = image.size
    return min(width, height) >= MIN_TEXT_SIDE_PX and max(width, height) <= MAX_ASPECT * min(width, height)


def to_rgb(image: Image.Image) -> Image.Image:
    """The image as RGB; transparent pixels become white (screenshots with alpha are text on nothing)."""
    if not isinstance(image, Image.Image):
        raise InputError(
            f"OCR needs a decoded PIL image, got {type(image).__name__}; use retrieval.media.load_image"
        )
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


@runtime_checkable
class ScreenshotReader(Protocol):
    """Reads the text of a screenshot.

    The constructor is cheap; `load()` loads the engine (weights, binary check) and is safe to call
    twice; `read()` loads on first use if needed. `read` accepts any PIL image (converted to RGB,
    transparency over white) and returns an `OcrResult` whose `fields` are parsed from its text.
    """

    name: str

    def load(self) -> None: ...

    def read(self, image: Image.Image) -> OcrResult: ...
