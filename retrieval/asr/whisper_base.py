"""What the two Whisper backends share: their settings, checked once when built, the loaded flag,
and a clip's samples with the answer for an empty clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.devices import check_precision
from core.models import ModelLocator
from core.types import Waveform
from retrieval.asr.protocol import TranscribeOptions, Transcript, model_name, samples_for_whisper


class WhisperBackend:
    """Base of the Whisper `Transcriber`s: `model` (a size name or a path, checked), the model dir's
    locator, device, precision and `name` ("<backend>:<model>"); a subclass keeps its model in `_model`."""

    def __init__(
        self,
        model: str,
        model_dir: Path | None,
        device: str | None,
        precision: str,
        *,
        backend: str,
        what: str,
    ) -> None:
        self.model = model_name(model, backend, what)
        self.model_dir = model_dir
        self.locator = ModelLocator.of(model_dir)
        self.device = device
        self.precision = check_precision(precision)
        self.name = f"{backend}:{self.model}"

    @property
    def loaded(self) -> bool:
        return getattr(self, "_model", None) is not None

    def clip(
        self, wave: Waveform, options: TranscribeOptions | None
    ) -> tuple[TranscribeOptions, np.ndarray, Transcript | None]:
        """(options, the clip's samples, the transcript already known: an empty one for no samples)."""
        opts = options or TranscribeOptions()
        samples = samples_for_whisper(wave)
        if samples.size == 0:
            empty = Transcript.from_segments(
                (), language=opts.language or "", duration_s=0.0, model=self.name
            )
            return opts, samples, empty
        return opts, samples, None
