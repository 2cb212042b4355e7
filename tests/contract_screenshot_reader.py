"""Reusable contract tests every `ScreenshotReader` backend must pass.

Subclass in a `test_*.py` file and provide a `reader` fixture: a loaded reader that knows the products
`PRODUCTS`, and `ENGINE`, the name its results carry:

    class TestMyReaderContract(ScreenshotReaderContract):
        ENGINE = "mine"

        @pytest.fixture
        def reader(self, loaded_reader): return loaded_reader  # module-scoped: engines load once

The inputs are a rendered app error dialog (deterministic), a blank image and, where `../shared` is
present, the real ABCD FAQ screenshot.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from retrieval.ocr.protocol import OcrResult, ScreenshotReader

SHARED_EVAL = Path(__file__).parents[1].parent / "shared" / "eval"
FAQ_SCREENSHOT = SHARED_EVAL / "abcd" / "images" / "faq_screenshot.png"
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
PRODUCTS = ("Aeris Home", "X200")


def _font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONT_CANDIDATES:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    pytest.skip("no DejaVu TTF font (apt-get install -y fonts-dejavu-core)")


def render_error_dialog() -> Image.Image:
    """An app error screen: dark title bar with the app and version, the error code and a message."""
    font = _font(16)
    image = Image.new("RGB", (360, 190), (210, 210, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 350, 180), fill=(245, 245, 245))
    draw.rectangle((10, 10, 350, 44), fill=(52, 58, 64))
    draw.text((22, 18), "Aeris Home 4.2.1", font=font, fill=(255, 255, 255))
    draw.text((22, 64), "Error E-42", font=font, fill=(180, 20, 20))
    draw.text((22, 96), "Could not reach the X200 hub.", font=font, fill=(20, 20, 20))
    draw.text((22, 134), "Try again", font=font, fill=(20, 20, 20))
    return image


def check_dialog(result: OcrResult, engine: str) -> None:
    assert result.engine == engine
    assert "E-42" in result.fields.error_codes
    assert "4.2.1" in result.fields.versions
    assert result.fields.products[:2] == ("Aeris Home", "X200")
    assert "Could not reach" in result.text
    assert 0.8 < result.confidence <= 1.0
    assert all(
        0 <= line.box[0] <= line.box[2] <= 360 and 0 <= line.box[1] <= line.box[3] <= 190
        for line in result.lines
    )


class ScreenshotReaderContract:
    """The behaviour `retrieval.ocr.protocol.ScreenshotReader` promises; subclasses supply `reader`."""

    ENGINE = ""

    @pytest.fixture
    def reader(self) -> ScreenshotReader:
        raise NotImplementedError("subclasses provide a loaded reader that knows PRODUCTS")

    def test_is_a_screenshot_reader_and_loads_twice(self, reader: ScreenshotReader) -> None:
        assert isinstance(reader, ScreenshotReader)
        reader.load()  # safe twice

    def test_reads_error_dialog(self, reader: ScreenshotReader) -> None:
        check_dialog(reader.read(render_error_dialog()), self.ENGINE)

    def test_reads_rgba_input(self, reader: ScreenshotReader) -> None:
        result = reader.read(render_error_dialog().convert("RGBA"))
        assert "E-42" in result.fields.error_codes

    def test_blank_image(self, reader: ScreenshotReader) -> None:
        result = reader.read(Image.new("RGB", (320, 200), "white"))
        assert (result.text, result.lines, result.confidence) == ("", (), 0.0)
        assert result.fields.empty and result.empty

    @pytest.mark.slow
    def test_reads_abcd_faq_screenshot(self, reader: ScreenshotReader) -> None:
        if not FAQ_SCREENSHOT.is_file():
            pytest.skip("../shared/eval is not present (only in the team's workplace)")
        with Image.open(FAQ_SCREENSHOT) as image:
            result = reader.read(image.convert("RGB"))
        assert "Silver" in result.text
        assert "benefits" in result.text
