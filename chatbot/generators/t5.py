"""The T5 generator: a local Flan-T5 (or a `supportbot finetune` output) writes the cited answer.

Weights are only ever read from a local directory (`local_files_only=True`, safetensors only); a
hub name such as "google/flan-t5-base" is looked up as `<model_dir>/flan-t5-base/` and, when the
files are not there, a `ModelMissingError` says what to put where, and what to pass instead. On
CUDA the model runs in bfloat16 (float16 where bf16 is unsupported), on CPU in float32. Greedy
decoding, so the same request gives the same answer; streaming runs `generate` in a worker thread
feeding a `TextIteratorStreamer`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatbot.generators.grounding import DEFAULT_THRESHOLD, finish_answer
from chatbot.generators.prompt import DEFAULT_MAX_TOKENS, PackedPrompt, build_prompt, tokenizer_counter
from chatbot.generators.protocol import Answer, AnswerStream, GenerationRequest
from core.config import ENV_MODEL_DIR
from core.errors import ConfigError, ModelMissingError

DEFAULT_MODEL = "google/flan-t5-base"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER_FILES = ("tokenizer.json", "spiece.model")
STREAM_TIMEOUT_S = 600.0
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _model_root(explicit: Path | None) -> Path:
    """Where weights live: core.checkpoints.model_dir when present, else the same rule privately."""
    try:
        from core.checkpoints import model_dir
    except ImportError:  # pragma: no cover - the module ships with the project; kept for partial installs
        if explicit is not None:
            return Path(explicit).expanduser().absolute()
        from_env = os.environ.get(ENV_MODEL_DIR, "").strip()
        if from_env:
            return Path(from_env).expanduser().absolute()
        import platformdirs

        return platformdirs.user_cache_path("supportbot", appauthor=False) / "models"
    return model_dir(explicit)


def missing_files(directory: Path) -> list[str]:
    """What a model directory lacks: config.json, safetensors weights, tokenizer files."""
    missing: list[str] = []
    if not (directory / "config.json").is_file():
        missing.append("config.json")
    if not any((directory / name).is_file() for name in WEIGHT_FILES):
        note = (
            " (only safetensors weights are loaded; pytorch_model.bin is not)"
            if (directory / "pytorch_model.bin").is_file()
            else ""
        )
        missing.append("model.safetensors" + note)
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        missing.append("tokenizer files (tokenizer.json or spiece.model, with tokenizer_config.json)")
    return missing


def _missing_message(model: str, where: Path, missing: list[str], destination: Path) -> str:
    source = f"https://huggingface.co/{model}" if _HUB_NAME.match(model) else "a Hugging Face T5 checkpoint"
    return (
        f"generator model {model!r} is not on this machine: {where} is missing {', '.join(missing)}. "
        f"Download config.json, model.safetensors and the tokenizer files (tokenizer.json or spiece.model, "
        f"tokenizer_config.json, special_tokens_map.json) from {source} into {destination}/ "
        f"(set {ENV_MODEL_DIR} or --model-dir to keep models elsewhere), or pass --generator-model DIR "
        f"naming a directory that holds them (e.g. the output of `supportbot finetune`). To answer without "
        f"a language model, pass --generator extractive (quotes knowledge-base sentences)."
    )


def resolve_model_path(model: str, model_dir: Path | None = None) -> Path:
    """The local directory holding `model` (a directory, or a hub name under the model dir)."""
    if not model.strip():
        raise ConfigError("generator model is empty: pass a directory or a name such as google/flan-t5-base")
    given = Path(model).expanduser()
    root = _model_root(model_dir)
    if given.is_dir():
        missing = missing_files(given)
        if missing:
            raise ModelMissingError(_missing_message(model, given, missing, given))
        return given.absolute()
    if not _HUB_NAME.match(model):
        raise ModelMissingError(_missing_message(model, given, ["everything (no such directory)"], given))
    candidates = [root / model.split("/")[-1], root / model.replace("/", "--")]
    for candidate in candidates:
        if candidate.is_dir() and not missing_files(candidate):
            return candidate
    first = candidates[0]
    missing = missing_files(first) if first.is_dir() else ["everything (no such directory)"]
    raise ModelMissingError(_missing_message(model, first, missing, first))


class T5Generator:
    """Flan-T5 / fine-tuned T5 answers with [n] citations; `model_obj`/`tokenizer_obj` inject loaded ones."""

    name = "t5"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        model_dir: Path | None = None,
        device: str | None = None,
        max_new_tokens: int = 160,
        model_obj: Any = None,
        tokenizer_obj: Any = None,
        grounding_threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if (model_obj is None) != (tokenizer_obj is None):
            raise ConfigError("pass model_obj and tokenizer_obj together, or neither")
        self.model = model
        self.model_dir = model_dir
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.grounding_threshold = grounding_threshold
        self._model: Any = model_obj
        self._tokenizer: Any = tokenizer_obj
        self._ready = False

    def load(self) -> None:
        if self._ready:
            return
        import torch

        from core.devices import best_device

        device = best_device(self.device)
        dtype = torch.float32
        if device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if self._model is None:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            path = resolve_model_path(self.model, self.model_dir)
            self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self._model = AutoModelForSeq2SeqLM.from_pretrained(
                path, local_files_only=True, use_safetensors=True, dtype=dtype
            )
        self._model.to(device=device, dtype=dtype)
        self._model.eval()
        self._ready = True

    @property
    def max_input_tokens(self) -> int:
        limit = int(getattr(self._tokenizer, "model_max_length", DEFAULT_MAX_TOKENS) or DEFAULT_MAX_TOKENS)
        return min(limit, DEFAULT_MAX_TOKENS)

    def pack(self, request: GenerationRequest) -> PackedPrompt:
        """The exact model input for `request` (loads the tokenizer if needed)."""
        self.load()
        return build_prompt(request, tokenizer_counter(self._tokenizer), self.max_input_tokens)

    def _inputs(self, packed: PackedPrompt) -> dict[str, Any]:
        encoded = self._tokenizer(
            packed.text, return_tensors="pt", truncation=True, max_length=self.max_input_tokens
        )
        device = next(self._model.parameters()).device
        return {key: value.to(device) for key, value in encoded.items()}

    def _generate_kwargs(self) -> dict[str, Any]:
        return {"max_new_tokens": self.max_new_tokens, "do_sample": False, "num_beams": 1}

    def _finish(self, request: GenerationRequest, prompt: str) -> Any:
        def finish(text: str) -> Answer:
            return finish_answer(
                text, request, generator=self.name, prompt=prompt, threshold=self.grounding_threshold
            )

        return finish

    def generate(self, request: GenerationRequest) -> Answer:
        packed = self.pack(request)
        finish = self._finish(request, packed.text)
        if not packed.evidence:
            return finish("")  # nothing to ground an answer in: abstain without running the model
        import torch

        with torch.inference_mode():
            output = self._model.generate(**self._inputs(packed), **self._generate_kwargs())
        return finish(self._tokenizer.decode(output[0], skip_special_tokens=True))

    def stream(self, request: GenerationRequest) -> AnswerStream:
        packed = self.pack(request)
        finish = self._finish(request, packed.text)
        if not packed.evidence:
            return AnswerStream((), finish)
        return AnswerStream(self._pieces(packed), finish)

    def _pieces(self, packed: PackedPrompt) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(
            self._tokenizer, skip_prompt=True, timeout=STREAM_TIMEOUT_S, skip_special_tokens=True
        )
        failure: list[BaseException] = []
        kwargs = {**self._inputs(packed), **self._generate_kwargs(), "streamer": streamer}

        def work() -> None:
            try:
                with torch.inference_mode():
                    self._model.generate(**kwargs)
            except BaseException as exc:  # re-raised in the reading thread below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=work, name="t5-generate", daemon=True)
        worker.start()
        yield from streamer
        worker.join()
        if failure:
            raise failure[0]
