"""Device-sound patterns measured from the signal, on clips synthesised in the test."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.config import Limits
from core.types import Waveform
from retrieval import sounds
from retrieval.media import load_audio
from retrieval.understand import InputReader

RATE = 16_000


def _tone(freq: float, seconds: float, end_freq: float | None = None) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    f = np.linspace(freq, end_freq if end_freq else freq, t.size)
    return 0.5 * np.sin(2 * np.pi * np.cumsum(f) / RATE)


def _gap(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE))


def _clip(*parts: np.ndarray, noise: float = 0.0, seed: int = 0) -> Waveform:
    samples = np.concatenate([_gap(0.2), *parts, _gap(0.3)])
    if noise:
        samples = samples + noise * np.random.default_rng(seed).standard_normal(samples.size)
    return Waveform(samples.astype(np.float32), RATE)


CASES = {
    "three short beeps": _clip(_tone(1000, 0.12), _gap(0.1), _tone(1000, 0.12), _gap(0.1), _tone(1000, 0.12)),
    "one long beep": _clip(_tone(800, 2.0), noise=0.05),
    "rising chirp": _clip(_tone(600, 0.7, end_freq=1800)),
    "descending three tones": _clip(_tone(1200, 0.3), _tone(900, 0.3), _tone(600, 0.3)),
    "two-tone siren alarm": _clip(*[_tone(1400 if i % 2 == 0 else 900, 0.25) for i in range(8)]),
    "two short beeps, repeating three times": _clip(
        *[part for _ in range(3) for part in (_tone(1200, 0.1), _gap(0.1), _tone(1200, 0.1), _gap(2.0))]
    ),
}


@pytest.mark.parametrize("expected", sorted(CASES))
def test_patterns_are_described(expected: str) -> None:
    pattern = sounds.analyse(CASES[expected])
    assert pattern is not None
    assert pattern.description.startswith(expected), pattern.description


def test_noise_silence_and_wrong_rate_give_nothing() -> None:
    rng = np.random.default_rng(1)
    assert sounds.analyse(Waveform((0.3 * rng.standard_normal(RATE * 2)).astype(np.float32), RATE)) is None
    assert sounds.analyse(Waveform(np.zeros(RATE, dtype=np.float32), RATE)) is None
    assert sounds.analyse(Waveform(np.zeros(0, dtype=np.float32), RATE)) is None
    assert sounds.analyse(Waveform(CASES["one long beep"].samples, 8000)) is None


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_speech_is_not_taken_for_a_device_sound(tmp_path: Path) -> None:
    wav = tmp_path / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(wav), "my router keeps beeping and the light is red"], check=True, timeout=30
    )
    assert sounds.analyse(load_audio(wav, Limits())) is None


def test_a_voice_note_of_beeps_searches_by_its_pattern() -> None:
    """No transcriber configured (not the subject here): the pattern alone becomes search words."""
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, CASES["three short beeps"].samples, RATE, format="WAV")
    understanding = InputReader(Limits()).read(audio=buf.getvalue(), audio_name="beeps.wav")
    assert understanding.sound == "three short beeps"
    assert "three short beeps" in understanding.query.extra_text
    assert any("heard a device sound: three short beeps" in n for n in understanding.notes)
    assert understanding.to_dict()["sound_pattern"] == "three short beeps"
