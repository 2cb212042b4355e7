"""Synthesised Aeris Home device sounds (beep codes), described in data/kb/troubleshooting/beep-codes.md.

Every pattern takes `pitch` and `tempo` factors so the eval set can re-synthesise them differently from the
KB copies; `render` adds optional noise and writes WAV/FLAC/OGG with soundfile.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16_000


def _tone(freq: float, seconds: float, rate: int, freq_end: float | None = None) -> np.ndarray:
    n = max(1, round(seconds * rate))
    f = np.linspace(freq, freq if freq_end is None else freq_end, n)
    phase = 2.0 * np.pi * np.cumsum(f) / rate
    wave = 0.6 * np.sin(phase) + 0.15 * np.sin(3.0 * phase)  # a little odd harmonic, like a piezo buzzer
    ramp = min(n // 2, round(0.005 * rate))
    env = np.ones(n)
    env[:ramp] = np.linspace(0.0, 1.0, ramp)
    env[n - ramp :] = np.linspace(1.0, 0.0, ramp)
    return wave * env


def _gap(seconds: float, rate: int) -> np.ndarray:
    return np.zeros(max(1, round(seconds * rate)))


def three_short(pitch: float = 1.0, tempo: float = 1.0, rate: int = RATE) -> np.ndarray:
    """Firmware update failed (E-12): three short 1 kHz beeps."""
    parts = [_gap(0.3 / tempo, rate)]
    for _ in range(3):
        parts += [_tone(1000 * pitch, 0.12 / tempo, rate), _gap(0.1 / tempo, rate)]
    return np.concatenate([*parts, _gap(0.4, rate)])


def one_long(pitch: float = 1.0, tempo: float = 1.0, rate: int = RATE) -> np.ndarray:
    """Factory reset started: one 2-second 800 Hz beep."""
    return np.concatenate([_gap(0.3, rate), _tone(800 * pitch, 2.0 / tempo, rate), _gap(0.4, rate)])


def rising_chirp(pitch: float = 1.0, tempo: float = 1.0, rate: int = RATE) -> np.ndarray:
    """Pairing mode (H1, C5): a quick sweep from 500 Hz to 2 kHz."""
    return np.concatenate(
        [_gap(0.3, rate), _tone(500 * pitch, 0.6 / tempo, rate, 2000 * pitch), _gap(0.5, rate)]
    )


def two_repeat(pitch: float = 1.0, tempo: float = 1.0, rate: int = RATE) -> np.ndarray:
    """Overheating (E-73): two short beeps repeated every three seconds."""
    parts: list[np.ndarray] = [_gap(0.2, rate)]
    for _ in range(3):
        beep = [
            _tone(1200 * pitch, 0.1 / tempo, rate),
            _gap(0.1 / tempo, rate),
            _tone(1200 * pitch, 0.1 / tempo, rate),
        ]
        parts += [*beep, _gap(3.0 / tempo - 0.3 / tempo, rate)]
    return np.concatenate(parts)


def descending(pitch: float = 1.0, tempo: float = 1.0, rate: int = RATE) -> np.ndarray:
    """Power supply too weak (E-35): three tones going down, 1200, 900 and 600 Hz."""
    parts = [_gap(0.3, rate)]
    for f in (1200, 900, 600):
        parts += [_tone(f * pitch, 0.25 / tempo, rate), _gap(0.05 / tempo, rate)]
    return np.concatenate([*parts, _gap(0.5, rate)])


def tamper_alarm(pitch: float = 1.0, tempo: float = 1.0, rate: int = RATE) -> np.ndarray:
    """C5 tamper alarm: loud siren alternating 1400 and 900 Hz every quarter second."""
    parts = [_tone(f * pitch, 0.25 / tempo, rate) for _ in range(6) for f in (1400, 900)]
    return np.concatenate(parts) * 1.3


PATTERNS: dict[str, Callable[..., np.ndarray]] = {
    "three_short": three_short,
    "one_long": one_long,
    "rising_chirp": rising_chirp,
    "two_repeat": two_repeat,
    "descending": descending,
    "tamper_alarm": tamper_alarm,
}


def render(
    path: Path,
    pattern: str,
    *,
    pitch: float = 1.0,
    tempo: float = 1.0,
    noise: float = 0.0,
    rate: int = RATE,
    seed: int = 0,
) -> None:
    """Synthesise `pattern`, add white noise (std `noise`), write mono audio in `path`'s format."""
    samples = PATTERNS[pattern](pitch=pitch, tempo=tempo, rate=rate)
    if noise:
        samples = samples + np.random.default_rng(seed).normal(0.0, noise, samples.shape)
    samples = np.clip(samples, -1.0, 1.0).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".ogg":
        sf.write(path, samples, rate, format="OGG", subtype="VORBIS")
        _fix_ogg_serial(path)
    elif suffix == ".flac":
        sf.write(path, samples, rate, format="FLAC", subtype="PCM_16")
    else:
        sf.write(path, samples, rate, format="WAV", subtype="PCM_16")


def _ogg_crc(data: bytes) -> int:
    """The Ogg page CRC-32 (polynomial 0x04C11DB7, no reflection, zero init) computed bit by bit."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _fix_ogg_serial(path: Path, serial: int = 0x41455249) -> None:
    """libsndfile picks a random Ogg stream serial: fix it (and each page CRC) so reruns are identical."""
    data = bytearray(path.read_bytes())
    pos = 0
    while pos + 27 <= len(data) and data[pos : pos + 4] == b"OggS":
        segments = data[pos + 26]
        size = 27 + segments + sum(data[pos + 27 : pos + 27 + segments])
        struct.pack_into("<I", data, pos + 14, serial)
        struct.pack_into("<I", data, pos + 22, 0)
        struct.pack_into("<I", data, pos + 22, _ogg_crc(bytes(data[pos : pos + size])))
        pos += size
    path.write_bytes(bytes(data))
