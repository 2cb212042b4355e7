"""The `Transcriber` role: a decoded 16 kHz mono `Waveform` in, a `Transcript` with a confidence out.

Confidence (in [0, 1]) is derived from the segments the model returns, the same way for every backend:

    confidence = sum_i w_i * exp(avg_logprob_i) * (1 - no_speech_prob_i) / sum_i w_i,   w_i = end_i - start_i

over the segments with non-empty text: `exp(avg_logprob)` is the geometric-mean probability of the
segment's tokens and `(1 - no_speech_prob)` discounts segments the model itself thinks are not speech.
When every segment has zero duration the weights are equal. No speech (no segment with text) gives
text "" and confidence 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from core.errors import ConfigError, InputError, ModelOutputError
from core.types import Waveform

SAMPLE_RATE = 16_000
MAX_BEAM_SIZE = 16
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class Segment:
    """One stretch of recognised speech: times in seconds from the start of the clip."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float

    def __post_init__(self) -> None:
        if (
            not (math.isfinite(self.start) and math.isfinite(self.end))
            or self.start < 0
            or self.end < self.start
        ):
            raise ModelOutputError(
                f"segment times must satisfy 0 <= start <= end, got {self.start}..{self.end}"
            )
        if not 0.0 <= self.no_speech_prob <= 1.0:
            raise ModelOutputError(f"no_speech_prob must be in [0, 1], got {self.no_speech_prob}")
        if math.isnan(self.avg_logprob) or self.avg_logprob > 0:
            raise ModelOutputError(f"avg_logprob must be a log-probability (<= 0), got {self.avg_logprob}")

    @classmethod
    def clamped(
        cls, start: float, end: float, text: str, avg_logprob: float, no_speech_prob: float, duration_s: float
    ) -> Segment:
        """A segment from raw model output, with times clipped to [0, duration_s] and kept ordered and
        the probabilities clipped to their ranges (decoders pad the last window past the clip's end)."""
        lo = min(max(0.0, float(start)), duration_s)
        hi = min(max(lo, float(end)), duration_s)
        logprob = min(0.0, float(avg_logprob)) if math.isfinite(avg_logprob) else -math.inf
        return cls(lo, hi, text.strip(), logprob, min(1.0, max(0.0, float(no_speech_prob))))

    @property
    def score(self) -> float:
        """exp(avg_logprob) * (1 - no_speech_prob), in [0, 1]."""
        return math.exp(self.avg_logprob) * (1.0 - self.no_speech_prob)


def confidence_of(segments: Iterable[Segment]) -> float:
    """Duration-weighted mean of `Segment.score` over segments with text; 0 when there are none."""
    spoken = [s for s in segments if s.text.strip()]
    if not spoken:
        return 0.0
    weights = [s.end - s.start for s in spoken]
    total = sum(weights)
    if total <= 0:
        weights, total = [1.0] * len(spoken), float(len(spoken))
    value = sum(w * s.score for w, s in zip(weights, spoken, strict=True)) / total
    return min(1.0, max(0.0, value))


@dataclass(frozen=True)
class Transcript:
    """What was said in a clip. `model` names the backend and model, e.g. `faster-whisper:tiny.en`."""

    text: str
    language: str
    segments: tuple[Segment, ...]
    confidence: float
    duration_s: float
    model: str

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ModelOutputError(f"transcript confidence must be in [0, 1], got {self.confidence}")
        if self.duration_s < 0:
            raise ModelOutputError(f"transcript duration must be >= 0, got {self.duration_s}")

    @property
    def empty(self) -> bool:
        return not self.text

    @classmethod
    def from_segments(
        cls, segments: Iterable[Segment], *, language: str, duration_s: float, model: str
    ) -> Transcript:
        """Join the segment texts and compute the confidence (see the module docstring)."""
        kept = tuple(segments)
        text = " ".join(t for t in (s.text.strip() for s in kept) if t)
        confidence = confidence_of(kept) if text else 0.0
        return cls(
            text=text,
            language=language,
            segments=kept,
            confidence=confidence,
            duration_s=duration_s,
            model=model,
        )


@dataclass(frozen=True)
class TranscribeOptions:
    """How to transcribe one clip.

    `language`: ISO 639-1 code such as "en", or None to let the model detect it (English-only `.en`
    models always use "en"). `beam_size`: 5 (default) is beam search, which rarely needs Whisper's
    fallback to sampling at a higher temperature, so the same voice note reads the same every time (and
    reads better: tiny.en hears "M10 extender" where greedy decoding hears "M10X10Der" and then samples
    one of several readings); 1 is greedy decoding, a little faster on clear audio. `vad`: skip
    non-speech with a voice-activity detector before decoding (faster-whisper's bundled Silero VAD;
    openai-whisper has none and instead drops windows it judges silent).
    """

    language: str | None = None
    beam_size: int = 5
    vad: bool = True

    def __post_init__(self) -> None:
        if self.language is not None and not _LANGUAGE.match(self.language):
            raise ConfigError(
                f"language {self.language!r} is not a lowercase ISO 639 code such as 'en'; "
                "leave it unset to detect the language"
            )
        if isinstance(self.beam_size, bool) or not 1 <= self.beam_size <= MAX_BEAM_SIZE:
            raise ConfigError(
                f"beam_size must be an integer from 1 to {MAX_BEAM_SIZE}, got {self.beam_size!r}"
            )


def samples_for_whisper(wave: Waveform) -> np.ndarray:
    """The clip as the 1-D float32 16 kHz array Whisper models take; `InputError` if it is not one."""
    if wave.sample_rate != SAMPLE_RATE:
        raise InputError(
            f"audio is {wave.sample_rate} Hz but speech recognition needs {SAMPLE_RATE} Hz mono; decode it "
            f"with retrieval.media.load_audio(..., target_rate={SAMPLE_RATE})"
        )
    samples = np.asarray(wave.samples)
    if samples.ndim != 1:
        raise InputError(f"audio must be mono (1-D samples), got shape {samples.shape}; mix it down first")
    samples = samples.astype(np.float32, copy=False)
    if samples.size and not np.isfinite(samples).all():
        raise InputError("audio contains NaN or infinite samples; the file is corrupt")
    return samples


@runtime_checkable
class Transcriber(Protocol):
    """Speech to text. Constructors are cheap; `load()` loads weights and is safe to call twice;
    `transcribe()` loads on first use if `load()` was not called."""

    name: str

    def load(self) -> None: ...

    def transcribe(self, wave: Waveform, options: TranscribeOptions | None = None) -> Transcript: ...


def model_name(model: str, backend: str, what: str) -> str:
    """A backend's model name or path, stripped; an empty one is a `ConfigError` saying what is expected."""
    if not model or not model.strip():
        raise ConfigError(f"{backend} model must be {what}, got {model!r}")
    return model.strip()
