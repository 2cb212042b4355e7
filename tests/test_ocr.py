"""Tests of screenshot reading: the support-field parser, result assembly, the reader factory, and the
RapidOCR / Tesseract backends, each run through the one `ScreenshotReader` contract
(`tests/contract_screenshot_reader.py`: rendered error dialogs, blank images, the real ABCD screenshot)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from core.config import Settings
from core.errors import ConfigError, InputError, ModelMissingError
from retrieval.ocr.factory import DEFAULT_READER, make_reader
from retrieval.ocr.fields import build_result, normalise_error_code, parse_fields, reading_order
from retrieval.ocr.protocol import OcrLine, OcrOptions, ScreenshotFields, ScreenshotReader, to_rgb
from retrieval.ocr.rapidocr import RapidOcrReader
from retrieval.ocr.tesseract import TesseractReader
from tests.contract_screenshot_reader import FAQ_SCREENSHOT, PRODUCTS, ScreenshotReaderContract

HAS_TESSERACT = shutil.which("tesseract") is not None


# --- error codes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("Error E-42", ("E-42",)),
        ("E42", ("E-42",)),
        ("failed with error 42", ("E-42",)),
        ("Error code: E-042", ("E-42",)),
        ("ERROR CODE E 042 - retry", ("E-42",)),
        ("Err #7", ("E-7",)),
        ("ERR-13 then E-42 then E42 again", ("E-13", "E-42")),
        ("fault code 5", ("E-5",)),
        ("Windows update failed, code 0x80070005", ("0x80070005",)),
        ("error 0x8007000e", ("0x8007000E",)),
        ("HTTP 404", ("HTTP-404",)),
        ("HTTP error 500 at login", ("HTTP-500",)),
        ("status code: 503", ("HTTP-503",)),
        ("Error 404 Not Found", ("HTTP-404",)),
        ("E-61: hub offline. Also E-12.", ("E-61", "E-12")),
    ],
)
def test_error_codes_are_found_and_normalised(text: str, codes: tuple[str, ...]) -> None:
    assert parse_fields(text).error_codes == codes


@pytest.mark.parametrize(
    "text",
    [
        "Zip code 85789",  # a zip code is not an error code
        "Enter promo code 1234",
        "hex 0x80070005 with no label",  # hex only when labelled
        "error on 2024-05-01",  # a date after "error"
        "error at 12:30",  # a time
        "error 4.2.1",  # a version
        "1E42 particles",  # scientific notation
        "0xE42 is a register",
        "There were 42 errors",
        "e42 lowercase without label",
        "Eleven items, 404 apples",
        "Order E-Commerce",
        "Error\n42 items in your cart",  # label and number on different lines
    ],
)
def test_error_code_false_positives(text: str) -> None:
    assert parse_fields(text).error_codes == ()


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("E-42", "E-42"),
        ("e42", "E-42"),
        ("E-042", "E-42"),
        ("E 7", "E-7"),
        ("Error 42", "E-42"),
        ("error code: E-042", "E-42"),
        ("ERR-42", "E-42"),
        ("0x8007000e", "0x8007000E"),
        ("code 0x80070005", "0x80070005"),
        ("HTTP 404", "HTTP-404"),
        ("http-404", "HTTP-404"),
        ("404 Not Found", "HTTP-404"),
        ("  E-0042  ", "E-42"),
    ],
)
def test_normalise_error_code(raw: str, canonical: str) -> None:
    assert normalise_error_code(raw) == canonical


@pytest.mark.parametrize("raw", ["", "hello", "42", "4.2.1", "E-42 and E-43", "X200", "0x12"])
def test_normalise_error_code_rejects_non_codes(raw: str) -> None:
    assert normalise_error_code(raw) is None


# --- versions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "versions"),
    [
        ("Aeris Home 4.2.1", ("4.2.1",)),
        ("app v3.0.1 installed", ("3.0.1",)),
        ("Firmware 2.1.7", ("2.1.7",)),
        ("firmware: 2.1.7 (latest 2.1.8)", ("2.1.7", "2.1.8")),
        ("Version 4.2", ("4.2",)),
        ("ver. 1.10", ("1.10",)),
        ("fw v2.0.3-beta2", ("2.0.3-beta2",)),
        ("Aeris Home 4.2 crashed", ("4.2",)),
        ("V3.0 and v3.0 again", ("3.0",)),
        ("4.2.1 then 4.3.0", ("4.2.1", "4.3.0")),
    ],
)
def test_versions_are_found(text: str, versions: tuple[str, ...]) -> None:
    assert parse_fields(text, PRODUCTS).versions == versions


@pytest.mark.parametrize(
    "text",
    [
        "server 192.168.1.1 unreachable",  # IPv4
        "DNS 8.8.8.8",
        "opened http://192.168.50.1/status",
        "on 2024.05.01",  # dates
        "on 01.05.2024",
        "due 05.11.24",
        "at 12:30:45",  # time
        "total $4.99",  # prices and plain decimals
        "pay 4.20 EUR",
        "rated 4.5 stars",
        "adapter 12 V 1.5 A",  # a measurement after a V
        "Uptime 3 days 04:12",
        "pi is 3.14159",
    ],
)
def test_version_false_positives(text: str) -> None:
    assert parse_fields(text, PRODUCTS).versions == ()


# --- products and quotes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "products"),
    [
        ("My X200 router", ("X200",)),
        ("my x-200 router", ("X200",)),
        ("the x 200", ("X200",)),
        ("AERIS HOME app and aeris-home", ("Aeris Home",)),
        ("Aeris Home on an X200, then the RT-AX88U", ("Aeris Home", "X200", "RT-AX88U")),
        ("needs the AD-12B adapter", ("AD-12B",)),
        ("X2000 is another model", ("X2000",)),  # a model code, not the known X200
    ],
)
def test_products(text: str, products: tuple[str, ...]) -> None:
    assert parse_fields(text, PRODUCTS).products == products


@pytest.mark.parametrize(
    "text",
    [
        "Order AB-1234 shipped",  # order numbers
        "Ticket #XY-9876",
        "Error E-42 and HTTP-404",  # codes are not products
        "TX 85789",
        "the X200000 code is too long",
        "COVID-19",
    ],
)
def test_product_false_positives(text: str) -> None:
    assert parse_fields(text, PRODUCTS).products == ()


def test_short_catalogue_codes_need_their_own_shape() -> None:
    assert parse_fields("the H1 hub and the h-1", ["H1"]).products == ("H1",)
    assert parse_fields("grade h 1 of 5", ["H1"]).products == ()


def test_quoted_messages() -> None:
    text = 'It said "Unable to sync" and then “Device offline”, again "Unable to sync". Also "" and "a"'
    assert parse_fields(text).quoted == ("Unable to sync", "Device offline")


def test_mixed_quotes_as_ocr_reads_them() -> None:
    assert parse_fields('“Unable to sync your devices" and „Hallo Welt“').quoted == (
        "Unable to sync your devices",
        "Hallo Welt",
    )


def test_quote_spanning_a_wrapped_line() -> None:
    assert parse_fields('"Could not reach\nthe hub"').quoted == ("Could not reach the hub",)


def test_fields_are_ordered_by_appearance_and_deterministic() -> None:
    text = "E-61 first, then Error code: E-042, then e-61 in X200 4.3.0 and Aeris Home 4.2.1, again E-61"
    first = parse_fields(text, PRODUCTS)
    assert first == parse_fields(text, list(reversed(PRODUCTS)))
    assert first.error_codes == ("E-61", "E-42")
    assert first.versions == ("4.3.0", "4.2.1")
    assert first.products == ("X200", "Aeris Home")


def test_empty_text_gives_empty_fields() -> None:
    fields = parse_fields("")
    assert fields == ScreenshotFields()
    assert fields.empty


# --- result assembly and value types -----------------------------------------------------------------


def test_build_result_orders_rows_and_weights_confidence_by_characters() -> None:
    lines = [
        OcrLine("Error E-42", 0.5, (10.0, 50.0, 100.0, 70.0)),
        OcrLine("OK", 1.0, (120.0, 52.0, 140.0, 68.0)),
        OcrLine("Aeris Home 4.2.1", 1.0, (10.0, 10.0, 150.0, 30.0)),
        OcrLine("   ", 0.9, (0.0, 0.0, 1.0, 1.0)),
    ]
    result = build_result(lines, "test", PRODUCTS)
    assert result.text == "Aeris Home 4.2.1\nError E-42 OK"
    assert [line.text for line in result.lines] == ["Aeris Home 4.2.1", "Error E-42", "OK"]
    assert result.confidence == pytest.approx((16 * 1.0 + 10 * 0.5 + 2 * 1.0) / 28)
    assert result.fields.error_codes == ("E-42",)
    assert result.fields.versions == ("4.2.1",)
    assert result.engine == "test"


def test_build_result_with_nothing_read() -> None:
    result = build_result([], "test")
    assert (result.text, result.lines, result.confidence, result.empty) == ("", (), 0.0, True)


def test_reading_order_separates_rows() -> None:
    rows = reading_order(
        [
            OcrLine("b", 1.0, (50.0, 0.0, 60.0, 10.0)),
            OcrLine("c", 1.0, (0.0, 30.0, 10.0, 40.0)),
            OcrLine("a", 1.0, (0.0, 2.0, 10.0, 12.0)),
        ]
    )
    assert [[line.text for line in row] for row in rows] == [["a", "b"], ["c"]]


@pytest.mark.parametrize(
    "kwargs",
    [{"confidence": 1.5}, {"confidence": -0.1}, {"confidence": float("nan")}, {"box": (10.0, 0.0, 5.0, 5.0)}],
)
def test_ocr_line_validates(kwargs: dict[str, object]) -> None:
    values: dict[str, object] = {"text": "x", "confidence": 0.5, "box": (0.0, 0.0, 1.0, 1.0), **kwargs}
    with pytest.raises(ValueError):
        OcrLine(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"min_confidence": 1.0}, {"threads": -1}, {"timeout_s": 0}, {"language": "eng; rm -rf"}]
)
def test_ocr_options_validate(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        OcrOptions(**kwargs)  # type: ignore[arg-type]


def test_to_rgb_puts_transparency_over_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert to_rgb(rgba).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("L", (2, 2), 0)).mode == "RGB"
    with pytest.raises(InputError):
        to_rgb(b"not an image")  # type: ignore[arg-type]


def test_factory() -> None:
    assert DEFAULT_READER == "rapidocr"
    assert isinstance(make_reader(Settings()), RapidOcrReader)
    reader = make_reader(Settings(), "Tesseract", known_products=["X200"])
    assert isinstance(reader, TesseractReader)
    assert isinstance(reader, ScreenshotReader)
    assert reader.options.known_products == ("X200",)
    with pytest.raises(ConfigError, match="rapidocr, tesseract"):
        make_reader(Settings(), "easyocr")


# --- engines -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rapid() -> RapidOcrReader:
    reader = RapidOcrReader(OcrOptions(known_products=PRODUCTS))
    reader.load()
    return reader


@pytest.fixture(scope="module")
def tesseract() -> TesseractReader:
    if not HAS_TESSERACT:
        pytest.skip("tesseract binary absent (apt-get install -y tesseract-ocr)")
    reader = TesseractReader(OcrOptions(known_products=PRODUCTS))
    reader.load()
    return reader


class TestRapidOcrContract(ScreenshotReaderContract):
    ENGINE = "rapidocr"

    @pytest.fixture
    def reader(self, rapid: RapidOcrReader) -> RapidOcrReader:
        return rapid


class TestTesseractContract(ScreenshotReaderContract):
    ENGINE = "tesseract"

    @pytest.fixture
    def reader(self, tesseract: TesseractReader) -> TesseractReader:
        return tesseract


def test_rapidocr_loads_bundled_models_without_download(monkeypatch: pytest.MonkeyPatch) -> None:
    from rapidocr.utils import download_file

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("RapidOCR tried to download a model")

    monkeypatch.setattr(download_file.DownloadFile, "run", classmethod(no_download))
    reader = RapidOcrReader()
    reader.load()
    engine = reader._engine
    reader.load()  # safe twice: same engine
    assert reader._engine is engine


def test_rapidocr_missing_models_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="PP-OCRv6_det_small.onnx"):
        RapidOcrReader(model_dir=tmp_path).load()


@pytest.mark.slow
def test_rapidocr_reads_abcd_faq_screenshot(rapid: RapidOcrReader) -> None:
    if not FAQ_SCREENSHOT.is_file():
        pytest.skip("../shared/eval is not present (only in the team's workplace)")
    with Image.open(FAQ_SCREENSHOT) as image:
        result = rapid.read(image.convert("RGB"))
    assert "Silver" in result.text  # also in the contract; RapidOCR reads this screenshot exactly
    assert "benefits" in result.text
    assert "I'm a Silver level member, what" in result.text
    assert result.confidence > 0.9


def test_tesseract_missing_binary_says_how_to_install() -> None:
    with pytest.raises(ModelMissingError, match="apt-get install -y tesseract-ocr"):
        TesseractReader(binary="tesseract-not-installed-here").load()


@pytest.mark.skipif(not HAS_TESSERACT, reason="tesseract binary absent (apt-get install -y tesseract-ocr)")
def test_tesseract_missing_language_says_which_package() -> None:
    with pytest.raises(ModelMissingError, match="tesseract-ocr-xyz"):
        TesseractReader(OcrOptions(language="xyz")).load()
