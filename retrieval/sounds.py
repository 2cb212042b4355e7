"""Describing a device sound in words: "three short beeps", "rising chirp", "two-tone siren".

Customers record the beeping device as often as they describe it. Beside the ImageBind audio
embedding (which matches recordings when its weights are present), the pattern of tones in a clip
is measured directly from the signal and written as searchable words, for customer voice notes
and KB sound files alike, so the same pattern reads the same on both sides.

Method: a short-time spectrum (32 ms frames, 10 ms hop); a frame is tonal when its strongest
frequency stands far above the frame's median level (robust to background noise); consecutive
tonal frames at a steady or smoothly moving pitch form a tone; tones are counted, timed, grouped
into repeats and compared in pitch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.types import Waveform

FRAME = 512  # 32 ms at 16 kHz
HOP = 160  # 10 ms
PROMINENCE = 12.0  # peak / median magnitude for a tonal frame
MIN_TONE_S = 0.05
MAX_GAP_S = 0.03  # a shorter dropout does not split a tone
GROUP_GAP_S = 0.9  # a longer silence starts a new repeat of the pattern
SHORT_S = 0.35
LONG_S = 0.8
COUNT_WORDS = ("zero", "one", "two", "three", "four", "five", "six")


@dataclass(frozen=True)
class Tone:
    start: float
    end: float
    pitch_start: float
    pitch_end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def pitch(self) -> float:
        return (self.pitch_start + self.pitch_end) / 2


@dataclass(frozen=True)
class SoundPattern:
    tones: tuple[Tone, ...]
    description: str


def _frames(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: dominant frequency (Hz) and whether the frame is tonal."""
    if len(samples) < FRAME:
        return np.zeros(0), np.zeros(0, dtype=bool)
    count = 1 + (len(samples) - FRAME) // HOP
    index = np.arange(FRAME)[None, :] + HOP * np.arange(count)[:, None]
    spectrum = np.abs(np.fft.rfft(samples[index] * np.hanning(FRAME), axis=1))[:, 3:]  # drop < 90 Hz
    peak_bin = spectrum.argmax(axis=1)
    peak = spectrum.max(axis=1)
    median = np.median(spectrum, axis=1) + 1e-9
    loud = peak > 0.05 * peak.max() if peak.size and peak.max() > 0 else np.zeros(count, dtype=bool)
    tonal = (peak / median > PROMINENCE) & loud
    return (peak_bin + 3) * rate / FRAME, tonal


def _tones(freqs: np.ndarray, tonal: np.ndarray) -> list[Tone]:
    """Runs of tonal frames; a dropout shorter than MAX_GAP_S is bridged, a pitch step of more than 12 %
    between tonal frames (even across a dropout) starts a new tone, a smooth glide does not."""
    hop_s = HOP / 16_000
    max_gap = int(MAX_GAP_S / hop_s)
    runs: list[list[int]] = []
    for i in np.flatnonzero(tonal):
        if runs:
            last = runs[-1][-1]
            step = abs(freqs[i] - freqs[last]) / max(freqs[last], 1.0)
            if i - last - 1 <= max_gap and step <= 0.12:
                runs[-1].append(int(i))
                continue
        runs.append([int(i)])
    tones = []
    for run in runs:
        if (run[-1] - run[0] + 1) * hop_s < MIN_TONE_S:
            continue
        quarter = max(1, len(run) // 4)
        head, tail = freqs[run[:quarter]], freqs[run[-quarter:]]
        tones.append(
            Tone(run[0] * hop_s, (run[-1] + 1) * hop_s, float(np.median(head)), float(np.median(tail)))
        )
    return tones


def _device_like(tones: list[Tone]) -> bool:
    """Device sounds hold few distinct steady pitches or one long glide; speech holds many short,
    varied ones."""
    if any(t.seconds >= 0.3 and abs(t.pitch_end / max(t.pitch_start, 1.0) - 1) > 0.25 for t in tones):
        return True
    clusters: list[float] = []
    for tone in tones:
        if abs(tone.pitch_end / max(tone.pitch_start, 1.0) - 1) > 0.08:
            return False  # a wobbling pitch: a voice, not a beeper
        if not any(abs(tone.pitch - c) / c < 0.06 for c in clusters):
            clusters.append(tone.pitch)
    return len(clusters) <= 3 and sum(t.seconds for t in tones) >= 0.1


def _count(n: int, noun: str) -> str:
    word = COUNT_WORDS[n] if n < len(COUNT_WORDS) else "many"
    return f"{word} {noun}{'' if n == 1 else 's'}"


def describe(tones: list[Tone]) -> str:
    """Words for a tone sequence; empty when there are no tones."""
    if not tones:
        return ""
    groups: list[list[Tone]] = [[tones[0]]]
    for prev, tone in zip(tones, tones[1:], strict=False):
        if tone.start - prev.end > GROUP_GAP_S:
            groups.append([])
        groups[-1].append(tone)
    group = groups[0]
    words: list[str] = []
    pitches = [t.pitch for t in group]
    glide = [t.pitch_end / max(t.pitch_start, 1.0) for t in group]
    distinct = sorted({round(p / 50) for p in pitches})
    if any(g > 1.25 for g in glide):
        words.append("rising chirp")
    elif any(g < 0.8 for g in glide):
        words.append("falling sweep")
    elif (
        len(group) >= 4
        and len(distinct) == 2
        and all(abs(a - b) > 0.1 * max(a, b) for a, b in zip(pitches, pitches[1:], strict=False))
    ):
        words.append("two-tone siren alarm, alternating high and low")
    elif len(group) >= 3 and all(b < a * 0.95 for a, b in zip(pitches, pitches[1:], strict=False)):
        words.append(f"descending {_count(len(group), 'tone')}, going down in pitch")
    elif len(group) >= 3 and all(b > a * 1.05 for a, b in zip(pitches, pitches[1:], strict=False)):
        words.append(f"ascending {_count(len(group), 'tone')}, going up in pitch")
    else:
        mean = sum(t.seconds for t in group) / len(group)
        length = "short " if mean < SHORT_S else "long " if mean > LONG_S else ""
        words.append(_count(len(group), f"{length}beep").replace("one ", "one ", 1))
    if len(groups) > 1:
        words.append(f"repeating {_count(len(groups), 'time')}")
    mean_pitch = sum(pitches) / len(pitches)
    words.append("high-pitched" if mean_pitch > 1500 else "low-pitched" if mean_pitch < 500 else "")
    return ", ".join(w for w in words if w)


MIN_SIGNAL_STD = 1e-4  # below this a clip is silence (about -80 dBFS)


def analyse(wave: Waveform) -> SoundPattern | None:
    """The tone pattern of a clip, or None when it holds no clear tones (speech, noise, silence)."""
    if wave.sample_rate != 16_000 or len(wave.samples) == 0:
        return None
    samples = np.nan_to_num(np.asarray(wave.samples, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if float(np.std(samples)) < MIN_SIGNAL_STD:
        return None  # silence or a constant level: no tone, whatever the spectrum's rounding says
    freqs, tonal = _frames(samples, wave.sample_rate)
    tones = _tones(freqs, tonal)
    if not tones or not _device_like(tones):
        return None
    return SoundPattern(tuple(tones), describe(tones))
