"""Safe image and audio loading: accepted formats, limits, corrupt and hostile files.

All media are generated in-process (tmp_path or bytes) and are deterministic.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from core.config import Limits
from core.errors import InputError
from retrieval.media import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, load_audio, load_image

LIMITS = Limits()


def _gradient(width: int = 64, height: int = 48) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), np.full_like(x, 90)], -1)
    return Image.fromarray(rgb.astype(np.uint8), mode="RGB")


def _encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR declares `width` x `height`: a decompression bomb, by its header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def test_extension_constants() -> None:
    assert {".png", ".jpg", ".jpeg", ".webp"} <= IMAGE_EXTENSIONS
    assert {".wav", ".mp3", ".ogg", ".flac"} <= AUDIO_EXTENSIONS


# --- images -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp"), ("BMP", ".bmp")]
)
def test_valid_images_load_as_rgb(tmp_path: Path, fmt: str, suffix: str) -> None:
    original = _gradient()
    path = tmp_path / f"picture{suffix}"
    path.write_bytes(
        _encoded(original, fmt, quality=95) if fmt in ("JPEG", "WEBP") else _encoded(original, fmt)
    )
    image = load_image(path, LIMITS)
    assert image.mode == "RGB" and image.size == (64, 48)
    difference = np.abs(np.asarray(image, dtype=np.int16) - np.asarray(original, dtype=np.int16))
    assert difference.mean() < 4  # lossless, or close for JPEG/WEBP at quality 95


def test_gif_gives_first_frame() -> None:
    red, blue = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    data = _encoded(red, "GIF", save_all=True, append_images=[blue])
    image = load_image(data, LIMITS)
    assert image.mode == "RGB" and image.getpixel((4, 4)) == (255, 0, 0)


def test_transparency_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    rgba.putpixel((0, 0), (10, 20, 30, 255))
    image = load_image(_encoded(rgba, "PNG"), LIMITS)
    assert image.getpixel((0, 0)) == (10, 20, 30)
    assert image.getpixel((3, 3)) == (255, 255, 255)


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = _encoded(_gradient(64, 48), "JPEG", exif=exif.tobytes())
    assert load_image(data, LIMITS).size == (48, 64)


def test_random_bytes_are_rejected() -> None:
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(InputError, match="upload.bin: not a supported image"):
        load_image(noise, LIMITS, name="upload.bin")


def test_text_file_named_png_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n")
    with pytest.raises(InputError, match="notes.png: not a supported image"):
        load_image(path, LIMITS)


def test_unsupported_format_is_rejected() -> None:
    with pytest.raises(InputError, match="not a supported image"):
        load_image(_encoded(_gradient(), "TIFF"), LIMITS)


def test_truncated_png_names_file_and_reason(tmp_path: Path) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    data = _encoded(Image.fromarray(noise, mode="RGB"), "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.png: truncated or corrupt PNG"):
        load_image(path, LIMITS)


def test_pixel_bomb_is_refused_from_the_header() -> None:
    bomb = _png_header_only(8_000, 8_000)  # over our 40M default, under Pillow's own threshold
    assert len(bomb) < 200
    with pytest.raises(InputError, match="bomb.png: image is 8000x8000 = 64,000,000 pixels, over the"):
        load_image(bomb, LIMITS, name="bomb.png")
    with pytest.raises(InputError, match="bomb.png: image has too many pixels"):
        load_image(_png_header_only(100_000, 100_000), LIMITS, name="bomb.png")


def test_pillow_bomb_warning_is_an_error_even_with_a_lax_limit() -> None:
    lax = Limits(max_image_pixels=10**12)
    # 100M pixels: Pillow only *warns* (DecompressionBombWarning) between 89M and 179M pixels.
    with pytest.raises(InputError, match="too many pixels"):
        load_image(_png_header_only(10_000, 10_000), lax)


def test_image_over_the_pixel_limit() -> None:
    with pytest.raises(InputError, match="over the 100-pixel limit"):
        load_image(_encoded(_gradient(20, 20), "PNG"), Limits(max_image_pixels=100))


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(_encoded(_gradient(), "PNG"))
    small = Limits(max_file_bytes=100)
    with pytest.raises(InputError, match="big.png: file is .* over the 100-byte limit"):
        load_image(path, small)
    with pytest.raises(InputError, match="over the 100-byte limit"):
        load_image(path.read_bytes(), small)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.jpg: file is empty"):
        load_image(empty, LIMITS)
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "absent.png", LIMITS)


# --- audio --------------------------------------------------------------------------------------


def _tone(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


def _soundfile_bytes(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def _pyav_bytes(samples: np.ndarray, rate: int, container: str, codec: str) -> bytes:
    """Encode mono float samples with FFmpeg (through PyAV), as a browser or phone would."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt,subtype,suffix", [("WAV", "PCM_16", ".wav"), ("FLAC", None, ".flac")])
def test_lossless_soundfile_formats(tmp_path: Path, fmt: str, subtype: str | None, suffix: str) -> None:
    tone = _tone(1.0, 16000)
    path = tmp_path / f"tone{suffix}"
    path.write_bytes(_soundfile_bytes(tone, 16000, fmt, subtype))
    wave = load_audio(path, LIMITS)
    assert wave.sample_rate == 16000 and wave.samples.dtype == np.float32 and wave.samples.ndim == 1
    assert wave.samples.size == 16000
    np.testing.assert_allclose(wave.samples, tone, atol=1e-3)


def test_ogg_vorbis() -> None:
    wave = load_audio(_soundfile_bytes(_tone(1.0, 16000), 16000, "OGG", "VORBIS"), LIMITS)
    assert abs(wave.samples.size - 16000) < 400
    assert abs(_peak_hz(wave.samples, 16000) - 440) < 5


@pytest.mark.parametrize(
    "container,codec,rate",
    [("mp3", "libmp3lame", 44100), ("mp4", "aac", 48000), ("webm", "libopus", 48000)],
    ids=["mp3", "m4a", "webm-opus"],
)
def test_compressed_formats_via_pyav(container: str, codec: str, rate: int) -> None:
    data = _pyav_bytes(_tone(1.0, rate), rate, container, codec)
    wave = load_audio(data, LIMITS, name=f"voice.{container}")
    assert wave.sample_rate == 16000 and wave.samples.dtype == np.float32
    assert 0.95 <= wave.seconds <= 1.15  # codecs add priming/padding samples
    assert abs(_peak_hz(wave.samples, 16000) - 440) < 5
    assert 0.25 < float(np.sqrt(np.mean(wave.samples**2))) < 0.45  # a 0.5-amplitude sine: RMS 0.35


def test_stereo_is_mixed_to_mono() -> None:
    stereo = np.stack([np.full(1600, 0.5, np.float32), np.full(1600, 0.1, np.float32)], axis=1)
    wave = load_audio(_soundfile_bytes(stereo, 16000, "WAV", "FLOAT"), LIMITS)
    assert wave.samples.shape == (1600,)
    np.testing.assert_allclose(wave.samples, 0.3, atol=1e-6)


def test_stereo_mp3_is_mixed_to_mono() -> None:
    buffer = io.BytesIO()
    rate = 44100
    left, right = _tone(1.0, rate, 440.0), _tone(1.0, rate, 440.0)
    with av.open(buffer, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.stack([left, right]), format="fltp", layout="stereo")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    wave = load_audio(buffer.getvalue(), LIMITS)
    assert wave.samples.ndim == 1 and abs(_peak_hz(wave.samples, 16000) - 440) < 5


def test_44k1_is_resampled_to_16k() -> None:
    wave = load_audio(_soundfile_bytes(_tone(1.0, 44100, 1000.0), 44100, "WAV", "PCM_16"), LIMITS)
    assert wave.sample_rate == 16000 and wave.samples.size == 16000
    assert abs(_peak_hz(wave.samples, 16000) - 1000) < 3
    assert (
        load_audio(_soundfile_bytes(_tone(0.5, 8000), 8000, "WAV"), LIMITS, target_rate=8000).samples.size
        == 4000
    )


def test_too_long_audio_names_the_limit(tmp_path: Path) -> None:
    short_limit = Limits(max_audio_seconds=1.0)
    path = tmp_path / "long.wav"
    path.write_bytes(_soundfile_bytes(_tone(2.0, 16000), 16000, "WAV"))
    with pytest.raises(InputError, match="long.wav: audio is longer than the 1-second limit"):
        load_audio(path, short_limit)
    mp3 = _pyav_bytes(_tone(3.0, 44100), 44100, "mp3", "libmp3lame")
    with pytest.raises(InputError, match="longer than the 1-second limit"):
        load_audio(mp3, short_limit)
    assert load_audio(path, Limits(max_audio_seconds=2.5)).samples.size == 32000


def test_zero_length_and_empty_audio() -> None:
    with pytest.raises(InputError, match="no audio samples"):
        load_audio(_soundfile_bytes(np.zeros(0, np.float32), 16000, "WAV"), LIMITS)
    with pytest.raises(InputError, match="file is empty"):
        load_audio(b"", LIMITS, name="mic.webm")


def test_corrupt_and_wrong_audio_is_rejected(tmp_path: Path) -> None:
    noise = np.random.default_rng(2).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(InputError, match="not a supported audio file"):
        load_audio(noise, LIMITS)
    text = tmp_path / "song.wav"
    text.write_text("la la la\n")
    with pytest.raises(InputError, match="song.wav: not a supported audio file"):
        load_audio(text, LIMITS)
    fake_wav = b"RIFF\x24\x00\x00\x00WAVE" + noise
    with pytest.raises(InputError, match="broken.wav"):
        load_audio(fake_wav, LIMITS, name="broken.wav")
    fake_mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + noise
    with pytest.raises(InputError, match="broken.mp3"):
        load_audio(fake_mp3, LIMITS, name="broken.mp3")


def test_oversized_audio_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.flac"
    path.write_bytes(_soundfile_bytes(_tone(1.0, 16000), 16000, "FLAC"))
    with pytest.raises(InputError, match="big.flac: file is .* over the 1,000-byte limit"):
        load_audio(path, Limits(max_file_bytes=1000))
