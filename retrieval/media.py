"""Safe decoding of images and audio, for knowledge-base files and customer uploads alike.

Everything here treats its input as hostile: the byte size is checked before the file is read, only a
fixed list of formats is accepted (identified by content, not by file name), image dimensions are
checked from the header before any pixel is decoded, and audio decoding stops at the duration limit.
Every failure is an `InputError` naming the file and the reason. Audio goes through soundfile for
WAV/FLAC/Ogg and PyAV (FFmpeg) for what browsers record (mp3, m4a/mp4, webm); PyAV always gets the
bytes in memory and an explicit demuxer, so a crafted file cannot make FFmpeg open other files or URLs.
"""

from __future__ import annotations

import io
import itertools
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.config import Limits
from core.errors import InputError
from core.types import Waveform

IMAGE_EXTENSIONS: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"})
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".webm"}
)
IMAGE_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "BMP")

Source = Path | bytes


def _label(source: Source, name: str | None) -> str:
    if name:
        return name
    return source.name if isinstance(source, Path) else "uploaded file"


def _read_bytes(source: Source, limits: Limits, label: str) -> bytes:
    """The file's bytes, refusing before reading anything larger than `limits.max_file_bytes`."""
    limit = limits.max_file_bytes
    if isinstance(source, Path):
        if not source.is_file():
            raise InputError(f"{label}: no such file ({source})")
        size = source.stat().st_size
        if size > limit:
            raise InputError(f"{label}: file is {size:,} bytes, over the {limit:,}-byte limit")
        with source.open("rb") as fh:
            data = fh.read(limit + 1)  # the file may have grown since stat()
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        raise InputError(f"{label}: expected a file path or bytes, got {type(source).__name__}")
    if len(data) > limit:
        raise InputError(f"{label}: file is over the {limit:,}-byte limit")
    if not data:
        raise InputError(f"{label}: file is empty")
    return data


# --- images -------------------------------------------------------------------------------------


def load_image(source: Source, limits: Limits, *, name: str | None = None) -> Image.Image:
    """Decode a PNG/JPEG/WEBP/GIF (first frame)/BMP into an RGB image, within `limits`.

    EXIF orientation is applied (phone photos); transparent areas are composited onto white.
    """
    label = _label(source, name)
    data = _read_bytes(source, limits, label)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS))
        except UnidentifiedImageError:
            raise InputError(
                f"{label}: not a supported image (accepted: {', '.join(IMAGE_FORMATS)})"
            ) from None
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise InputError(f"{label}: image has too many pixels ({exc})") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InputError(f"{label}: corrupt image header ({exc})") from None
        width, height = image.size
        if width <= 0 or height <= 0:
            raise InputError(f"{label}: image has no pixels ({width}x{height})")
        if width * height > limits.max_image_pixels:
            raise InputError(
                f"{label}: image is {width}x{height} = {width * height:,} pixels, over the "
                f"{limits.max_image_pixels:,}-pixel limit"
            )
        try:
            image.load()  # first frame only for GIF/animated WEBP
            return _to_rgb(ImageOps.exif_transpose(image))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise InputError(f"{label}: image has too many pixels ({exc})") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InputError(f"{label}: truncated or corrupt {image.format} image ({exc})") from None


MAX_READ_PIXELS = 8_300_000  # a 4K screenshot (3840x2160); bigger images are downscaled to this first


def downscale(image: Image.Image, max_pixels: int = MAX_READ_PIXELS) -> Image.Image:
    """`image` shrunk (aspect kept) to at most `max_pixels`, before OCR and embedding: a 40 MP photo
    reads no better than a 4K one and costs ten times as much. Smaller images are returned as is."""
    width, height = image.size
    if width * height <= max_pixels:
        return image
    scale = (max_pixels / (width * height)) ** 0.5
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _to_rgb(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


# --- audio --------------------------------------------------------------------------------------

# The container formats PyAV may demux, by magic bytes. Anything else is refused before FFmpeg sees it.
_SOUNDFILE_MAGIC = (b"RIFF", b"fLaC", b"OggS")


def _sniff_container(head: bytes) -> str | None:
    """FFmpeg demuxer name for the accepted audio containers, or None."""
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"  # webm is a matroska profile; the demuxer handles both
    if head[4:8] == b"ftyp":
        return "mov"  # mp4 / m4a / 3gp
    if head.startswith(b"ID3"):
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        layer = (head[1] >> 1) & 0x3
        return "mp3" if layer != 0 else "aac"  # layer bits 00 = ADTS AAC
    return None


def load_audio(
    source: Source, limits: Limits, target_rate: int = 16000, *, name: str | None = None
) -> Waveform:
    """Decode WAV/FLAC/Ogg/MP3/M4A/WebM audio to mono float32 at `target_rate` Hz, within `limits`."""
    label = _label(source, name)
    if target_rate <= 0:
        raise InputError(f"{label}: target sample rate must be positive, got {target_rate}")
    data = _read_bytes(source, limits, label)
    container = _sniff_container(data[:16])
    if container is None:
        raise InputError(f"{label}: not a supported audio file (accepted: wav, flac, ogg, mp3, m4a, webm)")

    samples: np.ndarray | None = None
    rate = 0
    if data.startswith(_SOUNDFILE_MAGIC):
        try:
            samples, rate = _decode_soundfile(data, limits, label)
        except _SoundfileCannot:
            samples = None  # e.g. a WAV with a codec libsndfile lacks: FFmpeg may know it
    if samples is None:
        samples, rate = _decode_pyav(data, container, limits, label)

    if samples.size == 0:
        raise InputError(f"{label}: contains no audio samples")
    # Non-finite samples (a damaged float WAV) carry no sound: they become silence, never a "beep".
    samples = np.clip(np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0)
    if rate != target_rate:
        samples = _resample(samples, rate, target_rate)
    return Waveform(samples=np.ascontiguousarray(samples, dtype=np.float32), sample_rate=target_rate)


class _SoundfileCannot(Exception):
    """libsndfile could not open the data; PyAV gets a try."""


def _too_long(label: str, limits: Limits) -> InputError:
    return InputError(
        f"{label}: audio is longer than the {limits.max_audio_seconds:g}-second limit; trim it or raise "
        "the limit (Limits.max_audio_seconds)"
    )


def _decode_soundfile(data: bytes, limits: Limits, label: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        handle = sf.SoundFile(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise _SoundfileCannot(str(exc)) from exc
    with handle:
        rate = int(handle.samplerate)
        if rate <= 0:
            raise InputError(f"{label}: invalid sample rate {rate}")
        max_frames = int(limits.max_audio_seconds * rate)
        if handle.frames > max_frames:
            raise _too_long(label, limits)
        try:
            block = handle.read(frames=max_frames + 1, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise InputError(f"{label}: corrupt audio ({exc})") from None
    if block.shape[0] > max_frames:
        raise _too_long(label, limits)
    return block.mean(axis=1, dtype=np.float32), rate


def _decode_pyav(data: bytes, container_format: str, limits: Limits, label: str) -> tuple[np.ndarray, int]:
    import av

    try:
        container = av.open(io.BytesIO(data), mode="r", format=container_format)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"{label}: corrupt or unreadable audio ({exc})") from None
    pieces: list[np.ndarray] = []
    total = 0
    rate = 0
    try:
        with container:
            if not container.streams.audio:
                raise InputError(f"{label}: file has no audio track")
            stream = container.streams.audio[0]
            # Planar float keeps channels apart, so mono is a plain mean (as on the soundfile path).
            resampler = av.AudioResampler(format="fltp")
            for frame in itertools.chain(container.decode(stream), [None]):  # None: flush the resampler
                for out in resampler.resample(frame):
                    rate = int(out.sample_rate)
                    planes = out.to_ndarray().astype(np.float32, copy=False)
                    pieces.append(planes.mean(axis=0))
                    total += planes.shape[1]
                    if total > limits.max_audio_seconds * rate:
                        raise _too_long(label, limits)
    except (av.FFmpegError, OSError, ValueError) as exc:
        if not pieces:
            raise InputError(f"{label}: corrupt or unreadable audio ({exc})") from None
        # A damaged tail after good audio: keep what decoded, like most players do.
    if total > limits.max_audio_seconds * max(rate, 1):
        raise _too_long(label, limits)
    if not pieces or rate <= 0:
        raise InputError(f"{label}: contains no audio samples")
    return np.concatenate(pieces), rate


def _resample(samples: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    import torch
    from torchaudio.functional import resample

    with torch.inference_mode():
        out = resample(
            torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)), orig_rate, target_rate
        )
    return out.numpy()
