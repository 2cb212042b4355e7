"""Transcription with the reference `openai-whisper` package (PyTorch), the alternative backend.

Weights are never downloaded here. A size name such as "base" or "tiny.en" means the file whisper
itself would download (`base.pt`, `tiny.en.pt`, ...) placed at `<model_dir>/openai-whisper/<file>`;
its sha256 (published in whisper's download URL) is checked before loading. `model` may also be the
path of a `.pt` checkpoint (not checksummed: no published hash), and `model_obj` an already built
`whisper.model.Whisper`. Audio goes to whisper as a float32 array, so no ffmpeg is needed. fp16 is
used only on CUDA (the precision policy of `core.devices`). openai-whisper has no voice-activity
detector: with `vad` on, windows whisper judges silent (no_speech_prob > 0.6 and low log-probability)
are dropped; with it off, nothing is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.checkpoints import sha256_of
from core.config import ENV_ASR_MODEL
from core.devices import best_device, torch_dtype
from core.errors import ChecksumError, ConfigError
from core.models import fail, where_to_keep
from core.types import Waveform
from retrieval.asr.protocol import Segment, TranscribeOptions, Transcript
from retrieval.asr.whisper_base import WhisperBackend

if TYPE_CHECKING:
    from whisper.model import Whisper

SUBDIR = "openai-whisper"
NO_SPEECH_THRESHOLD = 0.6  # whisper's own default
ROLE = "speech"


def _published_models() -> dict[str, str]:
    """Size name -> download URL, from whisper's table (the URL path holds the file's sha256)."""
    import whisper

    return dict(whisper._MODELS)


class OpenAIWhisperTranscriber(WhisperBackend):
    """A `Transcriber` on openai-whisper. Cheap to build; `load()` reads the checkpoint (safe twice)."""

    def __init__(
        self,
        model: str = "base",
        model_dir: Path | None = None,
        device: str | None = None,
        model_obj: Whisper | None = None,
        precision: str = "auto",
    ) -> None:
        super().__init__(
            model, model_dir, device, precision, backend="openai-whisper", what="a size name or a .pt path"
        )
        self._model: Whisper | None = model_obj

    def locate(self) -> Path:
        """The checkpoint file (cheap: not read); `ModelMissingError` when it is absent."""
        return self.checkpoint_path()[0]

    def checkpoint_path(self) -> tuple[Path, str | None]:
        """(the .pt file to load, its published sha256 or None); `ModelMissingError` if it is absent."""
        given = Path(self.model).expanduser()
        if given.is_file():
            return given.absolute(), None
        published = _published_models()
        if self.model not in published:
            if given.suffix == ".pt" or "/" in self.model:
                fail(
                    ROLE,
                    self.model,
                    f"openai-whisper checkpoint {given} does not exist",
                    f"Give the path of a whisper .pt file with {ENV_ASR_MODEL} or --asr-model NAME_OR_DIR",
                )
            raise ConfigError(
                f"unknown openai-whisper model {self.model!r}; use one of {', '.join(published)} "
                "or the path of a .pt checkpoint"
            )
        url = published[self.model]
        filename, sha256 = url.rsplit("/", 1)[1], url.split("/")[-2]
        path = self.locator.path(SUBDIR, filename)
        fix = (
            f"Run `supportbot models download openai-whisper-{self.model}`, or download {url} (sha256 "
            f"{sha256}, MIT licence) and save it as {path}, or point to a .pt file with "
            f"{ENV_ASR_MODEL}=/path/to/file.pt or --asr-model NAME_OR_DIR; {where_to_keep()}; weights are "
            "never downloaded automatically"
        )
        return self.locator.file(ROLE, self.model, [path], fix), sha256

    def load(self) -> None:
        if self._model is not None:
            return
        import whisper

        path, expected = self.checkpoint_path()
        if expected is not None:
            actual = sha256_of(path)
            if actual != expected:
                raise ChecksumError(
                    f"{path}: sha256 is {actual}, expected {expected} for openai-whisper {self.model!r}; the "
                    f"file is corrupt or a different model. Delete it and download {self.model} again."
                )
        device = best_device(self.device)
        try:
            model = whisper.load_model(str(path), device=device)  # a path: whisper does not download
        except (RuntimeError, KeyError, TypeError) as exc:
            fail(
                ROLE,
                self.model,
                f"could not load {path} as an openai-whisper checkpoint ({exc})",
                "Replace it with a complete whisper .pt file",
                cause=exc,
            )
        heads = whisper._ALIGNMENT_HEADS.get(self.model)
        if heads is not None:
            model.set_alignment_heads(heads)
        self._model = model

    def transcribe(self, wave: Waveform, options: TranscribeOptions | None = None) -> Transcript:
        import torch
        import whisper

        opts, samples, known = self.clip(wave, options)
        if known is not None:
            return known
        duration = wave.seconds
        self.load()
        assert self._model is not None
        fp16 = torch_dtype(next(self._model.parameters()).device, self.precision) != torch.float32
        result: dict[str, Any] = whisper.transcribe(
            self._model,
            samples,
            verbose=None,
            language=opts.language,
            beam_size=opts.beam_size if opts.beam_size > 1 else None,
            fp16=fp16,
            no_speech_threshold=NO_SPEECH_THRESHOLD if opts.vad else None,
        )
        segments = tuple(
            Segment.clamped(
                float(s["start"]),
                float(s["end"]),
                str(s["text"]),
                float(s["avg_logprob"]),
                float(s["no_speech_prob"]),
                duration,
            )
            for s in result["segments"]
        )
        return Transcript.from_segments(
            segments,
            language=str(result.get("language") or opts.language or ""),
            duration_s=duration,
            model=self.name,
        )
