"""Hostile and malformed media: every file of a corpus built at test time must end in an `InputError` whose
message names the file or the problem, never in another exception, through each way media comes in:
(a) `InputReader.read(image=/audio=)` (a customer upload), (b) `supportbot search --image/--audio` (exit 1,
one line on stderr), (c) ingestion of a KB folder holding them all beside two good documents (each bad file
in `failed` with a reason, the good ones ingested).

No speech or OCR engine is involved: decoding fails before any engine would run (the readers get none).
Files that must be big (a 50 MB image, a one-hour recording) are written sparse: a header, then truncate().
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from app.cli import main
from app.runtime import open_runtime
from core.config import Limits, Settings
from core.errors import InputError
from retrieval.ingest import IngestReport
from retrieval.media import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS
from retrieval.understand import InputReader

DEFAULT_LIMITS = Limits()

# --- byte builders ---------------------------------------------------------------------------------------


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def _encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height RGB pixels, with (almost) no pixel data behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _png_chunk(b"IEND", b"")
    )


def _png_with_bad_crc() -> bytes:
    """A valid PNG whose first IDAT byte is flipped (its CRC no longer matches)."""
    data = bytearray(_encoded(_noise(48, 48, 3), "PNG"))
    at = data.index(b"IDAT") + 4
    data[at] ^= 0xFF
    return bytes(data)


def _psd() -> bytes:
    """A small, complete Photoshop file (8-bit RGB, raw channels): a real format we do not accept."""
    width, height = 8, 8
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour-mode data, image resources, layers: all empty
    return header + sections + struct.pack(">H", 0) + b"\x80" * (3 * width * height)


def _wav_header(channels: int, rate: int, bits: int, data_bytes: int, fmt_tag: int = 1) -> bytes:
    block = max(channels, 1) * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, (rate * block) & 0xFFFF_FFFF, block, bits)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + (8 + len(fmt)) + (8 + data_bytes))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def _wav(samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


def _random(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).bytes(n)


def _sparse(header: bytes, total: int) -> Callable[[Path], None]:
    """Writes `header` then extends the file with zeros to `total` bytes without writing them."""

    def write(path: Path) -> None:
        with path.open("wb") as fh:
            fh.write(header)
            fh.truncate(total)

    return write


def _bytes(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


# 4200 x 4200 black 24-bit BMP: 17.6 megapixels (under the pixel limit), 52.9 MB (over the byte limit).
_BMP_SIDE = 4200
_BMP_PIXELS = _BMP_SIDE * _BMP_SIDE * 3
_BMP_HEADER = b"BM" + struct.pack(
    "<IHHIIiiHHIIiiII",
    54 + _BMP_PIXELS,
    0,
    0,
    54,
    40,
    _BMP_SIDE,
    _BMP_SIDE,
    1,
    24,
    0,
    _BMP_PIXELS,
    2835,
    2835,
    0,
    0,
)
# One hour of silence, 4 kHz 16-bit mono: 28.8 MB (under the byte limit), 3600 s (over the 600 s limit).
_HOUR_BYTES = 3600 * 4000 * 2


# --- the corpus ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """One hostile file: how to write it, how it is handed in, and what its error message must say."""

    name: str
    media: Literal["image", "audio"]
    write: Callable[[Path], None]
    expect: str  # regex, searched case-insensitively in the message
    limits: Limits = DEFAULT_LIMITS

    @property
    def default_limits(self) -> bool:
        """The CLI and the ingestion test run with the default limits; other cases are reader-only."""
        return self.limits == DEFAULT_LIMITS


_NOT_IMAGE = r"not a supported image"
_NOT_AUDIO = r"not a supported audio file"
_BAD_AUDIO = r"corrupt|unreadable|no audio|invalid sample rate|no samples"

CORPUS: tuple[Bad, ...] = (
    # images
    Bad("random_bytes.png", "image", _bytes(_random(4096, 1)), _NOT_IMAGE),
    Bad("empty.png", "image", _bytes(b""), r"file is empty"),
    Bad("truncated.png", "image", _bytes(_encoded(_noise(64, 64, 1), "PNG")[:1500]), r"truncated or corrupt"),
    Bad(
        "truncated.jpg", "image", _bytes(_encoded(_noise(96, 96, 2), "JPEG")[:2000]), r"truncated or corrupt"
    ),
    Bad("bad_crc.png", "image", _bytes(_png_with_bad_crc()), r"truncated or corrupt|corrupt image"),
    Bad("notes_renamed.png", "image", _bytes(b"Dear support,\nmy router is broken.\n" * 20), _NOT_IMAGE),
    Bad(
        "page.jpg",
        "image",
        _bytes(b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>"),
        _NOT_IMAGE,
    ),
    Bad("bomb_100k.png", "image", _bytes(_png_declaring(100_000, 100_000)), r"too many pixels"),
    Bad(
        "zero_width.png",
        "image",
        _bytes(_png_declaring(0, 64)),
        r"not a supported image|corrupt image header|no pixels",
    ),
    Bad("huge_black.bmp", "image", _sparse(_BMP_HEADER, 54 + _BMP_PIXELS), r"over the .*52,428,800"),
    Bad("layers.psd", "image", _bytes(_psd()), _NOT_IMAGE),
    Bad("scan.tiff", "image", _bytes(_encoded(_noise(16, 16, 4), "TIFF")), _NOT_IMAGE),
    Bad("favicon.ico", "image", _bytes(_encoded(_noise(32, 32, 5), "ICO")), _NOT_IMAGE),
    Bad("tiff_renamed.png", "image", _bytes(_encoded(_noise(16, 16, 6), "TIFF")), _NOT_IMAGE),
    Bad(
        "logo.svg",
        "image",
        _bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>'),
        _NOT_IMAGE,
    ),
    Bad(
        "noise_300k.png",
        "image",
        _bytes(_encoded(_noise(320, 320, 7), "PNG")),
        r"100,000-byte limit",
        Limits(max_file_bytes=100_000),
    ),
    # audio
    Bad("picture.wav", "audio", _bytes(_encoded(_noise(16, 16, 8), "PNG")), _NOT_AUDIO),
    Bad("empty.flac", "audio", _bytes(b""), r"file is empty"),
    Bad("header_only.flac", "audio", _bytes(b"fLaC\x00\x00\x00\x22" + b"\x00" * 10), _BAD_AUDIO),
    Bad("garbage.mp3", "audio", _bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + _random(2048, 9)), _BAD_AUDIO),
    Bad("garbage.ogg", "audio", _bytes(b"OggS" + _random(1024, 10)), _BAD_AUDIO),
    Bad("garbage.m4a", "audio", _bytes(b"\x00\x00\x00\x18ftypM4A " + _random(1024, 11)), _BAD_AUDIO),
    Bad("garbage.webm", "audio", _bytes(b"\x1a\x45\xdf\xa3" + _random(1024, 12)), _BAD_AUDIO),
    Bad("page.mp3", "audio", _bytes(b"<html><body>not a song</body></html>"), _NOT_AUDIO),
    Bad("zero_rate.wav", "audio", _bytes(_wav_header(1, 0, 16, 3200) + b"\x00" * 3200), _BAD_AUDIO),
    Bad(
        "absurd_rate.wav",
        "audio",
        _bytes(_wav_header(1, 0xFFFF_FFF0, 16, 3200) + b"\x00" * 3200),
        _BAD_AUDIO,
    ),
    Bad("zero_channels.wav", "audio", _bytes(_wav_header(0, 16_000, 16, 3200) + b"\x00" * 3200), _BAD_AUDIO),
    Bad("no_samples.wav", "audio", _bytes(_wav_header(1, 16_000, 16, 0)), _BAD_AUDIO),
    Bad(
        "one_hour_silence.wav",
        "audio",
        _sparse(_wav_header(1, 4000, 16, _HOUR_BYTES), 44 + _HOUR_BYTES),
        r"longer than the 600-second limit",
    ),
    Bad(
        "ten_seconds.wav",
        "audio",
        _bytes(_wav(np.zeros(160_000, dtype=np.float32), 16_000)),
        r"longer than the 2-second limit",
        Limits(max_audio_seconds=2.0),
    ),
)
SHARED = tuple(case for case in CORPUS if case.default_limits)


def _check_message(message: str, case: Bad) -> None:
    assert case.name in message, f"{case.name}: the message does not name the file: {message!r}"
    assert re.search(case.expect, message, re.IGNORECASE), f"{case.name}: unexpected reason: {message!r}"


# --- (a) the input reader --------------------------------------------------------------------------------


def test_corpus_is_big_and_named_uniquely() -> None:
    assert len(CORPUS) >= 20
    assert len({c.name for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_input_reader_refuses_with_an_input_error(case: Bad, tmp_path: Path) -> None:
    path = tmp_path / case.name
    case.write(path)
    reader = InputReader(case.limits, transcriber=None, ocr=None)  # decoding must fail before any engine
    with pytest.raises(InputError) as caught:
        if case.media == "image":
            reader.read(image=path)
        else:
            reader.read(audio=path)
    _check_message(str(caught.value), case)


def test_nan_samples_are_sanitised_not_passed_on(tmp_path: Path) -> None:
    """A float WAV full of NaN/inf is not an error: it decodes to silence (they carry no sound)."""
    samples = np.full(8000, np.nan, dtype=np.float32)
    samples[::4] = np.inf
    samples[1::4] = -np.inf
    path = tmp_path / "nan.wav"
    path.write_bytes(_wav(samples, 16_000, subtype="FLOAT"))
    understanding = InputReader(DEFAULT_LIMITS, transcriber=None, ocr=None).read(audio=path)
    assert understanding.query.audio is not None
    decoded = understanding.query.audio.samples
    assert decoded.size > 0 and np.isfinite(decoded).all() and np.abs(decoded).max() <= 1.0
    assert any("no speech recogniser" in note for note in understanding.notes)


# --- (b) and (c): a KB folder of all of them plus two good documents, ingested once ---------------------


GOOD = {
    "guide.md": "---\ntitle: Router reset guide\n---\n# Reset\n\nHold the reset pinhole for 10 seconds.\n",
    "hours.txt": "Support hours\n=============\nProducts: all\n\nWe answer calls Monday to Friday.\n",
}


@dataclass(frozen=True)
class Ingested:
    kb: Path
    data_dir: Path
    report: IngestReport


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    root = tmp_path_factory.mktemp("malformed")
    kb = root / "kb"
    kb.mkdir()
    for case in SHARED:
        case.write(kb / case.name)
    for name, text in GOOD.items():
        (kb / name).write_text(text, encoding="utf-8")
    settings = Settings(data_dir=root / "data", allow_missing_models=True)
    with open_runtime(settings, load_models=False) as runtime:
        report = runtime.ingestor(progress=False).run(kb)
    yield Ingested(kb, settings.data_dir, report)


@pytest.mark.slow
def test_ingestion_reports_every_bad_file_and_keeps_the_good_ones(ingested: Ingested) -> None:
    report = ingested.report
    failed = dict(report.failed)
    assert sorted(failed) == sorted(c.name for c in SHARED)
    for case in SHARED:
        reason = failed[case.name]
        ext = Path(case.name).suffix.lower()
        if ext not in IMAGE_EXTENSIONS | AUDIO_EXTENSIONS:
            assert re.search(r"unsupported file type", reason), (case.name, reason)
        else:
            assert re.search(case.expect, reason, re.IGNORECASE), (case.name, reason)
    assert report.added == len(GOOD)
    assert report.chunks_written >= len(GOOD)


@pytest.fixture
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI must not find ImageBind weights in the user's cache (4.5 GB to load): an empty model dir."""
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("SUPPORTBOT_MODEL_DIR", str(models))


@pytest.mark.slow
@pytest.mark.usefixtures("no_weights")
@pytest.mark.parametrize("case", SHARED, ids=lambda c: c.name)
def test_cli_search_refuses_with_one_line(
    case: Bad, ingested: Ingested, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = "--image" if case.media == "image" else "--audio"
    path = ingested.kb / case.name
    code = main(["search", flag, str(path), "--data-dir", str(ingested.data_dir), "--allow-missing-models"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    # The start-up statement of what runs reduced ("note: reduced mode: ...") comes first; the
    # refusal itself is one line.
    lines = [line for line in err.strip().splitlines() if not line.startswith("note: reduced mode:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("supportbot search: error: ")
    _check_message(lines[0], case)
