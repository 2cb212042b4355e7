"""Build a `Transcriber` from `Settings` (the one factory convention of `core.registry`).

Backends: "faster-whisper" (default) and "openai-whisper". The model is `settings.asr_model`
(--asr-model, else $SUPPORTBOT_ASR_MODEL, both resolved by `Settings`), else the backend's default
("small" for faster-whisper, "base" for openai-whisper). Nothing is loaded here.
"""

from __future__ import annotations

from core.config import Settings
from core.registry import Registry
from retrieval.asr.faster_whisper import FasterWhisperTranscriber
from retrieval.asr.openai_whisper import OpenAIWhisperTranscriber
from retrieval.asr.protocol import Transcriber

DEFAULT_BACKEND = "faster-whisper"


def _model(settings: Settings) -> dict[str, str]:
    chosen = (settings.asr_model or "").strip()
    return {"model": chosen} if chosen else {}


def _faster_whisper(settings: Settings) -> Transcriber:
    return FasterWhisperTranscriber(
        **_model(settings), model_dir=settings.model_dir, device=settings.device, precision=settings.precision
    )


def _openai_whisper(settings: Settings) -> Transcriber:
    return OpenAIWhisperTranscriber(
        **_model(settings), model_dir=settings.model_dir, device=settings.device, precision=settings.precision
    )


TRANSCRIBERS: Registry[Transcriber] = Registry(
    "speech-recognition backend", {"faster-whisper": _faster_whisper, "openai-whisper": _openai_whisper}
)
BACKENDS = TRANSCRIBERS.names


def make_transcriber(settings: Settings, name: str | None = None) -> Transcriber:
    """A not-yet-loaded transcriber; call `load()` (or just `transcribe()`) on it."""
    return TRANSCRIBERS.build(name or settings.asr_backend, settings)
