"""Build a `Transcriber` by backend name: "faster-whisper" (default) or "openai-whisper".

The model is, in order: the `model` argument (--asr-model NAME_OR_DIR), $SUPPORTBOT_ASR_MODEL, the
backend's default ("small" for faster-whisper, "base" for openai-whisper). Nothing is loaded here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from core.config import ENV_ASR_MODEL
from core.errors import ConfigError
from retrieval.asr.faster_whisper import FasterWhisperTranscriber
from retrieval.asr.openai_whisper import OpenAIWhisperTranscriber
from retrieval.asr.protocol import Transcriber

DEFAULT_BACKEND = "faster-whisper"
BACKENDS = ("faster-whisper", "openai-whisper")


def make_transcriber(
    name: str = DEFAULT_BACKEND,
    model: str | None = None,
    model_dir: Path | None = None,
    device: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Transcriber:
    """A not-yet-loaded transcriber; call `load()` (or just `transcribe()`) on it."""
    backend = name.strip().lower()
    if backend not in BACKENDS:
        raise ConfigError(f"unknown speech-recognition backend {name!r}; use one of {', '.join(BACKENDS)}")
    env = os.environ if env is None else env
    chosen = model.strip() if model and model.strip() else env.get(ENV_ASR_MODEL, "").strip() or None
    if backend == "faster-whisper":
        if chosen is None:
            return FasterWhisperTranscriber(model_dir=model_dir, device=device)
        return FasterWhisperTranscriber(chosen, model_dir=model_dir, device=device)
    if chosen is None:
        return OpenAIWhisperTranscriber(model_dir=model_dir, device=device)
    return OpenAIWhisperTranscriber(chosen, model_dir=model_dir, device=device)
